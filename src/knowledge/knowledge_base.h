// KnowledgeBaseService: knowledge bases as a service, what the CLI (`sinan kb ...`) and the REST
// layer call. Creates, lists and deletes knowledge bases; adds, updates and deletes documents;
// ingests files in background jobs; searches.
//
// Documents. A document is keyed by its source name within its knowledge base. Adding it reads
// the bytes, hashes them (SHA-256), extracts (extract.h) and chunks (chunker.h) them and writes
// the document row and all its chunks in one store transaction (store/store.h):
//   - new source                          -> kAdded, version 1
//   - same source, same hash, ready       -> kUnchanged, nothing written
//   - same source, other content          -> kUpdated, version + 1, chunks replaced
//   - extraction fails / yields no text   -> kFailed with the reason; a new source is recorded as a
//                                            failed document, an existing ready one keeps its
//                                            previous version and chunks
// The decision is made on the row as read and written only over that row (Store::put_document's
// `read`); when another writer (a thread, a replica) changed it in between, the document is read
// and decided again: adds of one source at once all succeed, each content a version of its own.
//
// Jobs. Ingesting files is a job: begin_upload() streams each file into
// <data-dir>/uploads/<token>/, submit() commits the job row — from then on the job is
// acknowledged and survives kill -9 — and a worker thread ingests the files one by one, recording
// each file's outcome (progress = done/total, readable by job()/jobs() while it runs). A file that
// fails is recorded with its reason and the job goes on. The upload directory is removed when the
// job ends, or when the worker comes to a queued job deleted with its knowledge base. A job's
// files are locked (flock on uploads/<token>/.lock) by the process that works on them; on open(),
// jobs left queued or running whose lock is free (the process died) are resumed when
// `resume_jobs`, else reported as interrupted by jobs(). Jobs of another host (a shared
// PostgreSQL store) are left to that host.
//
// Search. Each knowledge base has one Retriever (retriever.h) built from the store's chunks on the
// first search and rebuilt on the first search after its content changed — by this process or by
// another replica sharing the store (Store::content_stamp is checked before each search).
// Passages carry the chunk's source document name and location. The dense side (the HNSW graph,
// costly to build) persists in <data-dir>/vectors/kb-<id>-<key>.hnsw, the key naming the store
// and the embedding model: a build reads it back and inserts only the vectors of chunks that are
// new since (a file more than half stale, or unreadable, is rebuilt from the vectors in the
// store, which stay the source of truth), then writes it again when anything changed. Deleting
// the knowledge base deletes its files. One build at a time per knowledge base: searches that
// find it stale together wait for one build and share it.
//
// Re-ranking. With KnowledgeBaseOptions::rerank set (a cross-encoder reranker), search() takes
// the best rerank_candidates passages of retrieval, has the reranker score each against the
// query, and returns the best k in that order. A reranker failure fails the search.
//
// Dense and hybrid search. With KnowledgeBaseOptions::embed set (an embedding model, see
// engine/embedding_hook.h), adding a document also embeds its chunks (kEmbedBatch texts per call)
// and stores the vectors with them (ChunkRow::embedding); search() embeds the query and, in mode
// kAuto, fuses BM25 and vector search by reciprocal rank (hybrid). A knowledge base records the
// model of its first embedded document (KnowledgeBaseRow::embedding_model, options.embedding_model)
// and is never mixed with another model's vectors:
//   - a service with another model adds documents to it without vectors (a warning in the log),
//     and searches it lexically in mode kAuto (a warning, once per knowledge base); asking it for
//     kDense or kHybrid fails, naming both models;
//   - a service without an embedding model searches every knowledge base lexically in kAuto;
//     kDense and kHybrid fail saying to give --embedding-model.
// Documents added before an embedding model was configured have no vectors: hybrid search still
// finds them through its lexical side (dense search does not); add them again with the model to
// give them vectors (unchanged bytes are skipped, so remove them first). When embedding fails,
// the document fails like an extraction failure (kFailed with the reason).
//
// Failures return Status / Result with one line that names the knowledge base, document or file
// and says what to do. Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "knowledge/chunker.h"
#include "knowledge/document.h"
#include "knowledge/extract.h"
#include "knowledge/retriever.h"
#include "store/store.h"

