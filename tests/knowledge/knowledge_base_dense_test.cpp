// KnowledgeBaseService with an embedding model (KnowledgeBaseOptions::embed from
// engine::EmbeddingHook): vectors stored with the chunks, dense and hybrid search, the knowledge
// base's model recorded and never mixed with another's. The model is ../shared's bert-tiny (real
// vocabulary, random weights), so what is checked is mechanics, not semantic quality: a chunk's own
// text is its nearest vector, both ranks reach the passages, documents without vectors stay
// findable. Skipped when the model is absent.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/embedding_hook.h"
#include "knowledge/knowledge_base.h"
#include "knowledge/vector_index.h"
#include "run_binary.h"
#include "store/store.h"

namespace sinan::knowledge {
namespace {

namespace fs = std::filesystem;
using store::FileStatus;

const fs::path kModel = fs::path(SINAN_SHARED_DIR) / "models" / "bert-tiny-f32.gguf";
// llama.cpp's embeddings of a few texts with this model (CLS pooling, not normalised).
const fs::path kGolden = fs::path(SINAN_SHARED_DIR) / "models" / "golden" / "bert-tiny-f32.embeddings.json";

// Each document one chunk, each with a word no other has.
const std::vector<std::pair<std::string, std::string>> kDocs = {
    {"cats.txt", "The cat sat on the warm mat and watched the garden."},
    {"rockets.txt", "Rockets reach orbit when their engines give enough speed."},
    {"bread.txt", "Bread is baked in a hot oven for forty minutes."},
    {"rivers.txt", "Rivers carry water and sand from the mountains to the sea."},
};

class DenseKnowledgeBaseTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!fs::exists(kModel)) return;
        Result<std::unique_ptr<engine::EmbeddingHook>> h = engine::EmbeddingHook::load(kModel.string(), 2);
        ASSERT_TRUE(h.ok()) << h.message();
        hook_ = std::move(h).value().release();
    }
    static void TearDownTestSuite() {
        delete hook_;
        hook_ = nullptr;
    }
    void SetUp() override {
        if (hook_ == nullptr) GTEST_SKIP() << kModel << " is absent (SINAN_SHARED_DIR/models/bert-tiny-f32.gguf)";
        options_.data_dir = test::make_temp_dir();
    }
    void TearDown() override {
        service_.reset();
        if (!options_.data_dir.empty()) fs::remove_all(options_.data_dir);
    }

    // (Re)opens the service: with the hook's model, with `model_id` given to the hook's function
    // ("" = the hook's own id), or without an embedding model (`embed` false).
    void open(bool embed, const std::string& model_id = "") {
        service_.reset();
        options_.embed = nullptr;
        options_.embedding_model.clear();
        if (embed) {
            options_.embed = hook_->function();
            options_.embedding_model = model_id.empty() ? hook_->model_id() : model_id;
        }
        Result<std::unique_ptr<KnowledgeBaseService>> s = KnowledgeBaseService::open(options_);
        ASSERT_TRUE(s.ok()) << s.message();
        service_ = std::move(*s);
        if (!service_->get("notes").ok()) {
            ASSERT_TRUE(service_->create("notes", "").ok());
        }
    }

    void add(const std::string& source, const std::string& text) {
        Result<AddResult> r = service_->add_document("notes", source, text);
        ASSERT_TRUE(r.ok()) << r.message();
        ASSERT_EQ(r->status, FileStatus::kAdded) << r->message;
    }

    std::vector<Passage> search(const std::string& q, RetrievalMode mode, size_t k = 10) {
        Result<std::vector<Passage>> r = service_->search("notes", q, k, {}, mode);
        EXPECT_TRUE(r.ok()) << r.message();
        return r.ok() ? *r : std::vector<Passage>{};
    }

    std::vector<store::ChunkRow> stored_chunks() {
        Result<std::unique_ptr<store::Store>> st = store::Store::open("", options_.data_dir);
        EXPECT_TRUE(st.ok()) << st.message();
        if (!st.ok()) return {};
        const int64_t kb = (*service_->get("notes")).id;
        Result<std::vector<store::ChunkRow>> chunks = (*st)->list_chunks(kb);
        EXPECT_TRUE(chunks.ok()) << chunks.message();
        return chunks.ok() ? *chunks : std::vector<store::ChunkRow>{};
    }

    // The files in <data-dir>/vectors.
    std::vector<fs::path> vector_files() const {
        std::vector<fs::path> out;
        std::error_code ec;
        for (const fs::directory_entry& e : fs::directory_iterator(fs::path(options_.data_dir) / "vectors", ec))
            out.push_back(e.path());
        return out;
    }

    // The chunk ids whose vectors `file` holds, sorted.
    static std::vector<int64_t> labels_in(const fs::path& file) {
        Result<std::unique_ptr<VectorIndex>> index = VectorIndex::load(file);
        EXPECT_TRUE(index.ok()) << index.message();
        if (!index.ok()) return {};
        std::vector<int64_t> labels = (*index)->labels();
        std::sort(labels.begin(), labels.end());
        return labels;
    }

    std::vector<int64_t> chunk_ids() {
        std::vector<int64_t> ids;
        for (const store::ChunkRow& c : stored_chunks()) ids.push_back(c.id);
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    static engine::EmbeddingHook* hook_;
    KnowledgeBaseOptions options_;
    std::unique_ptr<KnowledgeBaseService> service_;
};

