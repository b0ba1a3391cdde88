#include "store/store.h"

#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>

#include "store/schema.h"
#include "store/sql_connection.h"

namespace sinan::store {

namespace {

int64_t now_unix() { return static_cast<int64_t>(std::time(nullptr)); }

// Runs `body` inside one write transaction: committed when it returns ok, rolled back otherwise.
Status in_transaction(SqlConnection& conn, const std::function<Status()>& body) {
    SINAN_RETURN_IF_ERROR(conn.begin());
    Status s = body();
    if (!s.is_ok()) {
        (void)conn.query("ROLLBACK");
        return s;
    }
    return conn.query("COMMIT").status();
}

// Embeddings are stored as float32 in the machine's byte order (little-endian on every target).
Blob encode_embedding(const std::vector<float>& v) {
    Blob b;
    b.bytes.resize(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(b.bytes.data(), v.data(), b.bytes.size());
    return b;
}

std::vector<float> decode_embedding(const std::string& bytes) {
    std::vector<float> v(bytes.size() / sizeof(float));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
}

template <typename E, size_t N>
E parse_enum(const std::string& text, const char* const (&names)[N]) {
    for (size_t i = 0; i < N; ++i)
        if (text == names[i]) return static_cast<E>(i);
    return static_cast<E>(0);
}

const char* const kDocumentStatus[] = {"ready", "failed"};
const char* const kJobStatus[] = {"queued", "running", "done", "failed", "interrupted"};
const char* const kFileStatus[] = {"pending", "added", "updated", "unchanged", "failed"};

constexpr const char* kDocumentColumns =
    "id, kb_id, source, content_sha256, version, metadata, status, error, n_chunks, size_bytes, updated_at";

DocumentRow to_document(const SqlRow& r) {
    DocumentRow d;
    d.id = r.integer(0);
    d.kb_id = r.integer(1);
    d.source = r.text(2);
    d.content_sha256 = r.text(3);
    d.version = static_cast<int>(r.integer(4));
    d.metadata_json = r.text(5);
    d.status = parse_enum<DocumentStatus>(r.text(6), kDocumentStatus);
    d.error = r.text(7);
    d.n_chunks = static_cast<int>(r.integer(8));
    d.size_bytes = r.integer(9);
    d.updated_at = r.integer(10);
    return d;
}

KnowledgeBaseRow to_knowledge_base(const SqlRow& r) {
    return KnowledgeBaseRow{r.integer(0), r.text(1), r.text(2), r.integer(3), r.text(4)};
}

bool is_unique_violation(const Status& s) {
    const std::string& m = s.message();
    return m.find("UNIQUE constraint failed") != std::string::npos ||
           m.find("duplicate key value violates unique constraint") != std::string::npos;
}

}  // namespace

const char* to_string(DocumentStatus s) { return kDocumentStatus[static_cast<int>(s)]; }
const char* to_string(JobStatus s) { return kJobStatus[static_cast<int>(s)]; }
const char* to_string(FileStatus s) { return kFileStatus[static_cast<int>(s)]; }

Store::Store(std::unique_ptr<SqlConnection> conn, std::string description)
    : conn_(std::move(conn)), description_(std::move(description)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& spec, const std::string& data_dir) {
    std::unique_ptr<SqlConnection> conn;
    std::string description;
    if (spec.empty()) {
        const std::string path = (std::filesystem::path(data_dir) / "knowledge.db").string();
        Result<std::unique_ptr<SqlConnection>> c = open_sqlite(path);
        if (!c.ok()) return c.status();
        conn = std::move(*c);
        description = "sqlite " + path;
    } else if (spec.rfind("postgres://", 0) == 0 || spec.rfind("postgresql://", 0) == 0) {
        Result<std::unique_ptr<SqlConnection>> c = open_postgres(spec);
        if (!c.ok()) return c.status();
        conn = std::move(*c);
        const size_t at = spec.find('@');
        description = "postgres " + (at == std::string::npos ? spec : "postgres://..." + spec.substr(at));
    } else {
        return Status::error("--store " + spec +
                             ": not a store; give postgres://user@host:port/db, or leave it out "
                             "for the SQLite file in the data directory");
    }
    SINAN_RETURN_IF_ERROR(migrate(*conn).annotate(description + ": "));
    return std::unique_ptr<Store>(new Store(std::move(conn), std::move(description)));
}

// --- knowledge bases ---

Result<KnowledgeBaseRow> Store::create_knowledge_base(const std::string& name, const std::string& description) {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = now_unix();
    Result<std::vector<SqlRow>> r =
        conn_->query("INSERT INTO knowledge_bases (name, description, created_at) VALUES (?, ?, ?) RETURNING id",
                     {name, description, now});
    if (!r.ok()) {
        if (is_unique_violation(r.status()))
            return Status::error("knowledge base " + name + " already exists; pick another name or use it");
        return r.status();
    }
    return KnowledgeBaseRow{r->front().integer(0), name, description, now, ""};
}

Result<std::vector<KnowledgeBaseRow>> Store::list_knowledge_bases() {
    std::lock_guard<std::mutex> lock(mu_);
    Result<std::vector<SqlRow>> r =
        conn_->query("SELECT id, name, description, created_at, embedding_model FROM knowledge_bases ORDER BY name");
    if (!r.ok()) return r.status();
    std::vector<KnowledgeBaseRow> out;
    for (const SqlRow& row : *r) out.push_back(to_knowledge_base(row));
    return out;
}

Result<std::optional<KnowledgeBaseRow>> Store::find_knowledge_base(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    Result<std::vector<SqlRow>> r = conn_->query(
        "SELECT id, name, description, created_at, embedding_model FROM knowledge_bases WHERE name = ?", {name});
    if (!r.ok()) return r.status();
    if (r->empty()) return std::optional<KnowledgeBaseRow>();
    return std::optional<KnowledgeBaseRow>(to_knowledge_base(r->front()));
}

Status Store::delete_knowledge_base(int64_t kb_id) {
    std::lock_guard<std::mutex> lock(mu_);
    return conn_->query("DELETE FROM knowledge_bases WHERE id = ?", {kb_id}).status();
}

Result<std::string> Store::claim_embedding_model(int64_t kb_id, const std::string& model) {
    std::lock_guard<std::mutex> lock(mu_);
    // One statement: the row lock (PostgreSQL) or the database lock (SQLite) makes it atomic.
    SINAN_RETURN_IF_ERROR(
        conn_
            ->query("UPDATE knowledge_bases SET embedding_model = ? WHERE id = ? AND embedding_model = ''",
                    {model, kb_id})
            .status());
    Result<std::vector<SqlRow>> r = conn_->query("SELECT embedding_model FROM knowledge_bases WHERE id = ?", {kb_id});
    if (!r.ok()) return r.status();
    if (r->empty()) return Status::error("knowledge base " + std::to_string(kb_id) + " was deleted");
    return r->front().text(0);
}

// --- documents ---

Result<std::vector<DocumentRow>> Store::list_documents(int64_t kb_id) {
    std::lock_guard<std::mutex> lock(mu_);
    Result<std::vector<SqlRow>> r = conn_->query(
        std::string("SELECT ") + kDocumentColumns + " FROM documents WHERE kb_id = ? ORDER BY source", {kb_id});
    if (!r.ok()) return r.status();
    std::vector<DocumentRow> out;
    for (const SqlRow& row : *r) out.push_back(to_document(row));
    return out;
}

Result<std::optional<DocumentRow>> Store::find_document(int64_t kb_id, const std::string& source) {
    std::lock_guard<std::mutex> lock(mu_);
    Result<std::vector<SqlRow>> r = conn_->query(
        std::string("SELECT ") + kDocumentColumns + " FROM documents WHERE kb_id = ? AND source = ?", {kb_id, source});
    if (!r.ok()) return r.status();
    if (r->empty()) return std::optional<DocumentRow>();
    return std::optional<DocumentRow>(to_document(r->front()));
}

Result<int64_t> Store::put_document(const DocumentRow& doc, const std::vector<ChunkRow>& chunks,
                                    const DocumentRow* read) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t id = doc.id;
    Status s = in_transaction(*conn_, [&]() -> Status {
        const std::vector<SqlValue> fields = {doc.content_sha256, int64_t{doc.version},
                                              doc.metadata_json,  std::string(to_string(doc.status)),
                                              doc.error,          static_cast<int64_t>(chunks.size()),
                                              doc.size_bytes,     now_unix()};
        if (id == 0) {
            std::vector<SqlValue> params = {doc.kb_id, doc.source};
            params.insert(params.end(), fields.begin(), fields.end());
            Result<std::vector<SqlRow>> r = conn_->query(
                "INSERT INTO documents (kb_id, source, content_sha256, version, metadata, status, error, n_chunks, "
                "size_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                params);
            if (!r.ok()) {
                if (is_unique_violation(r.status()))
                    return Status::error("document " + doc.source + " is already in the knowledge base");
                return r.status();
            }
            id = r->front().integer(0);
        } else {
            std::vector<SqlValue> params = fields;
            params.push_back(id);
            std::string sql =
                "UPDATE documents SET content_sha256 = ?, version = ?, metadata = ?, status = ?, error = ?, "
                "n_chunks = ?, size_bytes = ?, updated_at = ? WHERE id = ?";
            if (read != nullptr) {
                sql += " AND version = ? AND status = ? AND content_sha256 = ?";
                params.insert(params.end(),
                              {int64_t{read->version}, std::string(to_string(read->status)), read->content_sha256});
            }
            Result<std::vector<SqlRow>> r = conn_->query(sql + " RETURNING id", params);
            if (!r.ok()) return r.status();
            if (r->empty())
                return Status::error("document " + doc.source +
                                     (read != nullptr ? " was changed or deleted while it was being updated"
                                                      : " was deleted while it was being updated"));
            SINAN_RETURN_IF_ERROR(conn_->query("DELETE FROM chunks WHERE document_id = ?", {id}).status());
        }
        for (const ChunkRow& c : chunks) {
            SqlValue embedding = c.embedding.empty() ? SqlValue(nullptr) : SqlValue(encode_embedding(c.embedding));
            SINAN_RETURN_IF_ERROR(conn_
                                      ->query("INSERT INTO chunks (document_id, ordinal, text, location, page, "
                                              "n_tokens, embedding) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                              {id, int64_t{c.ordinal}, c.text, c.location, int64_t{c.page},
                                               int64_t{c.n_tokens}, std::move(embedding)})
                                      .status());
        }
        return Status::ok();
    });
    if (!s.is_ok()) return s;
    return id;
}

Status Store::delete_document(int64_t document_id) {
    std::lock_guard<std::mutex> lock(mu_);
    return conn_->query("DELETE FROM documents WHERE id = ?", {document_id}).status();
}

Result<std::vector<ChunkRow>> Store::list_chunks(int64_t kb_id) {
    std::lock_guard<std::mutex> lock(mu_);
    Result<std::vector<SqlRow>> r = conn_->query(
        "SELECT c.id, c.document_id, c.ordinal, c.text, c.location, c.page, c.n_tokens, c.embedding FROM chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE d.kb_id = ? AND d.status = 'ready' "
        "ORDER BY c.document_id, c.ordinal",
        {kb_id});
    if (!r.ok()) return r.status();
    std::vector<ChunkRow> out;
    out.reserve(r->size());
    for (const SqlRow& row : *r) {
        ChunkRow c;
        c.id = row.integer(0);
        c.document_id = row.integer(1);
        c.ordinal = static_cast<int>(row.integer(2));
        c.text = row.text(3);
        c.location = row.text(4);
        c.page = static_cast<int>(row.integer(5));
        c.n_tokens = static_cast<int>(row.integer(6));
        c.embedding = decode_embedding(row.text(7));
        out.push_back(std::move(c));
    }
    return out;
}

Result<std::string> Store::content_stamp(int64_t kb_id) {
    std::lock_guard<std::mutex> lock(mu_);
    // Ids only grow (AUTOINCREMENT / a sequence), so a delete followed by an add moves MAX(id);
    // an update moves the version sum; a deletion moves the count.
    Result<std::vector<SqlRow>> r = conn_->query(
        "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(version), 0), COALESCE(SUM(n_chunks), 0), "
        "COALESCE(SUM(CASE WHEN status = 'ready' THEN 1 ELSE 0 END), 0) FROM documents WHERE kb_id = ?",
        {kb_id});
    if (!r.ok()) return r.status();
    std::string stamp;
    for (size_t i = 0; i < r->front().cells.size(); ++i) stamp += r->front().text(i) + "/";
    return stamp;
}

// --- ingestion jobs ---

Result<JobRow> Store::create_job(const JobRow& job) {
    std::lock_guard<std::mutex> lock(mu_);
    JobRow out = job;
    out.status = JobStatus::kQueued;
    out.n_done = 0;
    out.n_total = static_cast<int>(job.files.size());
    out.created_at = out.updated_at = now_unix();
    for (JobFile& f : out.files) {
        f.status = FileStatus::kPending;
        f.message.clear();
    }
    Status s = in_transaction(*conn_, [&]() -> Status {
        Result<std::vector<SqlRow>> r = conn_->query(
            "INSERT INTO jobs (kb_id, status, n_total, upload_dir, host, metadata, error, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, '', ?, ?) RETURNING id",
            {out.kb_id, std::string(to_string(out.status)), int64_t{out.n_total}, out.upload_dir, out.host,
             out.metadata_json, out.created_at, out.updated_at});
        if (!r.ok()) return r.status();
        out.id = r->front().integer(0);
        for (size_t i = 0; i < out.files.size(); ++i) {
            JobFile& f = out.files[i];
            f.ordinal = static_cast<int>(i);
            SINAN_RETURN_IF_ERROR(conn_
                                      ->query("INSERT INTO job_files (job_id, ordinal, source, upload_name, "
                                              "size_bytes, status) VALUES (?, ?, ?, ?, ?, 'pending')",
                                              {out.id, int64_t{f.ordinal}, f.source, f.upload_name, f.size_bytes})
                                      .status());
        }
        return Status::ok();
    });
    if (!s.is_ok()) return s;
    return out;
}

Status Store::set_job_file(int64_t job_id, int ordinal, FileStatus status, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    return in_transaction(*conn_, [&]() -> Status {
        SINAN_RETURN_IF_ERROR(
            conn_
                ->query("UPDATE job_files SET status = ?, message = ? WHERE job_id = ? AND ordinal = ?",
                        {std::string(to_string(status)), message, job_id, int64_t{ordinal}})
                .status());
        return conn_->query("UPDATE jobs SET updated_at = ? WHERE id = ?", {now_unix(), job_id}).status();
    });
}

Status Store::set_job_status(int64_t job_id, JobStatus status, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    return conn_
        ->query("UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                {std::string(to_string(status)), error, now_unix(), job_id})
        .status();
}

Result<std::optional<JobRow>> Store::find_job(int64_t job_id) {
    Result<std::vector<JobRow>> r = load_jobs("WHERE id = ?", {job_id}, 1);
    if (!r.ok()) return r.status();
    if (r->empty()) return std::optional<JobRow>();
    return std::optional<JobRow>(std::move(r->front()));
}

Result<std::vector<JobRow>> Store::list_jobs(int64_t kb_id, int limit) {
    if (kb_id == 0) return load_jobs("ORDER BY id DESC", {}, limit);
    return load_jobs("WHERE kb_id = ? ORDER BY id DESC", {kb_id}, limit);
}

Result<std::vector<JobRow>> Store::list_unfinished_jobs() {
    return load_jobs("WHERE status IN ('queued', 'running') ORDER BY id", {}, 1 << 30);
}

Result<std::vector<JobRow>> Store::load_jobs(const std::string& where, const std::vector<int64_t>& args, int limit) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SqlValue> params(args.begin(), args.end());
    params.push_back(int64_t{limit});
    Result<std::vector<SqlRow>> r = conn_->query(
        "SELECT id, kb_id, status, n_total, upload_dir, host, metadata, error, created_at, updated_at FROM jobs " +
            where + " LIMIT ?",
        params);
    if (!r.ok()) return r.status();
    std::vector<JobRow> out;
    for (const SqlRow& row : *r) {
        JobRow j;
        j.id = row.integer(0);
        j.kb_id = row.integer(1);
        j.status = parse_enum<JobStatus>(row.text(2), kJobStatus);
        j.n_total = static_cast<int>(row.integer(3));
        j.upload_dir = row.text(4);
        j.host = row.text(5);
        j.metadata_json = row.text(6);
        j.error = row.text(7);
        j.created_at = row.integer(8);
        j.updated_at = row.integer(9);
        Result<std::vector<SqlRow>> files = conn_->query(
            "SELECT ordinal, source, upload_name, size_bytes, status, message FROM job_files WHERE job_id = ? "
            "ORDER BY ordinal",
            {j.id});
        if (!files.ok()) return files.status();
        for (const SqlRow& f : *files) {
            JobFile jf{static_cast<int>(f.integer(0)),
                       f.text(1),
                       f.text(2),
                       f.integer(3),
                       parse_enum<FileStatus>(f.text(4), kFileStatus),
                       f.text(5)};
            if (jf.status != FileStatus::kPending) ++j.n_done;
            j.files.push_back(std::move(jf));
        }
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace sinan::store
