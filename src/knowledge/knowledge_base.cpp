#include "knowledge/knowledge_base.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <span>

#include "base/log.h"
#include "base/mapped_file.h"
#include "base/sha256.h"
#include "knowledge/vector_index.h"

namespace sinan::knowledge {

namespace fs = std::filesystem;
using store::FileStatus;
using store::JobStatus;

struct KnowledgeBaseService::Index {
    struct ChunkRef {
        int64_t document_id;
        std::string location, text;
    };
    explicit Index(const RetrieverOptions& o) : retriever(o) {}
    std::string stamp;  // Store::content_stamp when it was built
    Retriever retriever;
    std::unordered_map<int64_t, ChunkRef> chunks;      // by chunk id
    std::unordered_map<int64_t, std::string> sources;  // document id -> source name
};

namespace {

constexpr const char* kUploads = "uploads";
constexpr const char* kLockName = ".lock";

std::string errno_text() { return std::strerror(errno); }

// What Store::put_document's `read` compares: the row is in the state it was read in.
bool same_state(const store::DocumentRow& a, const store::DocumentRow& b) {
    return a.id == b.id && a.version == b.version && a.status == b.status && a.content_sha256 == b.content_sha256;
}

bool valid_kb_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || name[0] == '.') return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

// A JSON object of string values -> Metadata; "" is {}. Numbers and booleans are kept as their
// JSON text so they can still be filtered on.
Result<Metadata> parse_metadata(const std::string& json_text) {
    Metadata meta;
    if (json_text.empty()) return meta;
    nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Status::error("metadata " + json_text + " is not a JSON object; give {\"key\": \"value\", ...}");
    for (auto it = j.begin(); it != j.end(); ++it)
        meta[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    return meta;
}

std::string random_token() {
    unsigned char bytes[8] = {};
    if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
        const uint64_t fallback = static_cast<uint64_t>(getpid()) << 32 ^ static_cast<uint64_t>(time(nullptr));
        std::memcpy(bytes, &fallback, sizeof bytes);
    }
    return to_hex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// Opens (creating) <dir>/.lock and takes an exclusive flock without waiting; -1 when another
// process holds it or the directory is gone.
int try_lock_dir(const fs::path& dir) {
    const int fd = ::open((dir / kLockName).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

Status sync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::error(dir.string() + ": cannot open to sync: " + errno_text());
    const int rc = fsync(fd);
    close(fd);
    if (rc != 0) return Status::error(dir.string() + ": cannot sync: " + errno_text());
    return Status::ok();
}

std::string hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

}  // namespace

// --- Upload ---

Upload::Upload(Upload&& o) noexcept { *this = std::move(o); }

Upload& Upload::operator=(Upload&& o) noexcept {
    if (this != &o) {
        discard();
        kb_id_ = o.kb_id_;
        kb_name_ = std::move(o.kb_name_);
        data_dir_ = std::move(o.data_dir_);
        token_ = std::move(o.token_);
        lock_fd_ = std::exchange(o.lock_fd_, -1);
        file_fd_ = std::exchange(o.file_fd_, -1);
        files_ = std::move(o.files_);
    }
    return *this;
}

Upload::~Upload() { discard(); }

void Upload::discard() {
    if (file_fd_ >= 0) close(std::exchange(file_fd_, -1));
    if (lock_fd_ >= 0) {
        std::error_code ec;
        fs::remove_all(fs::path(data_dir_) / kUploads / token_, ec);
        close(std::exchange(lock_fd_, -1));
    }
}

Status Upload::begin_file(const std::string& source) {
    SINAN_CHECK(lock_fd_ >= 0 && file_fd_ < 0, "Upload::begin_file on a submitted upload or inside a file");
    if (source.empty()) return Status::error("a file to add has an empty source name; give it a name");
    char name[16];
    std::snprintf(name, sizeof name, "%06zu", files_.size());
    const fs::path path = fs::path(data_dir_) / kUploads / token_ / name;
    file_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (file_fd_ < 0) return Status::error(path.string() + ": cannot create the upload file: " + errno_text());
    files_.push_back(store::JobFile{static_cast<int>(files_.size()), source, name, 0, FileStatus::kPending, ""});
    return Status::ok();
}

Status Upload::write(std::string_view bytes) {
    SINAN_CHECK(file_fd_ >= 0, "Upload::write outside begin_file/end_file");
    while (!bytes.empty()) {
        const ssize_t n = ::write(file_fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return Status::error("upload of " + files_.back().source + ": cannot write: " + errno_text() +
                                 " (is the data directory's disk full?)");
        }
        bytes.remove_prefix(static_cast<size_t>(n));
        files_.back().size_bytes += n;
    }
    return Status::ok();
}

Status Upload::end_file() {
    SINAN_CHECK(file_fd_ >= 0, "Upload::end_file without begin_file");
    const int rc = fsync(file_fd_);
    close(std::exchange(file_fd_, -1));
    if (rc != 0) return Status::error("upload of " + files_.back().source + ": cannot sync: " + errno_text());
    return Status::ok();
}

Status Upload::add_path(const std::string& source, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error(path + ": cannot open: " + errno_text());
    SINAN_RETURN_IF_ERROR(begin_file(source));
    std::string buf(1 << 20, '\0');
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const std::streamsize n = in.gcount();
        if (n > 0) SINAN_RETURN_IF_ERROR(write(std::string_view(buf.data(), static_cast<size_t>(n))));
    }
    if (in.bad()) {
        (void)end_file();
        return Status::error(path + ": read failed: " + errno_text());
    }
    return end_file();
}

// --- the service ---

KnowledgeBaseService::KnowledgeBaseService(KnowledgeBaseOptions options, std::unique_ptr<store::Store> store)
    : options_(std::move(options)), store_(std::move(store)), host_(hostname()) {}

Result<std::unique_ptr<KnowledgeBaseService>> KnowledgeBaseService::open(const KnowledgeBaseOptions& options) {
    std::error_code ec;
    if (!fs::is_directory(options.data_dir, ec))
        return Status::error("data directory " + options.data_dir + " does not exist; create it or give --data-dir");
    fs::create_directories(fs::path(options.data_dir) / kUploads, ec);
    if (ec) return Status::error(options.data_dir + "/uploads: cannot create: " + ec.message());
    Result<std::unique_ptr<store::Store>> store = store::Store::open(options.store_spec, options.data_dir);
    if (!store.ok()) return store.status();
    SINAN_CHECK(!options.embed || !options.embedding_model.empty(),
                "KnowledgeBaseOptions::embed without embedding_model");
    std::unique_ptr<KnowledgeBaseService> service(new KnowledgeBaseService(options, std::move(*store)));
    if (options.resume_jobs) {
        SINAN_RETURN_IF_ERROR(service->resume_unfinished());
        service->remove_stale_uploads();
        if (const size_t n = VectorIndex::remove_abandoned_saves(service->vector_dir()); n > 0)
            log::info("removed " + std::to_string(n) + " temporary vector file(s) of saves cut short in " +
                      service->vector_dir().string());
    }
    service->worker_ = std::thread([s = service.get()] { s->run_worker(); });
    return service;
}

KnowledgeBaseService::~KnowledgeBaseService() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    for (const QueuedJob& q : queue_) close(q.lock_fd);  // their jobs stay queued in the store
}