engine::EmbeddingHook* DenseKnowledgeBaseTest::hook_ = nullptr;

TEST_F(DenseKnowledgeBaseTest, ChunksAreStoredWithVectorsOfTheModelsDimension) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_EQ(chunks.size(), kDocs.size());
    EXPECT_EQ(hook_->n_embd(), 64);  // bert.embedding_length of the file
    for (const store::ChunkRow& c : chunks) {
        ASSERT_EQ(static_cast<int64_t>(c.embedding.size()), hook_->n_embd()) << c.text;
        double norm = 0;
        for (float v : c.embedding) norm += static_cast<double>(v) * v;
        EXPECT_NEAR(norm, 1.0, 1e-4) << c.text;  // normalised
    }
    EXPECT_EQ(service_->get("notes")->embedding_model, "bert-tiny-random/64");
}

TEST_F(DenseKnowledgeBaseTest, StoredVectorsAreTheReferenceEmbeddingsNormalised) {
    if (!fs::exists(kGolden)) GTEST_SKIP() << kGolden << " is absent";
    std::ifstream in(kGolden);
    const nlohmann::json golden = nlohmann::json::parse(in);
    const nlohmann::json& item = golden["items"][0];
    const std::string text = item["text"];
    std::vector<double> want = item["embedding"].get<std::vector<double>>();
    double norm = 0;
    for (double v : want) norm += v * v;
    for (double& v : want) v /= std::sqrt(norm);

    open(true);
    add("golden.txt", text);
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_EQ(chunks.size(), 1u);
    ASSERT_EQ(chunks[0].text, text);  // the chunk is the whole text, so its vector is the text's
    ASSERT_EQ(chunks[0].embedding.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(chunks[0].embedding[i], want[i], 1e-4) << "component " << i;
}

TEST_F(DenseKnowledgeBaseTest, EachChunksOwnTextIsItsNearestVector) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    for (const auto& [source, text] : kDocs) {
        const std::vector<Passage> hits = search(text, RetrievalMode::kDense);
        ASSERT_EQ(hits.size(), kDocs.size());
        EXPECT_EQ(hits[0].source, source);
        EXPECT_EQ(hits[0].dense_rank, 1u);
        EXPECT_EQ(hits[0].lexical_rank, 0u);    // dense only
        EXPECT_NEAR(hits[0].score, 1.0, 1e-4);  // cosine of a vector with itself
    }
}

TEST_F(DenseKnowledgeBaseTest, AutoIsHybridAndPassagesCarryBothRanks) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    const std::vector<Passage> hits = search("oven", RetrievalMode::kAuto);
    ASSERT_EQ(hits.size(), kDocs.size());  // the dense side ranks every chunk
    EXPECT_EQ(hits[0].source, "bread.txt");
    EXPECT_EQ(hits[0].lexical_rank, 1u);
    EXPECT_GT(hits[0].dense_rank, 0u);
    for (size_t i = 1; i < hits.size(); ++i) {
        EXPECT_EQ(hits[i].lexical_rank, 0u) << hits[i].source;  // no other chunk has the word
        EXPECT_GT(hits[i].dense_rank, 0u) << hits[i].source;
    }
    // The lexical list alone has the one chunk.
    const std::vector<Passage> lexical = search("oven", RetrievalMode::kLexical);
    ASSERT_EQ(lexical.size(), 1u);
    EXPECT_EQ(lexical[0].dense_rank, 0u);
}

