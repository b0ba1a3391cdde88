// `sinan serve` over real HTTP: POST /v1/embeddings with the reference bert model beside a
// generative one in --models-dir — vectors against llama.cpp's, base64, token inputs, usage,
// truncation, and the 400s for unsupported fields and for a model of the wrong kind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "serve_process.h"

namespace sinan::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kBert = fs::path(SINAN_SHARED_DIR) / "models" / "bert-tiny-f32.gguf";
const fs::path kGolden = fs::path(SINAN_SHARED_DIR) / "models" / "golden" / "bert-tiny-f32.embeddings.json";

std::vector<float> decode_base64_floats(const std::string& s) {
    auto value = [](char c) -> uint32_t {
        if (c >= 'A' && c <= 'Z') return static_cast<uint32_t>(c - 'A');
        if (c >= 'a' && c <= 'z') return static_cast<uint32_t>(c - 'a' + 26);
        if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0' + 52);
        return c == '+' ? 62u : 63u;
    };
    std::string bytes;
    for (size_t i = 0; i + 4 <= s.size(); i += 4) {
        const uint32_t b = value(s[i]) << 18 | value(s[i + 1]) << 12 | (s[i + 2] == '=' ? 0 : value(s[i + 2]) << 6) |
                           (s[i + 3] == '=' ? 0 : value(s[i + 3]));
        bytes += static_cast<char>(b >> 16);
        if (s[i + 2] != '=') bytes += static_cast<char>((b >> 8) & 255);
        if (s[i + 3] != '=') bytes += static_cast<char>(b & 255);
    }
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

class ServerEmbeddings : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const std::string r1 = tiny_r1_model();
        if (r1.empty() || !fs::exists(kBert) || !fs::exists(kGolden)) return;
        const fs::path dir = fs::path(temp_dir()) / "embedding-models";
        fs::create_directories(dir);
        std::error_code ec;
        fs::create_symlink(kBert, dir / "bert-tiny.gguf", ec);
        fs::create_symlink(r1, dir / "tiny-r1.gguf", ec);
        server_ = new ServeProcess();
        std::string why;
        if (!server_->start({"--models-dir", dir.string(), "--models-max", "2", "--ctx-size", "256", "--cache", "off",
                             "--api-keys", "off"},
                            &why)) {
            ADD_FAILURE() << why;
            delete server_;
            server_ = nullptr;
        }
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (tiny_r1_model().empty() || !fs::exists(kBert) || !fs::exists(kGolden))
            GTEST_SKIP() << "reference models not found in ../shared/models";
        ASSERT_NE(server_, nullptr);
        client_ = server_->client();
        std::ifstream in(kGolden);
        golden_ = json::parse(in);
    }
    json embed(const json& body, int expect_status = 200) {
        auto r = post_json(*client_, "/v1/embeddings", body);
        EXPECT_TRUE(r) << "connection failed";
        if (!r) return json();
        EXPECT_EQ(r->status, expect_status) << r->body;
        return json::parse(r->body);
    }
    std::vector<std::string> texts() const {
        std::vector<std::string> t;
        for (const auto& item : golden_["items"]) t.push_back(item["text"]);
        return t;
    }

    static ServeProcess* server_;
    std::unique_ptr<httplib::Client> client_;
    json golden_;
};
ServeProcess* ServerEmbeddings::server_ = nullptr;

TEST_F(ServerEmbeddings, VectorsAreLlamaCppsNormalisedWithUsage) {
    const json r = embed({{"model", "bert-tiny"}, {"input", texts()}});
    EXPECT_EQ(r["object"], "list");
    EXPECT_EQ(r["model"], "bert-tiny");
    ASSERT_EQ(r["data"].size(), golden_["items"].size());
    int64_t n_tokens = 0;
    for (size_t i = 0; i < r["data"].size(); ++i) {
        const json& d = r["data"][i];
        EXPECT_EQ(d["object"], "embedding");
        EXPECT_EQ(d["index"], i);
        const std::vector<float> got = d["embedding"];
        const std::vector<float> ref = golden_["items"][i]["embedding"];
        ASSERT_EQ(got.size(), ref.size());
        double norm = 0, diff = 0;
        for (float v : ref) norm += static_cast<double>(v) * v;
        norm = std::sqrt(norm);
        for (size_t c = 0; c < ref.size(); ++c) diff += std::pow(got[c] - ref[c] / norm, 2);
        EXPECT_LE(std::sqrt(diff), 1e-5) << i;  // unit vectors: absolute = relative error
        n_tokens += static_cast<int64_t>(golden_["items"][i]["tokens"].size());
    }
    EXPECT_EQ(r["usage"]["prompt_tokens"], n_tokens);
    EXPECT_EQ(r["usage"]["total_tokens"], n_tokens);
}