Status KnowledgeBaseService::resume_unfinished() {
    Result<std::vector<store::JobRow>> unfinished = store_->list_unfinished_jobs();
    if (!unfinished.ok()) return unfinished.status();
    for (const store::JobRow& job : *unfinished) {
        if (job.host != host_) continue;  // another replica's files; not ours to touch
        const fs::path dir = fs::path(options_.data_dir) / job.upload_dir;
        if (!fs::is_directory(dir)) {
            const std::string why = "its upload directory " + dir.string() + " is gone";
            for (const store::JobFile& f : job.files)
                if (f.status == FileStatus::kPending)
                    SINAN_RETURN_IF_ERROR(store_->set_job_file(job.id, f.ordinal, FileStatus::kFailed,
                                                               "not ingested: " + why + "; add the file again"));
            SINAN_RETURN_IF_ERROR(store_->set_job_status(job.id, JobStatus::kInterrupted, why));
            log::warn("job " + std::to_string(job.id) + " interrupted: " + why);
            continue;
        }
        const int fd = try_lock_dir(dir);
        if (fd < 0) continue;  // a live process works on it
        log::info("resuming job " + std::to_string(job.id) + " (" + std::to_string(job.n_total - job.n_done) + " of " +
                  std::to_string(job.n_total) + " files left)");
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(QueuedJob{job.id, fd, job.upload_dir});
        resumed_.push_back(job.id);
    }
    return Status::ok();
}

