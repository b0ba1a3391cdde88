// Retriever: lexical scores equal the BM25 index's own, dense results equal an exact cosine scan,
// hybrid equals RRF of the two lists, filters apply in every mode, removal and re-adding, vector
// persistence across a reopen, and concurrent searches beside adds.
#include "knowledge/retriever.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "knowledge/fusion.h"

namespace sinan::knowledge {
namespace {

constexpr size_t kDim = 16;

std::vector<float> random_vector(std::mt19937& rng) {
    std::normal_distribution<float> normal;
    std::vector<float> v(kDim);
    for (float& x : v) x = normal(rng);
    return v;
}

// A small corpus: chunk ids 1000 + i, a sentence about fruit or tools, metadata lang en/zh by parity.
struct Corpus {
    std::vector<int64_t> ids;
    std::vector<std::string> texts;
    std::vector<std::vector<float>> vectors;
    std::vector<Metadata> metas;
};

Corpus make_corpus(size_t n) {
    static const char* kWords[] = {"apple", "banana", "cherry", "hammer", "wrench", "drill", "orchard", "garage"};
    std::mt19937 rng(11);
    Corpus c;
    for (size_t i = 0; i < n; ++i) {
        std::string text;
        for (int w = 0; w < 6; ++w) text += std::string(kWords[rng() % 8]) + " ";
        c.ids.push_back(int64_t(1000 + i));
        c.texts.push_back(text);
        c.vectors.push_back(random_vector(rng));
        c.metas.push_back({{"lang", i % 2 == 0 ? "en" : "zh"}, {"doc", std::to_string(i / 10)}});
    }
    return c;
}

void add_all(Retriever& r, const Corpus& c, bool with_vectors = true) {
    for (size_t i = 0; i < c.ids.size(); ++i) {
        const std::span<const float> v = with_vectors ? std::span<const float>(c.vectors[i]) : std::span<const float>();
        ASSERT_TRUE(r.add(c.ids[i], c.texts[i], v, c.metas[i]).is_ok());
    }
}

RetrievalQuery query(RetrievalMode mode, std::string text, std::vector<float> embedding, size_t k = 10,
                     MetadataFilter filter = {}) {
    RetrievalQuery q;
    q.mode = mode;
    q.text = std::move(text);
    q.embedding = std::move(embedding);
    q.k = k;
    q.filter = std::move(filter);
    return q;
}

std::vector<RetrievedChunk> search(const Retriever& r, const RetrievalQuery& q) {
    Result<std::vector<RetrievedChunk>> got = r.search(q);
    EXPECT_TRUE(got.ok()) << got.message();
    return got.ok() ? *got : std::vector<RetrievedChunk>{};
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

TEST(Retriever, LexicalScoresAreTheBm25IndexScoresKeyedByChunkId) {
    const Corpus c = make_corpus(200);
    Retriever r;
    add_all(r, c, false);
    EXPECT_EQ(r.size(), 200u);
    EXPECT_EQ(r.n_vectors(), 0u);
    Analyzer analyzer;
    Bm25Index reference;
    for (const std::string& t : c.texts) reference.add_document(analyzer.analyze(t));
    const std::string text = "Hammers and apples";
    const std::vector<ScoredDoc> want = reference.search(analyzer.analyze(text), 10);
    const std::vector<RetrievedChunk> got = search(r, query(RetrievalMode::kLexical, text, {}));
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].chunk_id, c.ids[want[i].doc]);
        EXPECT_DOUBLE_EQ(got[i].score, want[i].score);
        EXPECT_EQ(got[i].lexical_rank, i + 1);
        EXPECT_EQ(got[i].dense_rank, 0u);
    }
}

TEST(Retriever, DenseResultsAreTheExactCosineTopK) {
    const Corpus c = make_corpus(300);
    Retriever r;
    add_all(r, c);
    std::mt19937 rng(12);
    const std::vector<float> q = random_vector(rng);
    std::vector<std::pair<double, int64_t>> want;
    for (size_t i = 0; i < c.ids.size(); ++i) want.push_back({-cosine(q, c.vectors[i]), c.ids[i]});
    std::sort(want.begin(), want.end());
    const std::vector<RetrievedChunk> got = search(r, query(RetrievalMode::kDense, "", q, 8));
    ASSERT_EQ(got.size(), 8u);
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].chunk_id, want[i].second) << "rank " << i;
        EXPECT_NEAR(got[i].score, -want[i].first, 1e-5);
        EXPECT_EQ(got[i].dense_rank, i + 1);
    }
}

