// KnowledgeBaseService with a cross-encoder reranker (KnowledgeBaseOptions::rerank from
// engine::RerankHook): search retrieves rerank_candidates passages, the reranker orders them and
// the best k come back with their rerank scores. The reranker is the test fixture made from
// ../shared's bert-tiny (random weights, scores checked against numpy in tests/model), so what is
// checked is the selection: the passages returned are the k the reranker scores highest among
// all candidates, in its order, even where retrieval ranked them lower. Skipped when the model is
// absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "engine/embedding_hook.h"
#include "knowledge/knowledge_base.h"
#include "reranker_fixture.h"
#include "run_binary.h"

namespace sinan::knowledge {
namespace {

namespace fs = std::filesystem;

// Every document holds "report", so a lexical search for it retrieves them all.
const std::vector<std::pair<std::string, std::string>> kDocs = {
    {"budget.txt", "The budget report lists the costs of every team for the year."},
    {"weather.txt", "A weather report: rain in the north, sun in the south."},
    {"report.txt", "Report, report, report: this note says report many times over."},
    {"audit.txt", "The audit report found no errors in the accounts."},
    {"school.txt", "Her school report praised her work in mathematics and music."},
    {"incident.txt", "The incident report describes the outage and how it was fixed."},
};

class RerankKnowledgeBaseTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const std::string path = test::reranker_fixture();
        if (path.empty()) return;
        Result<std::unique_ptr<engine::RerankHook>> h = engine::RerankHook::load(path, 2);
        ASSERT_TRUE(h.ok()) << h.message();
        hook_ = std::move(h).value().release();
    }
    static void TearDownTestSuite() {
        delete hook_;
        hook_ = nullptr;
    }
    void SetUp() override {
        if (hook_ == nullptr) GTEST_SKIP() << test::bert_tiny_path() << " is absent; no reranker fixture";
        options_.data_dir = test::make_temp_dir();
        options_.rerank = hook_->function();
    }
    void TearDown() override {
        service_.reset();
        if (!options_.data_dir.empty()) fs::remove_all(options_.data_dir);
    }

    void open() {
        Result<std::unique_ptr<KnowledgeBaseService>> s = KnowledgeBaseService::open(options_);
        ASSERT_TRUE(s.ok()) << s.message();
        service_ = std::move(*s);
        ASSERT_TRUE(service_->create("notes", "").ok());
        for (const auto& [source, text] : kDocs) {
            Result<AddResult> r = service_->add_document("notes", source, text);
            ASSERT_TRUE(r.ok()) << r.message();
            ASSERT_EQ(r->status, store::FileStatus::kAdded) << r->message;
        }
    }

    std::vector<Passage> search(const std::string& q, size_t k, bool rerank = true) {
        Result<std::vector<Passage>> r = service_->search("notes", q, k, {}, RetrievalMode::kAuto, rerank);
        EXPECT_TRUE(r.ok()) << r.message();
        return r.ok() ? *r : std::vector<Passage>{};
    }

    static std::vector<std::string> sources(const std::vector<Passage>& ps) {
        std::vector<std::string> out;
        for (const Passage& p : ps) out.push_back(p.source);
        return out;
    }

    static engine::RerankHook* hook_;
    KnowledgeBaseOptions options_;
    std::unique_ptr<KnowledgeBaseService> service_;
};

engine::RerankHook* RerankKnowledgeBaseTest::hook_ = nullptr;

TEST_F(RerankKnowledgeBaseTest, ReturnsTheRerankersBestCandidatesInItsOrder) {
    open();
    const std::string query = "report";
    // The reranker's own scores for every document, best first: the expected answer.
    std::vector<std::string> texts;
    for (const auto& d : kDocs) texts.push_back(d.second);
    Result<std::vector<float>> scores = hook_->function()(query, texts);
    ASSERT_TRUE(scores.ok()) << scores.message();
    std::vector<size_t> order(kDocs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*scores)[a] > (*scores)[b]; });

    const std::vector<Passage> lexical = search(query, 2, false);
    ASSERT_EQ(lexical.size(), 2u);
    for (const Passage& p : lexical) EXPECT_FALSE(p.reranked);
    const std::vector<Passage> reranked = search(query, 2);
    ASSERT_EQ(reranked.size(), 2u);
    EXPECT_EQ(sources(reranked), (std::vector<std::string>{kDocs[order[0]].first, kDocs[order[1]].first}));
    for (size_t i = 0; i < reranked.size(); ++i) {
        EXPECT_TRUE(reranked[i].reranked);
        EXPECT_FLOAT_EQ(static_cast<float>(reranked[i].rerank_score), (*scores)[order[i]]);
        EXPECT_GT(reranked[i].lexical_rank, 0u);  // retrieval's ranks stay on the passage
    }
    // The fixture is chosen so that the reranker's best two are not retrieval's best two: the
    // reranker reached past the k retrieval would have returned.
    EXPECT_NE(sources(reranked), sources(lexical));
}

TEST_F(RerankKnowledgeBaseTest, CandidatesAreLimitedButNeverFewerThanK) {
    options_.rerank_candidates = 3;
    size_t seen = 0;
    const engine::RerankFunction real = hook_->function();
    options_.rerank = [&](const std::string& q, const std::vector<std::string>& texts) {
        seen = texts.size();
        return real(q, texts);
    };
    open();
    EXPECT_EQ(search("report", 2).size(), 2u);
    EXPECT_EQ(seen, 3u);  // rerank_candidates
    EXPECT_EQ(search("report", 5).size(), 5u);
    EXPECT_EQ(seen, 5u);  // at least k
}

TEST_F(RerankKnowledgeBaseTest, AFailingRerankerFailsTheSearchWithItsReason) {
    options_.rerank = [](const std::string&, const std::vector<std::string>&) -> Result<std::vector<float>> {
        return Status::error("re-ranking with broken: the reranker is down");
    };
    open();
    Result<std::vector<Passage>> r = service_->search("notes", "report", 3);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.message(), "re-ranking with broken: the reranker is down");
    EXPECT_TRUE(service_->search("notes", "report", 3, {}, RetrievalMode::kAuto, false).ok());
}

}  // namespace
}  // namespace sinan::knowledge