namespace sinan::knowledge {

struct KnowledgeBaseOptions {
    std::string data_dir;    // must exist: holds knowledge.db (SQLite), uploads/ and vectors/
    std::string store_spec;  // "" = SQLite in data_dir, or postgres://user@host:port/db
    ExtractOptions extract;
    ChunkOptions chunk;
    RetrieverOptions retrieval;
    bool resume_jobs = true;  // start the worker on jobs a dead process left unfinished
    // Dense retrieval (optional): texts -> one vector each ([n_texts][dim]), called from the
    // ingestion worker and from search() on any thread; must outlive the service. Empty = lexical.
    std::function<Result<std::vector<std::vector<float>>>(const std::vector<std::string>&)> embed;
    std::string embedding_model;  // the id of the model behind `embed` (required with it)
    // Re-ranking (optional): (query, passage texts) -> one relevance score per text, higher is
    // more relevant (a cross-encoder reranker, see engine/rerank_hook.h). Called from search()
    // on any thread; must outlive the service. Empty = passages stay in retrieval order.
    std::function<Result<std::vector<float>>(const std::string&, const std::vector<std::string>&)> rerank;
    size_t rerank_candidates = 50;  // passages retrieved for the reranker to order (at least k)
};

// What adding one document did.
struct AddResult {
    store::FileStatus status = store::FileStatus::kFailed;  // kAdded, kUpdated, kUnchanged or kFailed
    int64_t document_id = 0;                                // 0 when nothing was stored
    int version = 0;
    int n_chunks = 0;
    std::string message;  // the failure reason (kFailed)
};

class KnowledgeBaseService;

// Files being streamed into a job's upload directory, before submit(). Move-only; abandoning an
// Upload (destroying it without submit) removes its files.
class Upload {
  public:
    Upload(Upload&&) noexcept;
    Upload& operator=(Upload&&) noexcept;
    ~Upload();

    // Streams one file: begin_file, any number of write calls, end_file (which syncs it to disk).
    // `source` is the document's name in the knowledge base ("guide/install.md").
    Status begin_file(const std::string& source);
    Status write(std::string_view bytes);
    Status end_file();
    // The three above for a file on disk, copied in 1 MiB pieces.
    Status add_path(const std::string& source, const std::string& path);

    size_t n_files() const { return files_.size(); }

  private:
    friend class KnowledgeBaseService;
    Upload() = default;
    void discard();

    int64_t kb_id_ = 0;
    std::string kb_name_;
    std::string data_dir_, token_;  // files in <data_dir>/uploads/<token>/
    int lock_fd_ = -1;
    int file_fd_ = -1;
    std::vector<store::JobFile> files_;
};

class KnowledgeBaseService {
  public:
    // Opens the store (creating it when new); with options.resume_jobs, resumes unfinished jobs
    // of dead processes in the background. Errors name the store and say what to check.
    static Result<std::unique_ptr<KnowledgeBaseService>> open(const KnowledgeBaseOptions& options);
    // Stops the worker after the file it is on; an unfinished job stays queued/running in the
    // store and is resumed by the next open().
    ~KnowledgeBaseService();
    KnowledgeBaseService(const KnowledgeBaseService&) = delete;
    KnowledgeBaseService& operator=(const KnowledgeBaseService&) = delete;

    const std::string& store_description() const { return store_->describe(); }

    // --- knowledge bases ---
    // Names: 1..64 characters of letters, digits, '-', '_', '.'; not starting with '.'.
    Result<store::KnowledgeBaseRow> create(const std::string& name, const std::string& description);
    Result<std::vector<store::KnowledgeBaseRow>> list();
    Result<store::KnowledgeBaseRow> get(const std::string& name);  // fails "no knowledge base NAME"
    Status remove(const std::string& name);                        // with its documents and jobs

