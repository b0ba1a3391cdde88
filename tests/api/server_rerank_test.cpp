// `sinan serve` over real HTTP: POST /v1/rerank (and its aliases) with the tiny reranker fixture
// given by --reranker-model beside a generative -m model and an embedding model in --models-dir —
// scores equal to engine::Reranker's (itself checked against numpy in tests/model), sorted best
// first, top_n, return_documents, {"text"} documents, usage, truncation, and the 400s.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/reranker.h"
#include "reranker_fixture.h"
#include "serve_process.h"

namespace sinan::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::vector<std::string> kDocs = {
    "the weather in the mountains is cold in winter", "to reset your password open the account settings page",
    "passwords must have twelve characters", "a recipe for bread with flour water and salt"};
const std::string kQuery = "how do I reset my password";

class ServerRerank : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const std::string r1 = tiny_r1_model();
        if (r1.empty() || reranker_fixture().empty()) return;
        const fs::path dir = fs::path(temp_dir()) / "rerank-models";
        fs::create_directories(dir);
        std::error_code ec;
        fs::create_symlink(bert_tiny_path(), dir / "bert-tiny.gguf", ec);
        server_ = new ServeProcess();
        std::string why;
        if (!server_->start({"-m", r1, "--reranker-model", reranker_fixture(), "--models-dir", dir.string(),
                             "--ctx-size", "256", "--cache", "off", "--api-keys", "off"},
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
        if (tiny_r1_model().empty() || reranker_fixture().empty())
            GTEST_SKIP() << "reference models not found in ../shared/models";
        ASSERT_NE(server_, nullptr);
        client_ = server_->client();
    }
    json rerank(const json& body, int expect_status = 200, const std::string& path = "/v1/rerank") {
        auto r = post_json(*client_, path, body);
        EXPECT_TRUE(r) << "connection failed";
        if (!r) return json();
        EXPECT_EQ(r->status, expect_status) << r->body;
        return json::parse(r->body);
    }
    // The scores engine::Reranker gives in this process, in document order.
    static std::vector<float> expected_scores(const std::string& query, const std::vector<std::string>& docs) {
        Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(reranker_fixture());
        EXPECT_TRUE(m.ok()) << m.message();
        Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
        engine::Reranker reranker(**m, std::move(tok).value());
        Result<engine::RerankScores> r = reranker.rerank(query, docs);
        EXPECT_TRUE(r.ok()) << r.message();
        return r->scores;
    }

    static ServeProcess* server_;
    std::unique_ptr<httplib::Client> client_;
};
ServeProcess* ServerRerank::server_ = nullptr;

TEST_F(ServerRerank, ResultsAreEveryDocumentBestFirstWithTheRerankersScores) {
    const json out = rerank({{"query", kQuery}, {"documents", kDocs}});
    EXPECT_EQ(out["object"], "list");
    EXPECT_EQ(out["model"], fs::path(reranker_fixture()).stem().string());  // --reranker-model is the default
    const std::vector<float> want = expected_scores(kQuery, kDocs);
    ASSERT_EQ(out["results"].size(), kDocs.size());
    std::vector<bool> seen(kDocs.size());
    double previous = 1e30;
    for (const json& r : out["results"]) {
        const size_t i = r["index"];
        ASSERT_LT(i, kDocs.size());
        seen[i] = true;
        EXPECT_FLOAT_EQ(r["relevance_score"].get<float>(), want[i]) << "document " << i;
        EXPECT_LE(r["relevance_score"].get<double>(), previous);
        previous = r["relevance_score"];
        EXPECT_FALSE(r.contains("document"));
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), static_cast<long>(kDocs.size()));
    const int64_t max_score = std::max_element(want.begin(), want.end()) - want.begin();
    EXPECT_EQ(out["results"][0]["index"], max_score);
    EXPECT_GT(out["usage"]["prompt_tokens"].get<int64_t>(), 0);
    EXPECT_EQ(out["usage"]["total_tokens"], out["usage"]["prompt_tokens"]);
}

TEST_F(ServerRerank, TopNReturnDocumentsTextObjectsAndAliases) {
    json docs = json::array();
    for (const std::string& d : kDocs) docs.push_back({{"text", d}});
    const json full = rerank({{"query", kQuery}, {"documents", kDocs}});
    for (const char* path : {"/v1/rerank", "/rerank", "/v1/reranking"}) {
        const json out = rerank({{"model", fs::path(reranker_fixture()).stem().string()},
                                 {"query", kQuery},
                                 {"documents", docs},
                                 {"top_n", 2},
                                 {"return_documents", true}},
                                200, path);
        ASSERT_EQ(out["results"].size(), 2u) << path;
        for (size_t k = 0; k < 2; ++k) {
            const json& r = out["results"][k];
            EXPECT_EQ(r["index"], full["results"][k]["index"]) << path;
            EXPECT_EQ(r["relevance_score"], full["results"][k]["relevance_score"]) << path;
            EXPECT_EQ(r["document"]["text"], kDocs[r["index"].get<size_t>()]) << path;
        }
    }
    // top_n past the end is every document.
    EXPECT_EQ(rerank({{"query", kQuery}, {"documents", kDocs}, {"top_n", 99}})["results"].size(), kDocs.size());
}