TEST_F(DenseKnowledgeBaseTest, DocumentsAddedBeforeTheModelAreFoundByHybridNotDense) {
    open(false);
    add("cats.txt", kDocs[0].second);
    open(true);
    add("rockets.txt", kDocs[1].second);
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_TRUE(chunks[0].embedding.empty());
    EXPECT_EQ(static_cast<int64_t>(chunks[1].embedding.size()), hook_->n_embd());

    const std::vector<Passage> hybrid = search("garden", RetrievalMode::kHybrid);
    ASSERT_FALSE(hybrid.empty());
    EXPECT_EQ(hybrid[0].source, "cats.txt");
    EXPECT_EQ(hybrid[0].lexical_rank, 1u);
    EXPECT_EQ(hybrid[0].dense_rank, 0u);  // it has no vector

    const std::vector<Passage> dense = search(kDocs[0].second, RetrievalMode::kDense);
    ASSERT_EQ(dense.size(), 1u);
    EXPECT_EQ(dense[0].source, "rockets.txt");
}

TEST_F(DenseKnowledgeBaseTest, WithoutAModelSearchIsLexicalAndDenseFailsSayingWhatToGive) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    open(false);
    const std::vector<Passage> hits = search("oven", RetrievalMode::kAuto);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].dense_rank, 0u);
    for (RetrievalMode mode : {RetrievalMode::kDense, RetrievalMode::kHybrid}) {
        Result<std::vector<Passage>> r = service_->search("notes", "oven", 5, {}, mode);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.message().find("needs an embedding model; give --embedding-model"), std::string::npos)
            << r.message();
    }
}

TEST_F(DenseKnowledgeBaseTest, AnotherModelNeitherAddsVectorsNorSearchesByThem) {
    open(true);
    add("cats.txt", kDocs[0].second);
    open(true, "other-model/64");
    add("bread.txt", kDocs[2].second);
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_FALSE(chunks[0].embedding.empty());
    EXPECT_TRUE(chunks[1].embedding.empty());  // not mixed into bert-tiny's vectors
    EXPECT_EQ(service_->get("notes")->embedding_model, "bert-tiny-random/64");

    const std::vector<Passage> hits = search("oven", RetrievalMode::kAuto);
    ASSERT_EQ(hits.size(), 1u);  // lexical
    EXPECT_EQ(hits[0].dense_rank, 0u);
    Result<std::vector<Passage>> dense = service_->search("notes", "oven", 5, {}, RetrievalMode::kDense);
    ASSERT_FALSE(dense.ok());
    EXPECT_NE(dense.message().find("holds vectors of bert-tiny-random/64, this service embeds with other-model/64"),
              std::string::npos)
        << dense.message();
}

TEST_F(DenseKnowledgeBaseTest, ChunksAreEmbeddedInBatchesAndAFailureFailsTheDocument) {
    std::vector<size_t> batches;
    const engine::EmbedFunction real = hook_->function();
    bool fail = false;
    options_.chunk.max_tokens = 16;
    options_.chunk.overlap_tokens = 0;
    options_.chunk.min_tokens = 1;
    options_.embed = [&](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
        batches.push_back(texts.size());
        if (fail) return Status::error("the embedder is down");
        return real(texts);
    };
    options_.embedding_model = hook_->model_id();
    Result<std::unique_ptr<KnowledgeBaseService>> s = KnowledgeBaseService::open(options_);
    ASSERT_TRUE(s.ok()) << s.message();
    service_ = std::move(*s);
    ASSERT_TRUE(service_->create("notes", "").ok());
    std::string text;
    for (int i = 0; i < 40; ++i)
        text += "Paragraph number " + std::to_string(i) + " talks about its own topic here.\n\n";
    add("long.md", text);
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_GT(chunks.size(), KnowledgeBaseService::kEmbedBatch);
    size_t total = 0;
    for (size_t n : batches) {
        EXPECT_LE(n, KnowledgeBaseService::kEmbedBatch);
        total += n;
    }
    EXPECT_EQ(total, chunks.size());
    for (const store::ChunkRow& c : chunks) EXPECT_EQ(static_cast<int64_t>(c.embedding.size()), hook_->n_embd());

    fail = true;
    Result<AddResult> r = service_->add_document("notes", "other.md", "Some other text to embed.");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->status, FileStatus::kFailed);
    EXPECT_NE(r->message.find("the embedder is down"), std::string::npos) << r->message;
    EXPECT_EQ(stored_chunks().size(), chunks.size());  // nothing of it stored
}