    // --- documents ---
    Result<std::vector<store::DocumentRow>> documents(const std::string& kb);
    // Adds or updates one document from bytes in memory, synchronously (see the table above).
    // `metadata_json` is a JSON object of string values (or "" for none); its keys can filter
    // searches. An AddResult with kFailed is a normal return; Status errors are store failures.
    Result<AddResult> add_document(const std::string& kb, const std::string& source, std::string_view bytes,
                                   const std::string& metadata_json = "");
    Status remove_document(const std::string& kb, const std::string& source);  // fails when absent

    // --- ingestion jobs ---
    Result<Upload> begin_upload(const std::string& kb);
    // Commits the job (the acknowledgement) and queues it for the worker. `metadata_json` as in
    // add_document, given to every file of the job. Fails on an Upload with no files.
    Result<store::JobRow> submit(Upload upload, const std::string& metadata_json = "");
    // A job with its per-file results; an unfinished job of a dead process reads as kInterrupted.
    Result<store::JobRow> job(int64_t id);
    Result<std::vector<store::JobRow>> jobs(const std::string& kb = "");  // newest first; "" = all
    // Ids of the jobs open() resumed.
    std::vector<int64_t> resumed_jobs() const;
    // Blocks until the worker has nothing queued.
    void wait_idle();

    // --- search ---
    // The best `k` passages for `query` (metadata filters AND-ed), best first. `mode` kAuto is
    // hybrid when the service has the knowledge base's embedding model and the knowledge base has
    // vectors, else lexical; kDense and kHybrid fail without that model (see the top of the file).
    // With a reranker (options.rerank) and `rerank`, the best max(k, rerank_candidates) passages
    // are retrieved, scored by the reranker against the query, and the k best of those returned
    // in the reranker's order (Passage::reranked, rerank_score; ties keep retrieval order).
    Result<std::vector<Passage>> search(const std::string& kb, const std::string& query, size_t k = 10,
                                        const MetadataFilter& filter = {}, RetrievalMode mode = RetrievalMode::kAuto,
                                        bool rerank = true);

    // Chunks embedded per call of options.embed while adding a document.
    static constexpr size_t kEmbedBatch = 32;

  private:
    struct Index;  // one knowledge base's retriever and the chunk texts it returns
    struct QueuedJob {
        int64_t id = 0;
        int lock_fd = -1;
        std::string upload_dir;  // relative to the data directory, as JobRow::upload_dir
    };

    KnowledgeBaseService(KnowledgeBaseOptions options, std::unique_ptr<store::Store> store);
    Status resume_unfinished();
    void remove_stale_uploads();
    bool is_orphaned(const store::JobRow& job) const;
    void run_worker();
    void run_job(const QueuedJob& q);
    Result<std::shared_ptr<const Index>> index_for(const store::KnowledgeBaseRow& kb);
    Status embed_chunks(const store::KnowledgeBaseRow& kb, std::vector<store::ChunkRow>* rows);
    bool uses_this_model(const store::KnowledgeBaseRow& kb) const;
    // Orders `passages` by options_.rerank's scores for `query` and keeps the best k.
    Status rerank_passages(const std::string& query, size_t k, std::vector<Passage>* passages);
    std::filesystem::path vector_dir() const;  // <data-dir>/vectors
    std::filesystem::path vector_file(const store::KnowledgeBaseRow& kb) const;
    void remove_vector_files(int64_t kb_id);
    // One knowledge base's index builds: `mu` is held while one runs; `removed` (set under `mu`)
    // once the knowledge base is deleted, after which no build starts.
    struct Build {
        std::mutex mu;
        bool removed = false;
    };
    std::shared_ptr<Build> build_of(int64_t kb_id);  // created on first use

    KnowledgeBaseOptions options_;
    std::unique_ptr<store::Store> store_;
    std::string host_;

    mutable std::mutex mu_;  // guards everything below
    std::condition_variable cv_;
    std::deque<QueuedJob> queue_;
    bool busy_ = false, stop_ = false;
    std::vector<int64_t> resumed_;
    std::unordered_map<int64_t, std::shared_ptr<const Index>> indexes_;  // by kb id
    std::unordered_map<int64_t, std::shared_ptr<Build>> building_;       // by kb id
    std::set<int64_t> warned_model_;                                     // kb ids whose other-model warning was logged
    std::thread worker_;
};

}  // namespace sinan::knowledge