// Upload directories of processes that died before their job was committed: no unfinished job
// names them and no one holds their lock.
void KnowledgeBaseService::remove_stale_uploads() {
    Result<std::vector<store::JobRow>> unfinished = store_->list_unfinished_jobs();
    if (!unfinished.ok()) return;
    std::set<std::string> live;
    for (const store::JobRow& j : *unfinished) live.insert(fs::path(j.upload_dir).filename().string());
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(fs::path(options_.data_dir) / kUploads, ec)) {
        if (!e.is_directory() || live.count(e.path().filename().string())) continue;
        const int fd = try_lock_dir(e.path());
        if (fd < 0) continue;
        fs::remove_all(e.path(), ec);
        close(fd);
    }
}

bool KnowledgeBaseService::is_orphaned(const store::JobRow& job) const {
    if (job.status != JobStatus::kQueued && job.status != JobStatus::kRunning) return false;
    if (job.host != host_) return false;
    const int fd = try_lock_dir(fs::path(options_.data_dir) / job.upload_dir);
    if (fd >= 0) close(fd);
    return fd >= 0 || !fs::is_directory(fs::path(options_.data_dir) / job.upload_dir);
}

// --- knowledge bases ---

Result<store::KnowledgeBaseRow> KnowledgeBaseService::create(const std::string& name, const std::string& description) {
    if (!valid_kb_name(name))
        return Status::error("knowledge base name \"" + name +
                             "\" is not valid; use 1-64 letters, digits, '-', '_' or '.', not starting with '.'");
    return store_->create_knowledge_base(name, description);
}

Result<std::vector<store::KnowledgeBaseRow>> KnowledgeBaseService::list() { return store_->list_knowledge_bases(); }

Result<store::KnowledgeBaseRow> KnowledgeBaseService::get(const std::string& name) {
    Result<std::optional<store::KnowledgeBaseRow>> kb = store_->find_knowledge_base(name);
    if (!kb.ok()) return kb.status();
    if (!kb->has_value())
        return Status::error("no knowledge base " + name + "; create it with `sinan kb create " + name + "`");
    return **kb;
}

Status KnowledgeBaseService::remove(const std::string& name) {
    Result<store::KnowledgeBaseRow> kb = get(name);
    if (!kb.ok()) return kb.status();
    SINAN_RETURN_IF_ERROR(store_->delete_knowledge_base(kb->id));
    // A build in flight (a search that read the knowledge base before it was deleted) finishes
    // and saves its file first; builds after this one see `removed` and stop, so no vector file
    // outlives the knowledge base. The entry stays: a search may still hold the old row.
    const std::shared_ptr<Build> build = build_of(kb->id);
    {
        std::lock_guard<std::mutex> build_lock(build->mu);
        build->removed = true;
        remove_vector_files(kb->id);
    }
    std::lock_guard<std::mutex> lock(mu_);
    indexes_.erase(kb->id);
    return Status::ok();
}

// --- documents ---

Result<std::vector<store::DocumentRow>> KnowledgeBaseService::documents(const std::string& kb) {
    Result<store::KnowledgeBaseRow> row = get(kb);
    if (!row.ok()) return row.status();
    return store_->list_documents(row->id);
}