TEST_F(ServerRerank, LongDocumentsAre400UnlessTruncated) {
    std::string long_doc;
    for (int i = 0; i < 600; ++i) long_doc += "word ";
    const json docs = {"short", long_doc};
    json e = rerank({{"query", kQuery}, {"documents", docs}}, 400);
    EXPECT_NE(e["error"]["message"].get<std::string>().find("document 1: with the query it has"), std::string::npos)
        << e;
    EXPECT_EQ(e["error"]["param"], "documents");
    const json out = rerank({{"query", kQuery}, {"documents", docs}, {"truncate", true}});
    EXPECT_EQ(out["results"].size(), 2u);
}

TEST_F(ServerRerank, BadRequestsAre400sNamingTheField) {
    struct Case {
        json body;
        std::string param, message;
    };
    const std::vector<Case> cases = {
        {{{"documents", kDocs}}, "query", "query is missing"},
        {{{"query", 3}, {"documents", kDocs}}, "query", "query must be a string"},
        {{{"query", kQuery}}, "documents", "documents is missing"},
        {{{"query", kQuery}, {"documents", json::array()}}, "documents", "documents is empty"},
        {{{"query", kQuery}, {"documents", "one string"}}, "documents", "documents must be an array"},
        {{{"query", kQuery}, {"documents", {"a", 7}}}, "documents", "document 1 must be a string"},
        {{{"query", kQuery}, {"documents", {{{"txt", "a"}}}}}, "documents", "document 0 has no \"text\""},
        {{{"query", kQuery}, {"documents", kDocs}, {"top_n", 0}}, "top_n", "top_n must be a positive integer"},
        {{{"query", kQuery}, {"documents", kDocs}, {"return_documents", "yes"}}, "return_documents", "true or false"},
        {{{"model", "bert-tiny"}, {"query", kQuery}, {"documents", kDocs}},
         "model",
         "model \"bert-tiny\" is not a reranker"},
        {{{"model", fs::path(tiny_r1_model()).stem().string()}, {"query", kQuery}, {"documents", kDocs}},
         "model",
         "is not a reranker"},
    };
    for (const Case& c : cases) {
        const json e = rerank(c.body, 400);
        EXPECT_EQ(e["error"]["param"], c.param) << c.body;
        EXPECT_NE(e["error"]["message"].get<std::string>().find(c.message), std::string::npos) << e;
    }
    auto r = client_->Post("/v1/rerank", "{not json", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
}

TEST_F(ServerRerank, OtherRoutesRefuseTheReranker) {
    const std::string id = fs::path(reranker_fixture()).stem().string();
    auto r = post_json(*client_, "/v1/embeddings", {{"model", id}, {"input", "text"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("is a reranker: it serves POST /v1/rerank, not embeddings"), std::string::npos) << r->body;
    r = post_json(*client_, "/v1/chat/completions",
                  {{"model", id}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("is a reranker: it serves POST /v1/rerank, not text generation"), std::string::npos)
        << r->body;
    // The reranker is offered like any model, beside the -m and --models-dir ones.
    auto models = client_->Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_NE(models->body.find("\"id\":\"" + id + "\""), std::string::npos) << models->body;
    // Both stay loaded: --reranker-model has its own place beside -m.
    auto ready = client_->Get("/ready");
    ASSERT_TRUE(ready);
    EXPECT_NE(ready->body.find("\"reranker\":true"), std::string::npos) << ready->body;
}

TEST(ServeRerankerFlag, ANonRerankerIsRefusedAtStart) {
    if (reranker_fixture().empty()) GTEST_SKIP() << "reference model not found: " << bert_tiny_path();
    ServeProcess server;
    std::string why;
    EXPECT_FALSE(server.start({"--reranker-model", bert_tiny_path(), "--api-keys", "off", "--knowledge", "off"}, &why));
    EXPECT_NE(why.find("--reranker-model: " + bert_tiny_path() + " is not a cross-encoder reranker"), std::string::npos)
        << why;
}

}  // namespace
}  // namespace sinan::test
