// Store: where knowledge bases live on disk. Knowledge bases, their documents (source name,
// content hash, version, metadata, status), the documents' chunks (text, location, optional
// embedding) and ingestion jobs (status, progress, per-file results).
//
// Two backends behind one class, chosen by open()'s `spec`:
//   ""                         SQLite file <data-dir>/knowledge.db (the embedded default): WAL,
//                              synchronous=FULL, so whatever a method returned ok for survives
//                              kill -9 and power loss.
//   "postgres://user@host:port/db"  PostgreSQL through libpq, so several `sinan serve` replicas
//                              share knowledge bases.
// Both run the same SQL (sql_connection.h), with the same schema and the same behaviour; the
// schema is created and migrated on open (a schema_version table; PostgreSQL migrations take an
// advisory lock so replicas starting together migrate once).
//
// Every write method is one transaction: a document row and all of its chunks are written or
// replaced together (put_document), so a reader never sees a document half-ingested.
// Deleting a knowledge base deletes its documents, chunks and jobs; deleting a document deletes
// its chunks.
//
// Failures (database unreachable, a name already taken, a row that is gone) return Status with a
// one-line message. Thread-safety: every method may be called from any thread; calls are
// serialised on the store's one connection.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sinan::store {

class SqlConnection;

struct KnowledgeBaseRow {
    int64_t id = 0;
    std::string name;  // unique
    std::string description;
    int64_t created_at = 0;  // Unix seconds
    // The embedding model its chunks' vectors come from (an id such as "bert-tiny/128"); "" until
    // the first document is embedded. Set once, by claim_embedding_model.
    std::string embedding_model;
};

// A document's row is written once per ingestion, together with its chunks, so it is never seen
// half-ingested: it is ready (chunks stored) or failed (error says why, no chunks).
enum class DocumentStatus { kReady, kFailed };

struct DocumentRow {
    int64_t id = 0;  // 0 until stored
    int64_t kb_id = 0;
    std::string source;                // unique within its knowledge base: file name or caller-given name
    std::string content_sha256;        // 64 lowercase hex digits of the file's bytes
    int version = 1;                   // 1 on first add, +1 each time the content changes
    std::string metadata_json = "{}";  // a JSON object, caller-defined
    DocumentStatus status = DocumentStatus::kReady;
    std::string error;  // why ingestion failed (kFailed); "" otherwise
    int n_chunks = 0;
    int64_t size_bytes = 0;
    int64_t updated_at = 0;  // Unix seconds, set by the store
};

struct ChunkRow {
    int64_t id = 0;  // 0 until stored
    int64_t document_id = 0;
    int ordinal = 0;  // position in its document, 0-based, unique per document
    std::string text;
    std::string location;  // "Setup > Install", "page 3"
    int page = 0;
    int n_tokens = 0;
    std::vector<float> embedding;  // empty when no embedding model was used
};

enum class JobStatus { kQueued, kRunning, kDone, kFailed, kInterrupted };
enum class FileStatus { kPending, kAdded, kUpdated, kUnchanged, kFailed };

struct JobFile {
    int ordinal = 0;          // position in the job, 0-based
    std::string source;       // the document's source name
    std::string upload_name;  // the file's name inside the job's upload directory
    int64_t size_bytes = 0;
    FileStatus status = FileStatus::kPending;
    std::string message;  // the failure reason (kFailed); "" otherwise
};

struct JobRow {
    int64_t id = 0;
    int64_t kb_id = 0;
    JobStatus status = JobStatus::kQueued;
    int n_done = 0;                          // files with a final status (anything but kPending)
    int n_total = 0;                         // files in the job
    std::string upload_dir;                  // where the job's files were copied, relative to the data directory
    std::string host;                        // the machine whose data directory holds upload_dir
    std::string metadata_json = "{}";        // given to every document of the job
    std::string error;                       // why the job failed or was interrupted; "" otherwise
    int64_t created_at = 0, updated_at = 0;  // Unix seconds
    std::vector<JobFile> files;              // by ordinal
};