Result<AddResult> KnowledgeBaseService::add_document(const std::string& kb, const std::string& source,
                                                     std::string_view bytes, const std::string& metadata_json) {
    Result<store::KnowledgeBaseRow> row = get(kb);
    if (!row.ok()) return row.status();
    Result<Metadata> meta = parse_metadata(metadata_json);
    if (!meta.ok()) return meta.status();
    const std::string hash = sha256_hex(bytes);

    // The chunks (with their vectors) or why there are none; made once, on the first read that
    // finds the bytes new.
    std::optional<std::vector<store::ChunkRow>> rows;
    std::string failure;
    auto prepare = [&] {
        rows.emplace();
        Result<ExtractedDocument> extracted = extract_bytes(source, bytes, options_.extract);
        if (!extracted.ok()) {
            failure = extracted.message();
            return;
        }
        for (Chunk& c : chunk_document(*extracted, options_.chunk))
            rows->push_back(
                store::ChunkRow{0, 0, c.ordinal, std::move(c.text), std::move(c.location), c.page, c.n_tokens, {}});
        if (rows->empty()) {
            failure = source + ": no text to index";
        } else if (Status embedded = embed_chunks(*row, &*rows); !embedded.is_ok()) {
            failure = source + ": " + embedded.message();
        }
    };

    // Read, decide, write only over what was read: another writer (a thread, a replica) that
    // changes the document in between fails the write (Store::put_document's `read`), and the
    // decision is made again on what it left.
    constexpr int kAttempts = 8;
    for (int attempt = 1;; ++attempt) {
        Result<std::optional<store::DocumentRow>> existing = store_->find_document(row->id, source);
        if (!existing.ok()) return existing.status();
        const store::DocumentRow* old = existing->has_value() ? &**existing : nullptr;
        const bool old_ready = old != nullptr && old->status == store::DocumentStatus::kReady;

        AddResult result;
        if (old_ready && old->content_sha256 == hash) {
            result.status = FileStatus::kUnchanged;
            result.document_id = old->id;
            result.version = old->version;
            result.n_chunks = old->n_chunks;
            return result;
        }
        if (!rows) prepare();
        result.message = failure;
        if (!failure.empty() && old_ready) return result;  // the previous version stays searchable

        store::DocumentRow doc;
        doc.id = old != nullptr ? old->id : 0;
        doc.kb_id = row->id;
        doc.source = source;
        doc.content_sha256 = hash;
        doc.version = old == nullptr ? 1 : (old->content_sha256 == hash ? old->version : old->version + 1);
        doc.metadata_json = metadata_json.empty() ? "{}" : nlohmann::json(*meta).dump();
        doc.size_bytes = static_cast<int64_t>(bytes.size());
        if (!failure.empty()) {
            doc.status = store::DocumentStatus::kFailed;
            doc.error = failure;
        }
        static const std::vector<store::ChunkRow> kNone;
        Result<int64_t> id = store_->put_document(doc, failure.empty() ? *rows : kNone, old);
        if (id.ok()) {
            if (failure.empty()) {
                result.status = old_ready ? FileStatus::kUpdated : FileStatus::kAdded;
                result.n_chunks = static_cast<int>(rows->size());
            }
            result.document_id = *id;
            result.version = doc.version;
            return result;
        }
        // Written meanwhile by another writer (inserted, updated or deleted): decide again.
        Result<std::optional<store::DocumentRow>> now = store_->find_document(row->id, source);
        const bool changed =
            now.ok() && (now->has_value() != (old != nullptr) || (old != nullptr && !same_state(**now, *old)));
        if (!changed || attempt == kAttempts) return id.status();
    }
}

Status KnowledgeBaseService::remove_document(const std::string& kb, const std::string& source) {
    Result<store::KnowledgeBaseRow> row = get(kb);
    if (!row.ok()) return row.status();
    Result<std::optional<store::DocumentRow>> doc = store_->find_document(row->id, source);
    if (!doc.ok()) return doc.status();
    if (!doc->has_value())
        return Status::error("knowledge base " + kb + " has no document " + source + "; see `sinan kb ls " + kb + "`");
    return store_->delete_document((*doc)->id);
}

// --- ingestion jobs ---

Result<Upload> KnowledgeBaseService::begin_upload(const std::string& kb) {
    Result<store::KnowledgeBaseRow> row = get(kb);
    if (!row.ok()) return row.status();
    Upload u;
    u.kb_id_ = row->id;
    u.kb_name_ = kb;
    u.data_dir_ = options_.data_dir;
    u.token_ = random_token();
    const fs::path dir = fs::path(options_.data_dir) / kUploads / u.token_;
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (ec) return Status::error(dir.string() + ": cannot create the upload directory: " + ec.message());
    u.lock_fd_ = try_lock_dir(dir);
    if (u.lock_fd_ < 0) {
        fs::remove_all(dir, ec);
        return Status::error(dir.string() + ": cannot lock the upload directory");
    }
    return u;
}