TEST(Retriever, HybridIsReciprocalRankFusionOfTheLexicalAndDenseLists) {
    const Corpus c = make_corpus(300);
    Retriever r;
    add_all(r, c);
    std::mt19937 rng(13);
    const std::vector<float> q = random_vector(rng);
    const std::string text = "drill orchard";
    const auto lexical = search(r, query(RetrievalMode::kLexical, text, {}, 50));
    const auto dense = search(r, query(RetrievalMode::kDense, "", q, 50));
    std::vector<std::vector<int64_t>> lists(2);
    for (const auto& x : lexical) lists[0].push_back(x.chunk_id);
    for (const auto& x : dense) lists[1].push_back(x.chunk_id);
    const std::vector<FusedId> want = fuse_reciprocal_rank(lists, 10);
    RetrievalQuery hybrid = query(RetrievalMode::kHybrid, text, q);
    hybrid.n_candidates = 50;
    const auto got = search(r, hybrid);
    ASSERT_EQ(got.size(), want.size());
    bool some_in_both = false;
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].chunk_id, want[i].id) << "rank " << i;
        double expect_score = 0;
        if (got[i].lexical_rank) expect_score += 1.0 / (60 + got[i].lexical_rank);
        if (got[i].dense_rank) expect_score += 1.0 / (60 + got[i].dense_rank);
        EXPECT_DOUBLE_EQ(got[i].score, expect_score);
        if (got[i].lexical_rank) {
            EXPECT_DOUBLE_EQ(got[i].lexical_score, lexical[got[i].lexical_rank - 1].score);
        }
        if (got[i].dense_rank) {
            EXPECT_DOUBLE_EQ(got[i].dense_score, dense[got[i].dense_rank - 1].score);
        }
        some_in_both |= got[i].lexical_rank && got[i].dense_rank;
    }
    EXPECT_TRUE(some_in_both) << "the case should exercise fusion of an id found by both";
    // Auto picks hybrid when the query has an embedding, lexical when it has none.
    RetrievalQuery auto_query = hybrid;
    auto_query.mode = RetrievalMode::kAuto;
    const auto auto_hybrid = search(r, auto_query);
    ASSERT_EQ(auto_hybrid.size(), got.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(auto_hybrid[i].chunk_id, got[i].chunk_id);
    const auto auto_lexical = search(r, query(RetrievalMode::kAuto, text, {}));
    ASSERT_FALSE(auto_lexical.empty());
    EXPECT_EQ(auto_lexical[0].chunk_id, lexical[0].chunk_id);
    EXPECT_EQ(auto_lexical[0].dense_rank, 0u);
}

TEST(Retriever, FiltersApplyInEveryModeAndStillReturnKMatches) {
    const Corpus c = make_corpus(400);
    Retriever r;
    add_all(r, c);
    std::mt19937 rng(14);
    const std::vector<float> q = random_vector(rng);
    MetadataFilter zh, one_doc;
    zh.equals = {{"lang", "zh"}};
    one_doc.equals = {{"lang", "zh"}, {"doc", "7"}};  // chunks 71, 73, ..., 79: five
    for (RetrievalMode mode : {RetrievalMode::kLexical, RetrievalMode::kDense, RetrievalMode::kHybrid}) {
        const auto got = search(r, query(mode, "apple hammer", q, 20, zh));
        ASSERT_EQ(got.size(), 20u) << retrieval_mode_name(mode);
        for (const auto& x : got) EXPECT_EQ((x.chunk_id - 1000) % 2, 1) << retrieval_mode_name(mode);
        const auto narrow =
            search(r, query(mode, "apple banana cherry hammer wrench drill orchard garage", q, 20, one_doc));
        EXPECT_EQ(narrow.size(), 5u) << retrieval_mode_name(mode);
        for (const auto& x : narrow) EXPECT_EQ((x.chunk_id - 1000) / 10, 7);
    }
}

TEST(Retriever, RemovedAndReplacedChunksLeaveBothIndexes) {
    Retriever r;
    std::mt19937 rng(15);
    const auto v1 = random_vector(rng), v2 = random_vector(rng);
    ASSERT_TRUE(r.add(1, "the quick brown fox", v1, {}).is_ok());
    ASSERT_TRUE(r.add(2, "a lazy dog sleeps", v2, {}).is_ok());
    r.remove(1);
    r.remove(99);  // unknown: nothing happens
    EXPECT_FALSE(r.contains(1));
    EXPECT_FALSE(r.has_vector(1));
    EXPECT_TRUE(search(r, query(RetrievalMode::kLexical, "fox", {})).empty());
    const auto dense = search(r, query(RetrievalMode::kDense, "", v1));
    ASSERT_EQ(dense.size(), 1u);
    EXPECT_EQ(dense[0].chunk_id, 2);
    // Re-adding an id replaces its text; an empty embedding keeps the vector.
    ASSERT_TRUE(r.add(2, "a fox now", {}, {}).is_ok());
    EXPECT_TRUE(search(r, query(RetrievalMode::kLexical, "dog", {})).empty());
    ASSERT_EQ(search(r, query(RetrievalMode::kLexical, "fox", {})).size(), 1u);
    EXPECT_TRUE(r.has_vector(2));
    EXPECT_EQ(r.size(), 1u);
}

