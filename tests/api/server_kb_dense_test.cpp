// Hybrid search of knowledge bases through the real `sinan serve --embedding-model` (bert-tiny
// from ../shared): documents added over REST get vectors and POST /api/v1/kb/{kb}/search fuses
// BM25 with them; the same data served without the model is searched lexically.
#include <gtest/gtest.h>

#include <filesystem>

#include "serve_process.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kBert = fs::path(SINAN_SHARED_DIR) / "models" / "bert-tiny-f32.gguf";

// `sinan serve` with knowledge bases in `data_dir`, no generative model, and `extra` arguments.
bool start_kb_server(ServeProcess& server, const std::string& data_dir, const std::vector<std::string>& extra,
                     std::string* why) {
    const std::string empty = temp_dir() + "/no-models";
    fs::create_directories(empty);
    std::vector<std::string> args = {"--data-dir", data_dir, "--api-keys", "off", "--models-dir", empty};
    args.insert(args.end(), extra.begin(), extra.end());
    return server.start(args, why);
}

json search(httplib::Client& c, const std::string& query) {
    auto r = post_json(c, "/api/v1/kb/notes/search", {{"query", query}, {"k", 10}});
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false)["data"];
}

TEST(ServerKbDense, EmbeddingModelMakesSearchHybrid) {
    if (!fs::exists(kBert)) GTEST_SKIP() << kBert << " is absent";
    const std::string data_dir = temp_dir() + "/kb-dense-data";
    fs::remove_all(data_dir);
    {
        ServeProcess server;
        std::string why;
        ASSERT_TRUE(start_kb_server(server, data_dir, {"--embedding-model", kBert.string()}, &why)) << why;
        auto c = server.client();
        ASSERT_EQ(post_json(*c, "/api/v1/kb", {{"name", "notes"}})->status, 201);
        for (const auto& [source, text] : std::vector<std::pair<std::string, std::string>>{
                 {"cats.txt", "The cat sat on the warm mat and watched the garden."},
                 {"bread.txt", "Bread is baked in a hot oven for forty minutes."},
                 {"rivers.txt", "Rivers carry water and sand from the mountains to the sea."}}) {
            auto r = post_json(*c, "/api/v1/kb/notes/documents", {{"source", source}, {"text", text}});
            ASSERT_TRUE(r);
            ASSERT_LT(r->status, 300) << r->body;
        }
        const json hits = search(*c, "oven");
        ASSERT_EQ(hits.size(), 3u) << hits;  // the dense side ranks every chunk
        EXPECT_EQ(hits[0]["source"], "bread.txt");
        // Reciprocal-rank fusion: at most 2/(60+1), far below a BM25 score.
        EXPECT_LT(hits[0]["score"].get<double>(), 2.0 / 61 + 1e-9);
        EXPECT_GT(hits[0]["score"].get<double>(), hits[1]["score"].get<double>());
        EXPECT_NE(server.log().find("bert-tiny-random/64"), std::string::npos) << server.log();
    }
    {  // the same knowledge base without the model: BM25 alone finds the one chunk with the word
        ServeProcess server;
        std::string why;
        ASSERT_TRUE(start_kb_server(server, data_dir, {}, &why)) << why;
        auto c = server.client();
        const json hits = search(*c, "oven");
        ASSERT_EQ(hits.size(), 1u) << hits;
        EXPECT_EQ(hits[0]["source"], "bread.txt");
    }
    ServeProcess bad;
    std::string why;
    EXPECT_FALSE(start_kb_server(bad, data_dir, {"--embedding-model", temp_dir() + "/missing.gguf"}, &why));
    EXPECT_NE(why.find("--embedding-model"), std::string::npos) << why;
    fs::remove_all(data_dir);
}

}  // namespace
}  // namespace sinan::test