Result<store::JobRow> KnowledgeBaseService::submit(Upload upload, const std::string& metadata_json) {
    SINAN_CHECK(upload.lock_fd_ >= 0 && upload.file_fd_ < 0, "submit() of an upload with a file still open");
    if (upload.files_.empty()) return Status::error("nothing to add: the upload has no files");
    Result<Metadata> meta = parse_metadata(metadata_json);
    if (!meta.ok()) return meta.status();
    const fs::path dir = fs::path(options_.data_dir) / kUploads / upload.token_;
    // The files' directory entries must be durable before the job row says they exist.
    SINAN_RETURN_IF_ERROR(sync_dir(dir));
    SINAN_RETURN_IF_ERROR(sync_dir(dir.parent_path()));
    store::JobRow job;
    job.kb_id = upload.kb_id_;
    job.upload_dir = std::string(kUploads) + "/" + upload.token_;
    job.host = host_;
    job.metadata_json = metadata_json.empty() ? "{}" : nlohmann::json(*meta).dump();
    job.files = upload.files_;
    Result<store::JobRow> made = store_->create_job(job);
    if (!made.ok()) return made.status();
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(QueuedJob{made->id, std::exchange(upload.lock_fd_, -1), made->upload_dir});
    }
    cv_.notify_all();
    return made;
}

Result<store::JobRow> KnowledgeBaseService::job(int64_t id) {
    Result<std::optional<store::JobRow>> j = store_->find_job(id);
    if (!j.ok()) return j.status();
    if (!j->has_value()) return Status::error("no job " + std::to_string(id) + "; see `sinan kb jobs`");
    store::JobRow row = std::move(**j);
    if (is_orphaned(row)) row.status = JobStatus::kInterrupted;
    return row;
}

Result<std::vector<store::JobRow>> KnowledgeBaseService::jobs(const std::string& kb) {
    int64_t kb_id = 0;
    if (!kb.empty()) {
        Result<store::KnowledgeBaseRow> row = get(kb);
        if (!row.ok()) return row.status();
        kb_id = row->id;
    }
    Result<std::vector<store::JobRow>> all = store_->list_jobs(kb_id);
    if (!all.ok()) return all.status();
    for (store::JobRow& j : *all)
        if (is_orphaned(j)) j.status = JobStatus::kInterrupted;
    return all;
}

std::vector<int64_t> KnowledgeBaseService::resumed_jobs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return resumed_;
}

void KnowledgeBaseService::wait_idle() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || stop_; });
}

void KnowledgeBaseService::run_worker() {
    for (;;) {
        QueuedJob q;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            q = queue_.front();
            queue_.pop_front();
            busy_ = true;
        }
        run_job(q);
        close(q.lock_fd);
        {
            std::lock_guard<std::mutex> lock(mu_);
            busy_ = false;
        }
        cv_.notify_all();
    }
}

void KnowledgeBaseService::run_job(const QueuedJob& q) {
    const std::string what = "job " + std::to_string(q.id);
    Result<std::optional<store::JobRow>> found = store_->find_job(q.id);
    if (!found.ok()) {
        log::error(what + ": " + found.message());
        return;  // the store is unreachable: the job and its files stay for the next start
    }
    if (!found->has_value()) {  // its knowledge base was deleted (cascade) while it was queued
        std::error_code ec;
        fs::remove_all(fs::path(options_.data_dir) / q.upload_dir, ec);
        return;
    }
    const store::JobRow job = std::move(**found);
    const fs::path dir = fs::path(options_.data_dir) / job.upload_dir;
    Status s = store_->set_job_status(job.id, JobStatus::kRunning);
    std::string kb_name;
    Result<std::vector<store::KnowledgeBaseRow>> kbs = store_->list_knowledge_bases();
    if (kbs.ok())
        for (const store::KnowledgeBaseRow& kb : *kbs)
            if (kb.id == job.kb_id) kb_name = kb.name;
    for (const store::JobFile& f : job.files) {
        if (!s.is_ok() || kb_name.empty()) break;
        if (f.status != FileStatus::kPending) continue;  // done before a crash
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (stop_) return;  // stays running in the store; the next open() resumes it
        }
        Result<MappedFile> bytes = MappedFile::open((dir / f.upload_name).string());
        Result<AddResult> added =
            bytes.ok() ? add_document(kb_name, f.source,
                                      std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()),
                                      job.metadata_json)
                       : Result<AddResult>(bytes.status());
        if (added.ok()) {
            s = store_->set_job_file(job.id, f.ordinal, added->status, added->message);
        } else {
            s = store_->set_job_file(job.id, f.ordinal, FileStatus::kFailed, f.source + ": " + added.message());
        }
    }
    if (!s.is_ok()) {
        log::error(what + ": " + s.message());
        (void)store_->set_job_status(job.id, JobStatus::kFailed, s.message());
    } else if (kb_name.empty()) {
        (void)store_->set_job_status(job.id, JobStatus::kFailed, "its knowledge base was deleted");
    } else {
        s = store_->set_job_status(job.id, JobStatus::kDone);
        if (!s.is_ok()) log::error(what + ": " + s.message());
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
}