TEST(Retriever, ModesNeedingAnEmbeddingAndWrongDimensionsFailWithAMessage) {
    Retriever r;
    std::mt19937 rng(16);
    ASSERT_TRUE(r.add(1, "text", random_vector(rng), {}).is_ok());
    EXPECT_EQ(r.dim(), kDim);
    for (RetrievalMode mode : {RetrievalMode::kDense, RetrievalMode::kHybrid}) {
        Result<std::vector<RetrievedChunk>> got = r.search(query(mode, "text", {}));
        ASSERT_FALSE(got.ok());
        EXPECT_NE(got.message().find("query embedding"), std::string::npos) << got.message();
    }
    Result<std::vector<RetrievedChunk>> wrong = r.search(query(RetrievalMode::kAuto, "", std::vector<float>(3, 1.0f)));
    ASSERT_FALSE(wrong.ok());
    EXPECT_NE(wrong.message().find("3 dimensions"), std::string::npos) << wrong.message();
    Status add_wrong = r.add(2, "other", std::vector<float>(5, 1.0f), {});
    ASSERT_FALSE(add_wrong.is_ok());
    EXPECT_NE(add_wrong.message().find("chunk 2"), std::string::npos) << add_wrong.message();
    EXPECT_FALSE(r.contains(2)) << "a failed add changes nothing";
    // A rejected first vector does not fix the dimension.
    Retriever fresh;
    EXPECT_FALSE(fresh.add(1, "text", std::vector<float>(3, 0.0f), {}).is_ok());
    EXPECT_EQ(fresh.dim(), 0u);
    EXPECT_TRUE(fresh.add(1, "text", std::vector<float>(5, 1.0f), {}).is_ok());
    EXPECT_EQ(fresh.dim(), 5u);
    EXPECT_FALSE(parse_retrieval_mode("semantic").ok());
    EXPECT_EQ(*parse_retrieval_mode("hybrid"), RetrievalMode::kHybrid);
}

TEST(Retriever, VectorsPersistAcrossAReopenAndStaleOnesStayHidden) {
    const Corpus c = make_corpus(100);
    const auto dir = std::filesystem::temp_directory_path() / "sinan-retriever-test";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto file = dir / "vectors.hnsw";
    std::mt19937 rng(17);
    const std::vector<float> q = random_vector(rng);
    std::vector<RetrievedChunk> before;
    {
        Retriever r;
        add_all(r, c);
        before = search(r, query(RetrievalMode::kDense, "", q, 5));
        ASSERT_TRUE(r.save_vectors(file).is_ok());
    }
    Retriever reopened;
    ASSERT_TRUE(reopened.load_vectors(file).is_ok());
    EXPECT_EQ(reopened.n_vectors(), 100u);
    // The store no longer has the best chunk: it is not add()ed again, and must not come back.
    for (size_t i = 0; i < c.ids.size(); ++i) {
        if (c.ids[i] == before[0].chunk_id) continue;
        ASSERT_TRUE(reopened.has_vector(c.ids[i]));
        ASSERT_TRUE(reopened.add(c.ids[i], c.texts[i], {}, c.metas[i]).is_ok());
    }
    const auto after = search(reopened, query(RetrievalMode::kDense, "", q, 4));
    ASSERT_EQ(after.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(after[i].chunk_id, before[i + 1].chunk_id);
        EXPECT_FLOAT_EQ(after[i].score, before[i + 1].score);
    }
    // No vectors: saving removes the file; loading a missing file is an error naming it.
    Retriever lexical_only;
    ASSERT_TRUE(lexical_only.save_vectors(file).is_ok());
    EXPECT_FALSE(std::filesystem::exists(file));
    Status missing = lexical_only.load_vectors(file);
    ASSERT_FALSE(missing.is_ok());
    EXPECT_NE(missing.message().find("vectors.hnsw"), std::string::npos) << missing.message();
    std::filesystem::remove_all(dir);
}

TEST(Retriever, SearchesRunConcurrentlyWithAddsAndRemoves) {
    const Corpus c = make_corpus(600);
    Retriever r;
    for (size_t i = 0; i < 300; ++i) ASSERT_TRUE(r.add(c.ids[i], c.texts[i], c.vectors[i], c.metas[i]).is_ok());
    std::atomic<bool> done{false};
    std::atomic<size_t> n_searches{0}, n_bad{0};
    auto searcher = [&](uint32_t seed) {
        std::mt19937 rng(seed);
        while (!done.load()) {
            Result<std::vector<RetrievedChunk>> got =
                r.search(query(RetrievalMode::kAuto, "apple drill", random_vector(rng)));
            if (!got.ok() || got->size() != 10) ++n_bad;
            ++n_searches;
        }
    };
    std::thread a(searcher, 1), b(searcher, 2);
    for (size_t i = 300; i < 600; ++i) {
        ASSERT_TRUE(r.add(c.ids[i], c.texts[i], c.vectors[i], c.metas[i]).is_ok());
        r.remove(c.ids[i - 300]);
    }
    done = true;
    a.join();
    b.join();
    EXPECT_GT(n_searches.load(), 0u);
    EXPECT_EQ(n_bad.load(), 0u);
    EXPECT_EQ(r.size(), 300u);
}

}  // namespace
}  // namespace sinan::knowledge