TEST_F(ServerEmbeddings, Base64IsTheFloatsLittleEndian) {
    const json f = embed({{"model", "bert-tiny"}, {"input", texts()[0]}});
    const json b = embed({{"model", "bert-tiny"}, {"input", texts()[0]}, {"encoding_format", "base64"}});
    ASSERT_TRUE(b["data"][0]["embedding"].is_string());
    const std::vector<float> decoded = decode_base64_floats(b["data"][0]["embedding"]);
    const std::vector<float> floats = f["data"][0]["embedding"];
    EXPECT_EQ(decoded, floats);
}

TEST_F(ServerEmbeddings, TokenArraysAreTakenAsGiven) {
    const json by_text = embed({{"model", "bert-tiny"}, {"input", texts()[1]}});
    const json by_ids = embed({{"model", "bert-tiny"}, {"input", golden_["items"][1]["tokens"]}});
    EXPECT_EQ(by_ids["data"][0]["embedding"], by_text["data"][0]["embedding"]);
    const json two = embed({{"model", "bert-tiny"},
                            {"input", json::array({golden_["items"][0]["tokens"], golden_["items"][1]["tokens"]})}});
    ASSERT_EQ(two["data"].size(), 2u);
    EXPECT_EQ(two["data"][1]["embedding"], by_text["data"][0]["embedding"]);
}

TEST_F(ServerEmbeddings, LongInputsAre400UnlessTruncated) {
    std::string words;
    for (int i = 0; i < 600; ++i) words += "hello ";
    const json refused = embed({{"model", "bert-tiny"}, {"input", words}}, 400);
    const std::string msg = refused["error"]["message"];
    EXPECT_NE(msg.find("more than the model's context of 512"), std::string::npos) << msg;
    const json cut = embed({{"model", "bert-tiny"}, {"input", words}, {"truncate", true}});
    EXPECT_EQ(cut["usage"]["prompt_tokens"], 512);
}

TEST_F(ServerEmbeddings, UnsupportedFieldsAndBadInputAre400) {
    json e = embed({{"model", "bert-tiny"}, {"input", "x"}, {"dimensions", 32}}, 400);
    EXPECT_EQ(e["error"]["param"], "dimensions");
    e = embed({{"model", "bert-tiny"}, {"input", "x"}, {"encoding_format", "int8"}}, 400);
    EXPECT_EQ(e["error"]["param"], "encoding_format");
    e = embed({{"model", "bert-tiny"}, {"input", json::array()}}, 400);
    EXPECT_EQ(e["error"]["param"], "input");
    e = embed({{"model", "bert-tiny"}, {"input", json::array({"a", ""})}}, 400);
    EXPECT_NE(e["error"]["message"].get<std::string>().find("input 1 is empty"), std::string::npos);
    e = embed({{"model", "bert-tiny"}, {"input", json::array({101, 40000, 102})}}, 400);
    EXPECT_NE(e["error"]["message"].get<std::string>().find("outside the vocabulary"), std::string::npos);
}

TEST_F(ServerEmbeddings, AModelOfTheWrongKindIs400NamingIt) {
    auto chat = post_json(*client_, "/v1/chat/completions",
                          {{"model", "bert-tiny"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 400);
    const json c = json::parse(chat->body);
    EXPECT_EQ(c["error"]["code"], "wrong_model_kind");
    EXPECT_NE(c["error"]["message"].get<std::string>().find("\"bert-tiny\" is an embedding model"), std::string::npos);
    const json e = embed({{"model", "tiny-r1"}, {"input", "hi"}}, 400);
    EXPECT_EQ(e["error"]["code"], "wrong_model_kind");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("\"tiny-r1\" is not an embedding model"),
              std::string::npos);
    // Both kinds stay servable side by side; health and metrics see the embedding model too.
    embed({{"model", "bert-tiny"}, {"input", "still here"}});
    auto gen = post_json(*client_, "/v1/completions", {{"model", "tiny-r1"}, {"prompt", "hi"}, {"max_tokens", 2}});
    ASSERT_TRUE(gen);
    EXPECT_EQ(gen->status, 200) << gen->body;
    auto ready = client_->Get("/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
    EXPECT_NE(ready->body.find("\"embedding\":true"), std::string::npos) << ready->body;
    auto metrics = client_->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
}

}  // namespace
}  // namespace sinan::test