// --- embeddings ---

bool KnowledgeBaseService::uses_this_model(const store::KnowledgeBaseRow& kb) const {
    return options_.embed && (kb.embedding_model.empty() || kb.embedding_model == options_.embedding_model);
}

// Fills each row's embedding, kEmbedBatch chunks per call, and records the model on the knowledge
// base; leaves them empty when the knowledge base holds another model's vectors.
Status KnowledgeBaseService::embed_chunks(const store::KnowledgeBaseRow& kb, std::vector<store::ChunkRow>* rows) {
    if (!options_.embed) return Status::ok();
    if (!uses_this_model(kb)) {
        log::warn("knowledge base " + kb.name + " holds vectors of " + kb.embedding_model + ", not of " +
                  options_.embedding_model + ": adding documents without vectors (found by lexical search only)");
        return Status::ok();
    }
    for (size_t at = 0; at < rows->size(); at += kEmbedBatch) {
        const size_t end = std::min(rows->size(), at + kEmbedBatch);
        std::vector<std::string> texts;
        for (size_t i = at; i < end; ++i) texts.push_back((*rows)[i].text);
        Result<std::vector<std::vector<float>>> vectors = options_.embed(texts);
        if (!vectors.ok()) return vectors.status();
        SINAN_CHECK(vectors->size() == texts.size(), "KnowledgeBaseOptions::embed returned a wrong number of vectors");
        for (size_t i = at; i < end; ++i) (*rows)[i].embedding = std::move((*vectors)[i - at]);
    }
    if (kb.embedding_model.empty()) {
        Result<std::string> claimed = store_->claim_embedding_model(kb.id, options_.embedding_model);
        if (!claimed.ok()) return claimed.status();
        if (*claimed != options_.embedding_model) {  // another process claimed it first with its model
            log::warn("knowledge base " + kb.name + " was given vectors of " + *claimed +
                      " meanwhile: adding this document without vectors");
            for (store::ChunkRow& r : *rows) r.embedding.clear();
        }
    }
    return Status::ok();
}

// --- search ---