TEST_F(DenseKnowledgeBaseTest, TheVectorIndexIsPersistedAndReadBackInsteadOfRebuilt) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    EXPECT_TRUE(vector_files().empty());  // written by the first search's build
    search("oven", RetrievalMode::kAuto);
    const std::vector<fs::path> files = vector_files();
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(labels_in(files[0]), chunk_ids());

    // Swap two chunks' vectors in the file: a restarted service that reads it back (rather than
    // re-inserting the store's vectors) finds the cats chunk by the rockets text.
    const std::vector<store::ChunkRow> chunks = stored_chunks();
    ASSERT_EQ(chunks.size(), kDocs.size());
    VectorIndex swapped(chunks[0].embedding.size());
    ASSERT_TRUE(swapped.add(chunks[0].id, chunks[1].embedding).is_ok());
    ASSERT_TRUE(swapped.add(chunks[1].id, chunks[0].embedding).is_ok());
    for (size_t i = 2; i < chunks.size(); ++i) ASSERT_TRUE(swapped.add(chunks[i].id, chunks[i].embedding).is_ok());
    ASSERT_TRUE(swapped.save(files[0]).is_ok());
    open(true);
    const std::vector<Passage> hits = search(kDocs[1].second, RetrievalMode::kDense);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].source, kDocs[0].first);
    EXPECT_NEAR(hits[0].score, 1.0, 1e-4);
}

TEST_F(DenseKnowledgeBaseTest, APersistedIndexFollowsAddedAndRemovedDocuments) {
    open(true);
    for (size_t i = 0; i < 3; ++i) add(kDocs[i].first, kDocs[i].second);
    search("oven", RetrievalMode::kAuto);
    open(true);
    ASSERT_TRUE(service_->remove_document("notes", kDocs[0].first).is_ok());
    add(kDocs[3].first, kDocs[3].second);
    const std::vector<Passage> hits = search(kDocs[3].second, RetrievalMode::kDense);
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].source, kDocs[3].first);
    for (const Passage& p : hits) EXPECT_NE(p.source, kDocs[0].first);
    const std::vector<fs::path> files = vector_files();
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(labels_in(files[0]), chunk_ids());  // the removed chunk pruned, the new one inserted
}

TEST_F(DenseKnowledgeBaseTest, AnUnreadableVectorFileIsRebuiltFromTheStore) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    search("oven", RetrievalMode::kAuto);
    const std::vector<fs::path> files = vector_files();
    ASSERT_EQ(files.size(), 1u);
    std::ofstream(files[0], std::ios::trunc) << "not an index";
    open(true);
    for (const auto& [source, text] : kDocs) {
        const std::vector<Passage> hits = search(text, RetrievalMode::kDense);
        ASSERT_FALSE(hits.empty());
        EXPECT_EQ(hits[0].source, source);
    }
    EXPECT_EQ(labels_in(files[0]), chunk_ids());  // written again, whole
}

