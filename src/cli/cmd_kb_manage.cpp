// `sinan kb create|ls|add|rm|search|ask|jobs|resume`: knowledge bases on the store directly (SQLite
// in the data directory, or PostgreSQL with --store), through KnowledgeBaseService
// (src/knowledge/knowledge_base.h), or with --server URL on a running `sinan serve` through its
// REST routes (kb_remote.h). Both print the same JSON shapes (knowledge/kb_json.h) and tables.
// `kb ask` answers extractively from the store, or with the server's model. `kb eval` lives in
// cmd_kb.cpp.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "api/data_dir.h"
#include "api/kb_grounding.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "cli/kb_remote.h"
#include "engine/embedding_hook.h"
#include "knowledge/kb_json.h"
#include "knowledge/knowledge_base.h"

namespace sinan::cli {

namespace {

namespace fs = std::filesystem;
using knowledge::KnowledgeBaseService;

using ojson = nlohmann::ordered_json;

struct StoreArgs {
    std::string data_dir, store;
    std::string server, api_key;  // --server: work on a running sinan serve instead of the store
    bool remote() const { return !server.empty(); }
};

void add_store_options(CLI::App* cmd, StoreArgs& a) {
    cmd->add_option("--data-dir", a.data_dir,
                    "Data directory (default $SINAN_DATA_DIR, else ./sinan-data): knowledge.db and uploads/");
    cmd->add_option("--store", a.store,
                    "postgres://user@host:port/db to use a PostgreSQL store instead of SQLite in the data directory");
    cmd->add_option("--server", a.server,
                    "Work on the knowledge bases of a running sinan serve at this URL (http://HOST:PORT) instead");
    cmd->add_option("--api-key", a.api_key, "API key for --server (default $SINAN_API_KEY)");
}

KbRemote remote(const StoreArgs& a) { return KbRemote(a.server, a.api_key); }
std::string kb_path(const std::string& name) { return "/api/v1/kb/" + KbRemote::escape(name); }

// `hook` (--embedding-model) and `reranker` (--reranker-model) must outlive the service.
std::unique_ptr<KnowledgeBaseService> open_service(const StoreArgs& a, bool resume_jobs,
                                                   const engine::EmbeddingHook* hook = nullptr,
                                                   const engine::RerankHook* reranker = nullptr) {
    knowledge::KnowledgeBaseOptions o;
    o.data_dir = api::resolve_data_dir(a.data_dir);
    o.store_spec = a.store;
    o.resume_jobs = resume_jobs;
    if (hook != nullptr) {
        o.embed = hook->function();
        o.embedding_model = hook->model_id();
    }
    if (reranker != nullptr) o.rerank = reranker->function();
    std::error_code ec;
    fs::create_directories(o.data_dir, ec);
    if (ec) fail("data directory " + o.data_dir + ": cannot create: " + ec.message());
    Result<std::unique_ptr<KnowledgeBaseService>> s = KnowledgeBaseService::open(o);
    if (!s.ok()) fail(s.message());
    return std::move(*s);
}

template <typename T>
T value_or_fail(Result<T> r) {
    if (!r.ok()) fail(r.message());
    return std::move(*r);
}

// --embedding-model FILE for work on the store (null when not given); with --server it is refused:
// the server embeds with its own model.
std::unique_ptr<engine::EmbeddingHook> load_embedding_hook(const StoreArgs& a, const std::string& model) {
    if (model.empty()) return nullptr;
    if (a.remote()) fail("--embedding-model is the server's own (sinan serve --embedding-model)");
    return value_or_fail(engine::EmbeddingHook::load(model));
}

// --reranker-model FILE, likewise (the server re-ranks with its own --reranker-model).
std::unique_ptr<engine::RerankHook> load_rerank_hook(const StoreArgs& a, const std::string& model) {
    if (model.empty()) return nullptr;
    if (a.remote()) fail("--reranker-model is the server's own (sinan serve --reranker-model)");
    return value_or_fail(engine::RerankHook::load(model));
}

std::string format_time(int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

// Follows a job (kb_json.h's job shape, read by `fetch`) to its end with a progress bar; prints
// one stderr line per failed file and a summary on stdout. Returns the job's final state.
ojson follow_job(int64_t id, const std::function<ojson()>& fetch) {
    ProgressBar bar("ingesting job " + std::to_string(id));
    ojson job;
    for (;;) {
        job = fetch();
        bar.update(job.value("done", 0), job.value("total", 0));
        const std::string status = job.value("status", "");
        if (status != "queued" && status != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::map<std::string, int> counts;
    for (const ojson& f : job["files"]) ++counts[f.value("status", "")];
    bar.finish(std::to_string(job.value("done", 0)) + " of " + std::to_string(job.value("total", 0)) + " files");
    for (const ojson& f : job["files"]) {
        if (f.value("status", "") != "failed") continue;
        // The service's reasons mostly start with the file's name already.
        const std::string source = f.value("source", ""), message = f.value("message", "");
        const std::string line = message.starts_with(source + ": ") ? message : source + ": " + message;
        std::fprintf(stderr, "sinan: failed: %s\n", line.c_str());
    }
    std::printf("job %lld %s: %d added, %d updated, %d unchanged, %d failed\n", static_cast<long long>(id),
                job.value("status", "").c_str(), counts["added"], counts["updated"], counts["unchanged"],
                counts["failed"]);
    if (!job.value("error", "").empty())
        std::fprintf(stderr, "sinan: job %lld: %s\n", static_cast<long long>(id), job.value("error", "").c_str());
    return job;
}

ojson follow_job(KnowledgeBaseService& service, int64_t id) {
    return follow_job(id, [&] {
        const store::JobRow j = value_or_fail(service.job(id));
        return knowledge::job_json(j, "");
    });
}

// Runs every job open() resumed to its end; returns how many.
size_t finish_resumed(KnowledgeBaseService& service) {
    const std::vector<int64_t> resumed = service.resumed_jobs();
    for (int64_t id : resumed) {
        std::fprintf(stderr, "sinan: resuming job %lld, left unfinished by a process that stopped\n",
                     static_cast<long long>(id));
        follow_job(service, id);
    }
    return resumed.size();
}

// --- kb create ---

struct CreateArgs : StoreArgs {
    std::string name, description;
};

void run_create(const CreateArgs& a) {
    if (a.remote()) {
        const ojson kb = remote(a).post("/api/v1/kb", {{"name", a.name}, {"description", a.description}});
        std::printf("created knowledge base %s (%s)\n", kb.value("name", "").c_str(), a.server.c_str());
        return;
    }
    auto service = open_service(a, false);
    const store::KnowledgeBaseRow kb = value_or_fail(service->create(a.name, a.description));
    std::printf("created knowledge base %s (%s)\n", kb.name.c_str(), service->store_description().c_str());
}

// --- kb ls ---

struct LsArgs : StoreArgs {
    std::string name;
    bool json = false;
};

// Knowledge bases with their document and chunk counts (kb_json.h shape plus "documents", "chunks").
ojson list_kbs(const LsArgs& a) {
    ojson out = ojson::array();
    auto add = [&](ojson row, const ojson& docs) {
        int n_chunks = 0;
        for (const ojson& d : docs) n_chunks += d.value("chunks", 0);
        row["documents"] = docs.size();
        row["chunks"] = n_chunks;
        out.push_back(std::move(row));
    };
    if (a.remote()) {
        KbRemote r = remote(a);
        const ojson kbs = r.get("/api/v1/kb")["data"];
        for (const ojson& kb : kbs) add(kb, r.get(kb_path(kb.value("name", "")) + "/documents")["data"]);
        return out;
    }
    auto service = open_service(a, false);
    for (const store::KnowledgeBaseRow& kb : value_or_fail(service->list())) {
        ojson docs = ojson::array();
        for (const store::DocumentRow& d : value_or_fail(service->documents(kb.name)))
            docs.push_back(knowledge::document_json(d));
        add(knowledge::kb_json(kb), docs);
    }
    return out;
}

ojson list_documents(const LsArgs& a) {
    if (a.remote()) return remote(a).get(kb_path(a.name) + "/documents")["data"];
    auto service = open_service(a, false);
    ojson out = ojson::array();
    for (const store::DocumentRow& d : value_or_fail(service->documents(a.name)))
        out.push_back(knowledge::document_json(d));
    return out;
}

void run_ls(const LsArgs& a) {
    const ojson rows = a.name.empty() ? list_kbs(a) : list_documents(a);
    if (a.json) {
        std::printf("%s\n", rows.dump().c_str());
        return;
    }
    if (a.name.empty()) {
        if (!rows.empty())
            std::printf("%-24s %9s %8s  %-16s  %s\n", "NAME", "DOCUMENTS", "CHUNKS", "CREATED", "DESCRIPTION");
        for (const ojson& kb : rows)
            std::printf("%-24s %9d %8d  %-16s  %s\n", kb.value("name", "").c_str(), kb.value("documents", 0),
                        kb.value("chunks", 0), format_time(kb.value("created_at", int64_t{0})).c_str(),
                        kb.value("description", "").c_str());
        return;
    }
    if (!rows.empty())
        std::printf("%-40s %-7s %7s %6s %10s  %s\n", "SOURCE", "STATUS", "VERSION", "CHUNKS", "SIZE", "UPDATED");
    for (const ojson& d : rows) {
        std::printf("%-40s %-7s %7d %6d %10s  %s\n", d.value("source", "").c_str(), d.value("status", "").c_str(),
                    d.value("version", 0), d.value("chunks", 0),
                    format_bytes(d.value("size_bytes", uint64_t{0})).c_str(),
                    format_time(d.value("updated_at", int64_t{0})).c_str());
        if (!d.value("error", "").empty()) std::printf("    %s\n", d.value("error", "").c_str());
    }
}

// --- kb add ---

struct AddArgs : StoreArgs {
    std::string name, embedding_model;
    std::vector<std::string> paths;
    std::vector<std::string> meta;
};

struct FileToAdd {
    std::string source, path;
};

// Files named on the command line are taken as they are; folders are walked for files with an
// extension the extractors know (hidden entries skipped), named "<folder>/<relative path>".
std::vector<FileToAdd> collect_files(const std::vector<std::string>& paths) {
    std::vector<FileToAdd> out;
    for (const std::string& p : paths) {
        std::error_code ec;
        const fs::path path(p);
        if (fs::is_regular_file(path, ec)) {
            out.push_back({path.filename().string(), p});
        } else if (fs::is_directory(path, ec)) {
            const fs::path base = fs::weakly_canonical(path, ec);
            std::vector<FileToAdd> found;
            for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
                 it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (ec) break;
                const std::string name = it->path().filename().string();
                if (!name.empty() && name[0] == '.') {
                    if (it->is_directory()) it.disable_recursion_pending();
                    continue;
                }
                if (!it->is_regular_file() || !knowledge::has_supported_extension(name)) continue;
                found.push_back(
                    {(base.filename() / fs::relative(it->path(), path)).generic_string(), it->path().string()});
            }
            std::sort(found.begin(), found.end(),
                      [](const FileToAdd& x, const FileToAdd& y) { return x.source < y.source; });
            out.insert(out.end(), found.begin(), found.end());
        } else {
            fail(p + ": no such file or folder");
        }
    }
    return out;
}

std::string metadata_json(const std::vector<std::string>& pairs) {
    nlohmann::json meta = nlohmann::json::object();
    for (const std::string& kv : pairs) {
        const size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) fail("--meta " + kv + ": give key=value");
        meta[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return pairs.empty() ? "" : meta.dump();
}

void run_add(const AddArgs& a) {
    const std::vector<FileToAdd> files = collect_files(a.paths);
    if (files.empty()) fail("nothing to add: no files with a known extension under the given folders");
    const std::string meta = metadata_json(a.meta);
    const std::unique_ptr<engine::EmbeddingHook> hook = load_embedding_hook(a, a.embedding_model);
    if (a.remote()) {
        std::vector<std::pair<std::string, std::string>> uploads;
        for (const FileToAdd& f : files) uploads.emplace_back(f.source, f.path);
        KbRemote r = remote(a);
        const ojson job = r.upload(kb_path(a.name) + "/documents", uploads, meta == "{}" ? "" : meta);
        const int64_t id = job.value("id", int64_t{0});
        std::fprintf(stderr, "sinan: job %lld queued on %s: %d files\n", static_cast<long long>(id),
                     a.server.c_str(), job.value("total", 0));
        const ojson done = follow_job(id, [&] { return r.get("/api/v1/jobs/" + std::to_string(id)); });
        int failed = 0;
        for (const ojson& f : done["files"]) failed += f.value("status", "") == "failed";
        if (done.value("status", "") != "done" || failed == done.value("total", 0)) std::exit(2);
        return;
    }
    auto service = open_service(a, true, hook.get());
    finish_resumed(*service);
    knowledge::Upload upload = value_or_fail(service->begin_upload(a.name));
    ProgressBar copying("copying");
    for (size_t i = 0; i < files.size(); ++i) {
        Status s = upload.add_path(files[i].source, files[i].path);
        if (!s.is_ok()) fail(s.message());
        copying.update(i + 1, files.size());
    }
    copying.finish(std::to_string(files.size()) + " files");
    const store::JobRow job = value_or_fail(service->submit(std::move(upload), meta));
    std::fprintf(stderr, "sinan: job %lld queued: %d files\n", static_cast<long long>(job.id), job.n_total);
    std::fflush(stderr);
    const ojson done = follow_job(*service, job.id);
    int failed = 0;
    for (const ojson& f : done["files"]) failed += f.value("status", "") == "failed";
    if (done.value("status", "") != "done" || failed == done.value("total", 0)) std::exit(2);
}

// --- kb rm ---

struct RmArgs : StoreArgs {
    std::string name, source;
};

void run_rm(const RmArgs& a) {
    if (a.remote()) {
        KbRemote r = remote(a);
        if (a.source.empty()) {
            r.del(kb_path(a.name));
            std::printf("deleted knowledge base %s\n", a.name.c_str());
        } else {
            r.del(kb_path(a.name) + "/documents/" + KbRemote::escape(a.source));
            std::printf("deleted %s from %s\n", a.source.c_str(), a.name.c_str());
        }
        return;
    }
    auto service = open_service(a, false);
    if (a.source.empty()) {
        Status s = service->remove(a.name);
        if (!s.is_ok()) fail(s.message());
        std::printf("deleted knowledge base %s\n", a.name.c_str());
    } else {
        Status s = service->remove_document(a.name, a.source);
        if (!s.is_ok()) fail(s.message());
        std::printf("deleted %s from %s\n", a.source.c_str(), a.name.c_str());
    }
}

// --- kb search ---

struct SearchArgs : StoreArgs {
    std::string name, query, embedding_model, reranker_model, mode = "auto";
    size_t k = 10;
    bool json = false, no_rerank = false;
};

// Passages in kb_json.h's shape, from the store or the server.
ojson search_passages(const SearchArgs& a) {
    const std::unique_ptr<engine::EmbeddingHook> hook = load_embedding_hook(a, a.embedding_model);
    const std::unique_ptr<engine::RerankHook> reranker = load_rerank_hook(a, a.reranker_model);
    if (a.remote())
        return remote(a).post(kb_path(a.name) + "/search",
                              {{"query", a.query}, {"k", a.k}, {"mode", a.mode}, {"rerank", !a.no_rerank}})["data"];
    const knowledge::RetrievalMode mode = value_or_fail(knowledge::parse_retrieval_mode(a.mode));
    auto service = open_service(a, false, hook.get(), reranker.get());
    ojson out = ojson::array();
    for (const knowledge::Passage& p : value_or_fail(service->search(a.name, a.query, a.k, {}, mode, !a.no_rerank)))
        out.push_back(knowledge::passage_json(p));
    return out;
}

void run_search(const SearchArgs& a) {
    const ojson hits = search_passages(a);
    if (a.json) {
        std::printf("%s\n", hits.dump().c_str());
        return;
    }
    for (size_t i = 0; i < hits.size(); ++i) {
        const ojson& p = hits[i];
        const std::string location = p.value("location", "");
        const bool reranked = p.contains("rerank_score");
        std::printf("%zu. %s%s%s  (%s %.3f)\n", i + 1, p.value("source", "").c_str(), location.empty() ? "" : " — ",
                    location.c_str(), reranked ? "rerank score" : "score",
                    reranked ? p["rerank_score"].get<double>() : p.value("score", 0.0));
        std::string text = p.value("text", "");
        if (text.size() > 300) text = text.substr(0, 300) + "...";
        std::replace(text.begin(), text.end(), '\n', ' ');
        std::printf("   %s\n", text.c_str());
    }
}

// --- kb jobs, kb resume ---

struct JobsArgs : StoreArgs {
    std::string name;
    bool json = false;
};

ojson list_jobs(const JobsArgs& a) {
    if (a.remote()) return remote(a).get(a.name.empty() ? "/api/v1/jobs" : kb_path(a.name) + "/jobs")["data"];
    auto service = open_service(a, false);
    std::unordered_map<int64_t, std::string> names;
    for (const store::KnowledgeBaseRow& kb : value_or_fail(service->list())) names[kb.id] = kb.name;
    ojson out = ojson::array();
    for (const store::JobRow& j : value_or_fail(service->jobs(a.name))) out.push_back(knowledge::job_json(j, names[j.kb_id]));
    return out;
}

void run_jobs(const JobsArgs& a) {
    const ojson jobs = list_jobs(a);
    if (a.json) {
        std::printf("%s\n", jobs.dump().c_str());
        return;
    }
    if (!jobs.empty()) std::printf("%6s  %-24s %-12s %11s  %s\n", "JOB", "KNOWLEDGE BASE", "STATUS", "DONE", "CREATED");
    bool interrupted = false;
    for (const ojson& j : jobs) {
        const std::string done = std::to_string(j.value("done", 0)) + "/" + std::to_string(j.value("total", 0));
        std::printf("%6lld  %-24s %-12s %11s  %s\n", static_cast<long long>(j.value("id", int64_t{0})),
                    j.value("knowledge_base", "").c_str(), j.value("status", "").c_str(), done.c_str(),
                    format_time(j.value("created_at", int64_t{0})).c_str());
        interrupted |= j.value("status", "") == "interrupted" && j.value("done", 0) < j.value("total", 0);
    }
    if (interrupted)
        std::fprintf(stderr, "sinan: interrupted jobs resume with `sinan kb resume` (or the next `sinan kb add`)\n");
}

struct ResumeArgs : StoreArgs {
    std::string embedding_model;
};

void run_resume(const ResumeArgs& a) {
    if (a.remote()) fail("a server resumes its own interrupted jobs when it starts; kb resume works on a store");
    const std::unique_ptr<engine::EmbeddingHook> hook = load_embedding_hook(a, a.embedding_model);
    auto service = open_service(a, true, hook.get());
    if (finish_resumed(*service) == 0) std::printf("no interrupted jobs\n");
}

// --- kb ask ---

struct AskArgs : StoreArgs {
    std::string name, question, model, embedding_model, reranker_model;
    int k = 5;
    int64_t max_tokens = -1;
    bool grounded = false, json = false;
};

// The answer of a running server's POST /api/v1/chat with "knowledge_base".
ojson ask_server(const AskArgs& a) {
    ojson body = {{"query", a.question}, {"knowledge_base", a.name}, {"top_k", a.k}, {"grounded", a.grounded}};
    if (!a.model.empty()) body["model"] = a.model;
    if (a.max_tokens > 0) body["max_tokens"] = a.max_tokens;
    return remote(a).post("/api/v1/chat", body);
}

// The extractive answer from the local store: the passages' best sentences, cited.
nlohmann::ordered_json ask_local(const AskArgs& a, const engine::EmbeddingHook* hook,
                                 const engine::RerankHook* reranker) {
    auto service = open_service(a, false, hook, reranker);
    api::Grounding g;
    g.fields.knowledge_base = a.name;
    g.fields.grounded = a.grounded;
    g.fields.top_k = a.k;
    g.query = a.question;
    g.passages = value_or_fail(service->search(a.name, a.question, static_cast<size_t>(a.k)));
    const api::GroundedAnswer ans = api::extractive_answer(g);
    return {{"answer", ans.answer},
            {"confidence", ans.confidence},
            {"citations", ans.citations},
            {"grounding", api::grounding_json(g, ans, "extractive")}};
}

void run_ask(const AskArgs& a) {
    const std::unique_ptr<engine::EmbeddingHook> hook = load_embedding_hook(a, a.embedding_model);
    const std::unique_ptr<engine::RerankHook> reranker = load_rerank_hook(a, a.reranker_model);
    const ojson out = a.remote() ? ask_server(a) : ask_local(a, hook.get(), reranker.get());
    if (a.json) {
        std::printf("%s\n", out.dump().c_str());
        return;
    }
    std::printf("%s\n", out.value("answer", "").c_str());
    const nlohmann::ordered_json citations = out.value("citations", nlohmann::ordered_json::array());
    bool any = false;
    for (const auto& c : citations) {
        if (!c.value("cited", false)) continue;
        if (!any) std::printf("\nsources:\n");
        any = true;
        const std::string location = c.value("location", "");
        std::printf("  [%d] %s%s%s\n", c.value("id", 0), c.value("document", "").c_str(), location.empty() ? "" : " — ",
                    location.c_str());
    }
    const std::string mode = out.contains("grounding") ? out["grounding"].value("mode", "") : "";
    std::fprintf(stderr, "confidence %.2f (%s answer, %zu passages)\n", out.value("confidence", 0.0), mode.c_str(),
                 citations.size());
}

}  // namespace

void register_kb_manage(CLI::App& kb) {
    auto create = std::make_shared<CreateArgs>();
    CLI::App* c = kb.add_subcommand("create", "Create an empty knowledge base");
    c->add_option("name", create->name, "Name: letters, digits, '-', '_', '.'")->required();
    c->add_option("--description", create->description, "What the knowledge base holds");
    add_store_options(c, *create);
    c->callback([create] { run_create(*create); });

    auto ls = std::make_shared<LsArgs>();
    CLI::App* l = kb.add_subcommand("ls", "List knowledge bases, or the documents of one (status, version, chunks)");
    l->add_option("name", ls->name, "Knowledge base whose documents to list");
    l->add_flag("--json", ls->json, "Print JSON");
    add_store_options(l, *ls);
    l->callback([ls] { run_ls(*ls); });

    auto add = std::make_shared<AddArgs>();
    CLI::App* a = kb.add_subcommand(
        "add",
        "Add or update documents from files and folders (txt, md, html, pdf, docx, csv, json, images); "
        "unchanged files are skipped. Exit 2 when every file failed");
    a->add_option("name", add->name, "Knowledge base")->required();
    a->add_option("paths", add->paths, "Files and folders (folders are walked for known extensions)")->required();
    a->add_option("--meta", add->meta, "key=value metadata for every document added (repeatable)");
    a->add_option("--embedding-model", add->embedding_model,
                  "Embedding model (GGUF) to store a vector with each chunk, for dense and hybrid search");
    add_store_options(a, *add);
    a->callback([add] { run_add(*add); });

    auto rm = std::make_shared<RmArgs>();
    CLI::App* r = kb.add_subcommand("rm", "Delete a knowledge base, or one document of it");
    r->add_option("name", rm->name, "Knowledge base")->required();
    r->add_option("source", rm->source, "Document to delete (its source name as `kb ls NAME` shows it)");
    add_store_options(r, *rm);
    r->callback([rm] { run_rm(*rm); });

    auto search = std::make_shared<SearchArgs>();
    CLI::App* s = kb.add_subcommand("search", "Search a knowledge base: the best passages with source and location");
    s->add_option("name", search->name, "Knowledge base")->required();
    s->add_option("query", search->query, "What to look for")->required();
    s->add_option("-k", search->k, "Passages to return (default 10)")->check(CLI::Range(1, 1000));
    s->add_flag("--json", search->json, "Print [{\"source\", \"location\", \"text\", \"score\", ...}]");
    s->add_option("--embedding-model", search->embedding_model,
                  "The knowledge base's embedding model (GGUF), to search by vectors too");
    s->add_option("--reranker-model", search->reranker_model,
                  "Cross-encoder reranker (GGUF, e.g. bge-reranker) to order the best 50 passages before taking -k");
    s->add_flag("--no-rerank", search->no_rerank, "Retrieval's order even where a reranker is configured (--server)");
    s->add_option("--mode", search->mode,
                  "auto (hybrid with --embedding-model and vectors, else lexical), lexical, dense or hybrid")
        ->capture_default_str();
    add_store_options(s, *search);
    s->callback([search] { run_search(*search); });

    auto ask = std::make_shared<AskArgs>();
    CLI::App* q = kb.add_subcommand(
        "ask",
        "Answer a question from a knowledge base, with citations. Locally: the passages' best sentences "
        "(extractive); with --server: the server's model answers from the passages");
    q->add_option("name", ask->name, "Knowledge base")->required();
    q->add_option("question", ask->question, "The question")->required();
    q->add_option("-k,--top-k", ask->k, "Passages to answer from (default 5)")->check(CLI::Range(1, 50));
    q->add_flag("--grounded", ask->grounded, "Say \"I don't know\" when no passage supports an answer");
    q->add_flag("--json", ask->json, "Print {\"answer\", \"confidence\", \"citations\", \"grounding\", ...}");
    q->add_option("-m,--model", ask->model, "With --server: the model id to answer with (default: the server's)");
    q->add_option("--max-tokens", ask->max_tokens, "With --server: most tokens to generate");
    q->add_option("--embedding-model", ask->embedding_model,
                  "The knowledge base's embedding model (GGUF), to find the passages by vectors too (hybrid)");
    q->add_option("--reranker-model", ask->reranker_model,
                  "Cross-encoder reranker (GGUF) to choose the passages to answer from among the best 50");
    add_store_options(q, *ask);
    q->callback([ask] { run_ask(*ask); });

    auto jobs = std::make_shared<JobsArgs>();
    CLI::App* j = kb.add_subcommand("jobs", "List ingestion jobs (newest first) with their progress");
    j->add_option("name", jobs->name, "Only this knowledge base's jobs");
    j->add_flag("--json", jobs->json, "Print JSON, with every file's result");
    add_store_options(j, *jobs);
    j->callback([jobs] { run_jobs(*jobs); });

    auto resume = std::make_shared<ResumeArgs>();
    CLI::App* re = kb.add_subcommand("resume", "Finish ingestion jobs that a stopped process left unfinished");
    re->add_option("--embedding-model", resume->embedding_model,
                   "Embedding model (GGUF) to store vectors with the resumed documents' chunks (as kb add)");
    add_store_options(re, *resume);
    re->callback([resume] { run_resume(*resume); });
}

}  // namespace sinan::cli