Result<std::shared_ptr<const KnowledgeBaseService::Index>> KnowledgeBaseService::index_for(
    const store::KnowledgeBaseRow& kb) {
    // The stamp is read before the rows: a change in between makes the next search rebuild again,
    // never keeps a stale index.
    Result<std::string> stamp = store_->content_stamp(kb.id);
    if (!stamp.ok()) return stamp.status();
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = indexes_.find(kb.id);
        if (it != indexes_.end() && it->second->stamp == *stamp) return it->second;
    }
    // One build at a time per knowledge base: searches that find the index stale together wait
    // for the first one's build (then take it when it is current) rather than each building and
    // saving it again.
    const std::shared_ptr<Build> build = build_of(kb.id);
    std::lock_guard<std::mutex> build_lock(build->mu);
    if (build->removed) return Status::error("knowledge base " + kb.name + " was deleted during the search");
    stamp = store_->content_stamp(kb.id);
    if (!stamp.ok()) return stamp.status();
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = indexes_.find(kb.id);
        if (it != indexes_.end() && it->second->stamp == *stamp) return it->second;
    }
    Result<std::vector<store::DocumentRow>> docs = store_->list_documents(kb.id);
    if (!docs.ok()) return docs.status();
    Result<std::vector<store::ChunkRow>> chunks = store_->list_chunks(kb.id);
    if (!chunks.ok()) return chunks.status();
    auto index = std::make_shared<Index>(options_.retrieval);
    index->stamp = *stamp;
    std::unordered_map<int64_t, Metadata> metas;
    for (const store::DocumentRow& d : *docs) {
        Result<Metadata> m = parse_metadata(d.metadata_json);
        Metadata meta = m.ok() ? std::move(*m) : Metadata();
        meta["source"] = d.source;
        metas[d.id] = std::move(meta);
    }
    // Vectors only serve a service that embeds queries with the same model. The HNSW graph of
    // the last build is read back from the data directory, so only chunks new since then are
    // inserted (the costly part); a file that is mostly stale is rebuilt from the store instead.
    const bool with_vectors = options_.embed && kb.embedding_model == options_.embedding_model;
    const fs::path file = with_vectors ? vector_file(kb) : fs::path();
    bool reused = false;
    if (with_vectors && fs::exists(file)) {
        if (Status s = index->retriever.load_vectors(file); !s.is_ok()) {
            log::warn("knowledge base " + kb.name + ": " + s.message() + "; building it again from the vectors in the store");
        } else {
            size_t hits = 0;
            for (const store::ChunkRow& c : *chunks) hits += index->retriever.has_vector(c.id) ? 1 : 0;
            const size_t stale = index->retriever.n_vectors() - hits + index->retriever.n_removed_vectors();
            reused = stale <= hits;
            if (!reused) {
                index = std::make_shared<Index>(options_.retrieval);
                index->stamp = *stamp;
            }
        }
    }
    for (const store::DocumentRow& d : *docs) index->sources[d.id] = d.source;
    size_t inserted = 0;
    for (store::ChunkRow& c : *chunks) {
        const bool insert = with_vectors && !index->retriever.has_vector(c.id);
        const std::span<const float> vector = insert ? std::span<const float>(c.embedding) : std::span<const float>();
        if (Status s = index->retriever.add(c.id, c.text, vector, metas[c.document_id]); !s.is_ok()) {
            if (vector.empty()) return s;
            log::warn("knowledge base " + kb.name + ": chunk " + std::to_string(c.id) +
                      " indexed without its vector: " + s.message());
            SINAN_RETURN_IF_ERROR(index->retriever.add(c.id, c.text, {}, metas[c.document_id]));
        } else if (!vector.empty()) {
            ++inserted;
        }
        index->chunks.emplace(c.id, Index::ChunkRef{c.document_id, std::move(c.location), std::move(c.text)});
    }
    if (with_vectors) {
        const size_t pruned = index->retriever.prune_vectors();
        if (!reused || inserted > 0 || pruned > 0) {
            std::error_code ec;
            fs::create_directories(file.parent_path(), ec);
            if (Status s = index->retriever.save_vectors(file); !s.is_ok())
                log::warn("knowledge base " + kb.name + ": " + s.message() + "; its vector index is rebuilt on the next start");
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    indexes_[kb.id] = index;
    return std::shared_ptr<const Index>(index);
}

std::shared_ptr<KnowledgeBaseService::Build> KnowledgeBaseService::build_of(int64_t kb_id) {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Build>& b = building_[kb_id];
    if (!b) b = std::make_shared<Build>();
    return b;
}

fs::path KnowledgeBaseService::vector_dir() const { return fs::path(options_.data_dir) / "vectors"; }

fs::path KnowledgeBaseService::vector_file(const store::KnowledgeBaseRow& kb) const {
    // The store and the model are in the name: a data directory used with another store (whose
    // ids mean other knowledge bases) or a knowledge base of another model never reads it.
    const std::string key = sha256_hex(store_->describe() + "\n" + kb.embedding_model).substr(0, 16);
    return vector_dir() / ("kb-" + std::to_string(kb.id) + "-" + key + ".hnsw");
}

void KnowledgeBaseService::remove_vector_files(int64_t kb_id) {
    const std::string prefix = "kb-" + std::to_string(kb_id) + "-";
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(vector_dir(), ec)) {
        if (!e.path().filename().string().starts_with(prefix)) continue;
        if (!fs::remove(e.path(), ec) && ec) log::warn(e.path().string() + ": cannot remove: " + ec.message());
    }
}