const char* to_string(DocumentStatus s);  // "ready", "failed"
const char* to_string(JobStatus s);       // "queued", "running", "done", "failed", "interrupted"
const char* to_string(FileStatus s);      // "pending", "added", "updated", "unchanged", "failed"

class Store {
  public:
    // Opens (creating and migrating the schema when needed) the store named by `spec` (see the top
    // of this file); `data_dir` holds the SQLite file and must exist. Errors name the database and
    // say what to check.
    static Result<std::unique_ptr<Store>> open(const std::string& spec, const std::string& data_dir);

    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // "sqlite <path>" or "postgres <uri without password>", for logs and `kb ls`.
    const std::string& describe() const { return description_; }

    // --- knowledge bases ---
    // Fails when `name` is taken ("knowledge base NAME already exists").
    Result<KnowledgeBaseRow> create_knowledge_base(const std::string& name, const std::string& description);
    Result<std::vector<KnowledgeBaseRow>> list_knowledge_bases();  // by name
    Result<std::optional<KnowledgeBaseRow>> find_knowledge_base(const std::string& name);
    // Deletes the knowledge base with its documents, chunks and jobs; ok when it was already gone.
    Status delete_knowledge_base(int64_t kb_id);
    // Records `model` as the knowledge base's embedding model when it has none yet, atomically
    // (two replicas claiming at once: one wins). Returns the model it has afterwards: `model`, or
    // the one recorded before. Fails when the knowledge base is gone.
    Result<std::string> claim_embedding_model(int64_t kb_id, const std::string& model);

    // --- documents ---
    Result<std::vector<DocumentRow>> list_documents(int64_t kb_id);  // by source
    Result<std::optional<DocumentRow>> find_document(int64_t kb_id, const std::string& source);
    // Writes `doc` and replaces all of its chunks with `chunks`, in one transaction. doc.id == 0
    // inserts (fails when (kb_id, source) exists); otherwise updates that row (fails when it is
    // gone). With `read`, the row as the caller found it, the update also fails when the row's
    // version, status or content hash is no longer read's (another writer's change in between),
    // so a caller decides on what it read and never writes over what it did not see. n_chunks is
    // taken from chunks.size(). Returns the document id. Each chunk's document_id is ignored.
    Result<int64_t> put_document(const DocumentRow& doc, const std::vector<ChunkRow>& chunks,
                                 const DocumentRow* read = nullptr);
    // Deletes the document and its chunks; ok when it was already gone.
    Status delete_document(int64_t document_id);
    // Every chunk of the knowledge base's ready documents, ordered by document id then ordinal.
    Result<std::vector<ChunkRow>> list_chunks(int64_t kb_id);
    // A short text that changes whenever the knowledge base's searchable content changes (a
    // document added, updated, deleted or its status changed), by this process or another one
    // sharing the database: one aggregate query, cheap enough to ask before every search.
    Result<std::string> content_stamp(int64_t kb_id);

    // --- ingestion jobs ---
    // Inserts a queued job with its files (all kPending); job.id, status, n_done and timestamps are
    // ignored. Returns the stored job. Once this returns, the job is acknowledged: it survives a
    // crash and will be resumed or reported.
    Result<JobRow> create_job(const JobRow& job);
    // Records one file's outcome (which moves the job's n_done on).
    Status set_job_file(int64_t job_id, int ordinal, FileStatus status, const std::string& message);
    Status set_job_status(int64_t job_id, JobStatus status, const std::string& error = "");
    Result<std::optional<JobRow>> find_job(int64_t job_id);
    // Jobs newest first (at most `limit`), with their files; `kb_id` 0 means every knowledge base.
    Result<std::vector<JobRow>> list_jobs(int64_t kb_id = 0, int limit = 100);
    // Jobs in status queued or running, oldest first (what a restart has to look at).
    Result<std::vector<JobRow>> list_unfinished_jobs();

  private:
    Store(std::unique_ptr<SqlConnection> conn, std::string description);
    Result<std::vector<JobRow>> load_jobs(const std::string& where, const std::vector<int64_t>& args, int limit);

    std::mutex mu_;
    std::unique_ptr<SqlConnection> conn_;
    std::string description_;
};

}  // namespace sinan::store