// Searches that start together after a change: one of them rebuilds the index (its build reads the
// vector file back: one open of it, watched with inotify) and saves it (one rename into place),
// the others wait for it and use it; every one succeeds, nothing is warned, and what is left is
// one whole file.
TEST_F(DenseKnowledgeBaseTest, SearchesAtOnceAfterAChangeShareOneBuildAndLeaveOneWholeVectorFile) {
    open(true);
    for (const auto& [source, text] : kDocs) add(source, text);
    search("oven", RetrievalMode::kAuto);  // the first build: <data-dir>/vectors and its file exist
    std::vector<fs::path> files = vector_files();
    ASSERT_EQ(files.size(), 1u);
    const std::string name = files[0].filename().string();
    constexpr int kThreads = 6;
    for (int round = 0; round < 6; ++round) {
        add("round" + std::to_string(round) + ".txt", "Round " + std::to_string(round) + " brings a new page.");
        const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        ASSERT_GE(watch, 0);
        ASSERT_GE(::inotify_add_watch(watch, files[0].parent_path().c_str(), IN_OPEN | IN_MOVED_TO), 0);
        std::vector<Result<std::vector<Passage>>> results(kThreads, Status::error("not run"));
        std::latch go(kThreads);
        std::vector<std::thread> threads;
        ::testing::internal::CaptureStderr();
        for (int i = 0; i < kThreads; ++i)
            threads.emplace_back([&, i] {
                go.arrive_and_wait();
                results[i] = service_->search("notes", kDocs[i % kDocs.size()].second, 3, {}, RetrievalMode::kDense);
            });
        for (std::thread& t : threads) t.join();
        const std::string warnings = ::testing::internal::GetCapturedStderr();
        int opens = 0, renames = 0;
        alignas(inotify_event) char events[4096];
        for (ssize_t n; (n = ::read(watch, events, sizeof events)) > 0;)
            for (ssize_t at = 0; at < n;) {
                const auto* e = reinterpret_cast<const inotify_event*>(events + at);
                const bool ours = e->len > 0 && name == e->name;
                opens += ours && (e->mask & IN_OPEN) != 0;
                renames += ours && (e->mask & IN_MOVED_TO) != 0;
                at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            }
        ::close(watch);
        EXPECT_EQ(opens, 1) << "round " << round << ": the index built once";
        EXPECT_EQ(renames, 1) << "round " << round << ": and saved once";
        EXPECT_EQ(warnings, "") << "round " << round;
        for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.message();
        files = vector_files();
        ASSERT_EQ(files.size(), 1u) << "round " << round << ": " << files.back();
        EXPECT_EQ(labels_in(files[0]), chunk_ids()) << "round " << round;
    }
}

TEST_F(DenseKnowledgeBaseTest, DeletingTheKnowledgeBaseDeletesItsVectorFile) {
    open(true);
    add(kDocs[0].first, kDocs[0].second);
    search("cat", RetrievalMode::kAuto);
    ASSERT_EQ(vector_files().size(), 1u);
    ASSERT_TRUE(service_->remove("notes").is_ok());
    EXPECT_TRUE(vector_files().empty());
}

// A knowledge base deleted while a search rebuilds its index (the search read it before the
// delete): the delete waits for that build, so the vector file the build saves goes with the
// rest, and nothing of the knowledge base is left in <data-dir>/vectors.
TEST_F(DenseKnowledgeBaseTest, DeletingTheKnowledgeBaseDuringAnIndexBuildLeavesNoVectorFile) {
    options_.chunk.max_tokens = 16;  // many chunks: the build below inserts each into the graph
    options_.chunk.overlap_tokens = 0;
    options_.chunk.min_tokens = 4;
    open(true);
    add(kDocs[0].first, kDocs[0].second);
    search("cat", RetrievalMode::kAuto);
    std::vector<fs::path> files = vector_files();
    ASSERT_EQ(files.size(), 1u);
    const std::string name = files[0].filename().string();
    std::string pages;
    for (int i = 0; i < 600; ++i)
        pages += "Page " + std::to_string(i) + " describes item " + std::to_string(i) + " in a few words.\n\n";
    add("pages.txt", pages);
    ASSERT_GE(stored_chunks().size(), 300u);

    // The build reads the old file back first (an open of it), then inserts the new chunks.
    const int watch = ::inotify_init1(IN_CLOEXEC);
    ASSERT_GE(watch, 0);
    ASSERT_GE(::inotify_add_watch(watch, files[0].parent_path().c_str(), IN_OPEN), 0);
    Result<std::vector<Passage>> found = Status::error("not run");
    std::thread searcher([&] { found = service_->search("notes", "item 7", 3, {}, RetrievalMode::kDense); });
    bool building = false;
    alignas(inotify_event) char events[4096];
    while (!building) {
        pollfd p{watch, POLLIN, 0};
        if (::poll(&p, 1, 20000) != 1) break;
        const ssize_t n = ::read(watch, events, sizeof events);
        for (ssize_t at = 0; at < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(events + at);
            building = building || (e->len > 0 && name == e->name);
            at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
    }
    ::close(watch);
    EXPECT_TRUE(building) << "the search did not read the vector file back within 20 s";
    EXPECT_TRUE(service_->remove("notes").is_ok());
    searcher.join();
    EXPECT_TRUE(found.ok()) << "a build under way finishes: " << found.message();
    files = vector_files();
    EXPECT_TRUE(files.empty()) << files.size() << " file(s) left, " << files[0];
}

}  // namespace
}  // namespace sinan::knowledge