Result<std::vector<Passage>> KnowledgeBaseService::search(const std::string& kb, const std::string& query, size_t k,
                                                          const MetadataFilter& filter, RetrievalMode mode,
                                                          bool rerank) {
    rerank = rerank && options_.rerank && k > 0;
    Result<store::KnowledgeBaseRow> row = get(kb);
    if (!row.ok()) return row.status();
    Result<std::shared_ptr<const Index>> index = index_for(*row);
    if (!index.ok()) return index.status();
    RetrievalQuery q;
    q.text = query;
    q.k = rerank ? std::max(k, options_.rerank_candidates) : k;
    q.filter = filter;
    q.mode = mode;
    const bool needs_vectors = mode == RetrievalMode::kDense || mode == RetrievalMode::kHybrid;
    if (!options_.embed) {
        if (needs_vectors)
            return Status::error(std::string(retrieval_mode_name(mode)) + " search of knowledge base " + kb +
                                 " needs an embedding model; give --embedding-model FILE.gguf or search lexical");
        q.mode = RetrievalMode::kLexical;
    } else if (!uses_this_model(*row)) {
        if (needs_vectors)
            return Status::error("knowledge base " + kb + " holds vectors of " + row->embedding_model +
                                 ", this service embeds with " + options_.embedding_model +
                                 "; give --embedding-model of " + row->embedding_model + " or search lexical");
        q.mode = RetrievalMode::kLexical;
        std::lock_guard<std::mutex> lock(mu_);
        if (warned_model_.insert(row->id).second)
            log::warn("knowledge base " + kb + " holds vectors of " + row->embedding_model + ", not of " +
                      options_.embedding_model + ": searching it lexically");
    } else if (needs_vectors || (mode == RetrievalMode::kAuto && (*index)->retriever.n_vectors() > 0)) {
        Result<std::vector<std::vector<float>>> v = options_.embed({query});
        if (!v.ok()) return v.status();
        SINAN_CHECK(v->size() == 1, "KnowledgeBaseOptions::embed returned a wrong number of vectors");
        q.embedding = std::move(v->front());
    }
    Result<std::vector<RetrievedChunk>> hits = (*index)->retriever.search(q);
    if (!hits.ok()) return hits.status();
    std::vector<Passage> out;
    for (const RetrievedChunk& h : *hits) {
        const auto it = (*index)->chunks.find(h.chunk_id);
        if (it == (*index)->chunks.end()) continue;
        Passage p;
        p.chunk_id = h.chunk_id;
        p.document_id = it->second.document_id;
        const auto source = (*index)->sources.find(it->second.document_id);
        if (source != (*index)->sources.end()) p.source = source->second;
        p.location = it->second.location;
        p.text = it->second.text;
        p.score = h.score;
        p.lexical_rank = h.lexical_rank;
        p.dense_rank = h.dense_rank;
        out.push_back(std::move(p));
    }
    if (rerank && !out.empty()) SINAN_RETURN_IF_ERROR(rerank_passages(query, k, &out));
    return out;
}

Status KnowledgeBaseService::rerank_passages(const std::string& query, size_t k, std::vector<Passage>* passages) {
    std::vector<std::string> texts;
    texts.reserve(passages->size());
    for (const Passage& p : *passages) texts.push_back(p.text);
    Result<std::vector<float>> scores = options_.rerank(query, texts);
    if (!scores.ok()) return scores.status();
    SINAN_CHECK(scores->size() == texts.size(), "KnowledgeBaseOptions::rerank returned a wrong number of scores");
    for (size_t i = 0; i < passages->size(); ++i) {
        (*passages)[i].reranked = true;
        (*passages)[i].rerank_score = (*scores)[i];
    }
    std::stable_sort(passages->begin(), passages->end(),
                     [](const Passage& a, const Passage& b) { return a.rerank_score > b.rerank_score; });
    if (passages->size() > k) passages->resize(k);
    return Status::ok();
}

}  // namespace sinan::knowledge
