// `sinan serve`: the HTTP API (OpenAI-compatible and native routes, docs/serving.md). Loads the
// -m model (and offers every model in --models-dir), binds, prints "listening on http://HOST:PORT"
// on stdout (the one line scripts and tests read), logs one line per request on stderr, and on
// SIGTERM or SIGINT drains: new requests get 503, running ones finish within --drain-grace, then
// it exits 0.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "api/audit_log.h"
#include "api/data_dir.h"
#include "api/keys.h"
#include "api/model_registry.h"
#include "api/response_cache.h"
#include "api/server.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/kv_type_option.h"
#include "engine/embedding_hook.h"
#include "knowledge/knowledge_base.h"

namespace sinan::cli {

namespace {

namespace fs = std::filesystem;

struct ServeArgs {
    std::string model, models_dir, data_dir, api_keys = "auto", cache = "memory", store, knowledge = "on";
    std::string embedding_model;  // for knowledge bases: dense + hybrid search
    std::string reranker_model;   // offered to POST /v1/rerank (its default there), kept loaded beside -m
    std::string context_shift = "chat";
    int64_t cache_mib = 64, kv_memory_mib = 0, prompt_step_ms = 250;
    api::ServerOptions server;
    api::RegistryOptions registry;
    int64_t timeout_s = 600, idle_timeout_s = 30, drain_grace_s = 30, stream_interval_ms = 10;
    bool audit = false;
    std::vector<std::string> cors_origins;  // --cors-origin, parsed into server.cors
    std::vector<std::string> allow_hosts;   // --allow-host, with --host into server.hosts
};

std::vector<api::ModelFile> model_files(const ServeArgs& a, std::string* default_id) {
    std::vector<api::ModelFile> files;
    if (!a.model.empty()) {
        if (!fs::is_regular_file(a.model)) fail(a.model + ": no such model file (-m)");
        *default_id = fs::path(a.model).stem().string();
        files.push_back({*default_id, a.model});
    }
    std::string dir = a.models_dir;
    // Without -m or --models-dir, ./models/ is where `make run` and users put model files.
    if (dir.empty() && a.model.empty() && fs::is_directory("models")) dir = "models";
    if (!dir.empty()) {
        Result<std::vector<api::ModelFile>> found = api::ModelRegistry::scan_dir(dir);
        if (!found.ok()) fail(found.message());
        for (api::ModelFile& f : *found) {
            bool dup = false;
            for (const api::ModelFile& g : files) dup = dup || g.id == f.id;
            if (!dup) files.push_back(std::move(f));
        }
    }
    return files;
}

void serve(ServeArgs a) {
    // Signals are taken by sigwait below: block them before any thread starts, so every thread
    // inherits the mask and none is interrupted.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a client that went away is a failed write, not a dead server
    // A server's log is its record: one line per request at info level (-v adds debug).
    if (log::level() < log::Level::kInfo) log::set_level(log::Level::kInfo);

    if (a.server.port < 0 || a.server.port > 65535) fail("--port must be between 0 and 65535");
    if (a.registry.scheduler.n_parallel < 1) fail("--parallel must be at least 1");
    if (a.registry.scheduler.n_ctx < 16) fail("--ctx-size must be at least 16");
    if (a.registry.scheduler.max_queue < 0) fail("--queue must be 0 or more");
    if (a.registry.max_resident < 1) fail("--models-max must be at least 1");
    if (a.context_shift != "chat" && a.context_shift != "on" && a.context_shift != "off")
        fail("--context-shift takes chat, on or off");
    a.server.context_shift_chat = a.context_shift != "off";
    a.server.context_shift_completions = a.context_shift == "on";
    if (a.server.context_keep < -1) fail("--keep must be 0 or more (or -1 for the prompt)");
    a.registry.kv_memory_bytes = static_cast<uint64_t>(a.kv_memory_mib) << 20;
    a.registry.scheduler.prompt_step_seconds = static_cast<double>(a.prompt_step_ms) / 1000.0;
    a.server.request_timeout = std::chrono::seconds(a.timeout_s);
    a.server.idle_timeout = std::chrono::seconds(std::max<int64_t>(a.idle_timeout_s, 1));
    if (a.stream_interval_ms < 0 || a.stream_interval_ms > 1000) fail("--stream-interval takes 0 to 1000 ms");
    a.server.stream_interval = std::chrono::milliseconds(a.stream_interval_ms);
    a.server.http_threads = static_cast<size_t>(a.registry.scheduler.n_parallel + a.registry.scheduler.max_queue) + 16;
    Result<api::CorsPolicy> cors = api::CorsPolicy::parse(a.cors_origins);
    if (!cors.ok()) fail(cors.message());
    a.server.cors = *cors;
    Result<api::HostPolicy> hosts = api::HostPolicy::make(a.server.host, a.allow_hosts);
    if (!hosts.ok()) fail(hosts.message());
    a.server.hosts = *hosts;

    const std::string data_dir = api::resolve_data_dir(a.data_dir);
    std::unique_ptr<api::KeyStore> keys;
    if (a.api_keys != "off") {
        if (a.api_keys != "on" && a.api_keys != "auto") fail("--api-keys takes off, on or auto");
        Result<std::unique_ptr<api::KeyStore>> k = api::KeyStore::open(data_dir);
        if (!k.ok()) fail(k.message());
        keys = std::move(k).value();
        if (a.api_keys == "on" && !keys->auth_required())
            fail("--api-keys on, but " + api::keys_path(data_dir) +
                 " holds no key: create one with `sinan keys create NAME --data-dir " + data_dir + "`");
    }
    std::unique_ptr<api::ResponseCache> cache;
    if (a.cache != "off") {
        Result<std::unique_ptr<api::ResponseCache>> c = api::open_response_cache(
            a.cache == "memory" ? "" : a.cache, static_cast<uint64_t>(std::max<int64_t>(a.cache_mib, 1)) << 20,
            std::chrono::seconds(3600));
        if (!c.ok()) fail(c.message());
        cache = std::move(c).value();
    }
    std::unique_ptr<api::AuditLog> audit;
    if (a.audit) {
        std::error_code ec;
        fs::create_directories(data_dir, ec);
        if (ec)
            fail(data_dir + ": cannot create the data directory (" + ec.message() + "); give another with --data-dir");
        Result<std::unique_ptr<api::AuditLog>> al = api::AuditLog::open((fs::path(data_dir) / "audit.log").string());
        if (!al.ok()) fail(al.message());
        audit = std::move(al).value();
    }

    std::string default_id;
    std::vector<api::ModelFile> files = model_files(a, &default_id);
    if (!a.reranker_model.empty()) {
        if (!fs::is_regular_file(a.reranker_model))
            fail(a.reranker_model + ": no such model file (--reranker-model)");
        a.registry.default_reranker = fs::path(a.reranker_model).stem().string();
        bool listed = false;
        for (const api::ModelFile& f : files) listed = listed || f.id == a.registry.default_reranker;
        if (!listed) files.push_back({a.registry.default_reranker, a.reranker_model});
        ++a.registry.max_resident;  // its own place: it does not unload the -m model
    }
    auto registry = std::make_unique<api::ModelRegistry>(files, default_id, a.registry);
    if (!default_id.empty())
        if (Status s = registry->preload(default_id); !s.is_ok()) fail(s.message());
    if (!a.registry.default_reranker.empty()) {
        if (Status s = registry->preload(a.registry.default_reranker); !s.is_ok())
            fail("--reranker-model: " + s.message());
        // preload loads whatever the file is; the flag promises a reranker.
        auto reranker = registry->acquire(a.registry.default_reranker, api::ModelKind::kReranker);
        if (std::holds_alternative<api::ApiError>(reranker))
            fail("--reranker-model: " + a.reranker_model +
                 " is not a cross-encoder reranker (a bert model with pooling_type rank, e.g. bge-reranker)");
    }
    // The models loaded above would have failed already; these are in --models-dir.
    for (const api::ModelFile& f : registry->files())
        if (!f.error.empty())
            log::warn("model \"" + f.id + "\" is listed but cannot be loaded: " + f.error +
                      " (a request for it is answered 500 model_load_failed)");
    if (files.empty()) log::warn(api::no_model_message() + " (health, metrics and the page work meanwhile)");

    // Declared before the service it serves: destroyed after it.
    std::unique_ptr<engine::EmbeddingHook> embedding;
    std::unique_ptr<knowledge::KnowledgeBaseService> kb;
    if (a.knowledge != "off") {
        if (a.knowledge != "on") fail("--knowledge takes on or off");
        std::error_code ec;
        fs::create_directories(data_dir, ec);
        if (ec)
            fail(data_dir + ": cannot create the data directory (" + ec.message() + "); give another with --data-dir");
        knowledge::KnowledgeBaseOptions ko;
        ko.data_dir = data_dir;
        ko.store_spec = a.store;
        if (!a.embedding_model.empty()) {
            Result<std::unique_ptr<engine::EmbeddingHook>> loaded = engine::EmbeddingHook::load(a.embedding_model);
            if (!loaded.ok()) fail("--embedding-model: " + loaded.message());
            embedding = std::move(loaded).value();
            ko.embed = embedding->function();
            ko.embedding_model = embedding->model_id();
            log::info("knowledge bases embed with " + embedding->model_id() + " (hybrid search)");
        }
        if (!a.registry.default_reranker.empty()) {
            // Search re-ranks with the registry's reranker (one copy for /v1/rerank and search); the
            // registry outlives every request that searches.
            ko.rerank = [reg = registry.get(), id = a.registry.default_reranker](
                            const std::string& query, const std::vector<std::string>& texts) -> Result<std::vector<float>> {
                auto acquired = reg->acquire(id, api::ModelKind::kReranker);
                if (auto* e = std::get_if<api::ApiError>(&acquired)) return Status::error(e->message);
                api::ModelLease lease = std::move(std::get<api::ModelLease>(acquired));
                return engine::rerank_for_search(*lease->reranker, id, query, texts);
            };
            log::info("knowledge-base searches are re-ranked by " + a.registry.default_reranker);
        }
        Result<std::unique_ptr<knowledge::KnowledgeBaseService>> opened = knowledge::KnowledgeBaseService::open(ko);
        if (!opened.ok()) fail(opened.message());
        kb = std::move(opened).value();
    }

    const std::string kb_text = kb ? "; knowledge bases in " + kb->store_description() : "; knowledge bases off";
    api::Server server(a.server, std::move(registry), std::move(keys), std::move(cache), std::move(audit),
                       std::move(kb));
    Result<int> port = server.bind();
    if (!port.ok()) fail(port.message());
    std::printf("listening on http://%s:%d\n", a.server.host.c_str(), *port);
    std::fflush(stdout);
    log::info(std::string("serving ") + std::to_string(files.size()) + " model(s); API keys " +
              (a.api_keys == "off" ? "off" : "checked when the data directory has any") + " (" + data_dir + ")" +
              (a.audit ? "; audit log on" : "") + "; cache " + a.cache + kb_text +
              "; browser pages of other origins: " + a.server.cors.describe() +
              " (--cors-origin); Host names answered: " + a.server.hosts.describe() + " (--allow-host)");

    const pthread_t main_thread = pthread_self();
    std::thread http([&server, main_thread] {
        server.serve();
        // If the listener stopped on its own, wake the main thread (while it drains, the signal
        // just stays pending).
        pthread_kill(main_thread, SIGTERM);
    });
    int sig = 0;
    sigwait(&signals, &sig);
    log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
    server.drain(std::chrono::seconds(a.drain_grace_s));
    http.join();
    log::info("stopped");
    // Returning destroys the server: each model's scheduler stops its engine thread first.
}

}  // namespace

void register_serve(CLI::App& app) {
    auto a = std::make_shared<ServeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "serve",
        "Serve models over HTTP: OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/models, the native "
        "/api/v1/chat, /health, /ready, /metrics and a chat page at /. Prints \"listening on http://HOST:PORT\" on "
        "stdout; SIGTERM or Ctrl-C drains and exits 0. Manual: docs/serving.md");
    cmd->add_option("-m,--model", a->model,
                    "The .gguf model to serve (its id is the file name without .gguf); "
                    "without -m or --models-dir, the models in ./models/ are offered");
    cmd->add_option("--host", a->server.host, "Address to listen on (0.0.0.0 for every interface)")
        ->capture_default_str();
    cmd->add_option("--port", a->server.port, "Port (0 = any free port, printed)")->capture_default_str();
    cmd->add_option("--data-dir", a->data_dir,
                    "Where API keys (keys.json) and the audit log live (default: $SINAN_DATA_DIR, else ./sinan-data)");
    cmd->add_option("--parallel", a->registry.scheduler.n_parallel, "Sequences generated at once per model")
        ->capture_default_str();
    cmd->add_option("-c,--ctx-size", a->registry.scheduler.n_ctx,
                    "Context per sequence in tokens (prompt + answer), capped at the model's")
        ->capture_default_str();
    cmd->add_option("--kv-memory", a->kv_memory_mib,
                    "KV cache memory per model in MiB, shared by its sequences (0 = room for --parallel full "
                    "contexts); requests wait for room in it")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
    cmd->add_option("-b,--batch-size", a->registry.scheduler.n_batch,
                    "Most tokens in one forward step: decoding's one a sequence, then prompts' chunks in arrival "
                    "order")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    cmd->add_option("--prompt-step-ms", a->prompt_step_ms,
                    "While sequences are generating, a step takes only the prompt tokens this machine computes in "
                    "about this long (at least 64), so a new long prompt does not stall the running streams "
                    "(each step holds all of them up); 0 = up to --batch-size")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{600000}));
    add_kv_type_option(cmd, &a->registry.scheduler.kv_type);
    cmd->add_option("--swa-window", a->registry.swa_window,
                    "Sliding-window attention over the last N positions for every model: each sequence keeps only "
                    "those in the KV cache, so --ctx-size bounds positions, not memory (0 = full attention; "
                    "default: each model's own attention.sliding_window, else full)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
    cmd->add_option("--context-shift", a->context_shift,
                    "When a generation whose max_tokens goes past --ctx-size fills its context: drop the older "
                    "half of its tokens after the kept start and go on (chat: on the chat routes, /v1/completions "
                    "refuses such max_tokens with 400; on: every route; off: every route refuses)")
        ->capture_default_str();
    cmd->add_option("--keep", a->server.context_keep,
                    "With context shift: tokens kept at the start (default -1: the prompt, up to half the context)")
        ->capture_default_str();
    cmd->add_option("--queue", a->registry.scheduler.max_queue,
                    "Requests that may wait for a slot per model; more get 503 + Retry-After")
        ->capture_default_str();
    cmd->add_option("--models-dir", a->models_dir,
                    "Offer every .gguf in this directory (loaded on first use, id = file name without .gguf)");
    cmd->add_option("--models-max", a->registry.max_resident,
                    "Models kept loaded at once; the least recently used idle one is unloaded")
        ->capture_default_str();
    cmd->add_option("-t,--threads", a->registry.n_threads, "Threads per forward pass (default: physical cores)");
    cmd->add_option("--api-keys", a->api_keys,
                    "auto: require Authorization: Bearer when the data directory has keys (sinan keys create); on: "
                    "refuse to start without keys; off: no keys")
        ->capture_default_str();
    cmd->add_option("--cache", a->cache,
                    "Response cache for deterministic requests (temperature 0 or a seed): memory, off, or "
                    "redis://HOST:PORT[/DB]")
        ->capture_default_str();
    cmd->add_option("--cache-size", a->cache_mib, "Size of the memory cache in MiB")->capture_default_str();
    cmd->add_flag("--audit", a->audit, "Append who asked what to <data-dir>/audit.log (JSON lines, fsync'd)");
    cmd->add_option("--timeout", a->timeout_s,
                    "Seconds one generation may take, queueing included; then it ends as \"length\" (0 = no limit)")
        ->capture_default_str();
    cmd->add_option("--idle-timeout", a->idle_timeout_s,
                    "Seconds a connection may send or take nothing before it is closed (slow clients)")
        ->capture_default_str();
    cmd->add_option("--max-body", a->server.max_body_bytes, "Largest request body in bytes; larger gets 413")
        ->capture_default_str();
    cmd->add_option("--stream-interval", a->stream_interval_ms,
                    "Milliseconds: a stream sends what was generated at most this often while tokens come faster "
                    "(0 = each token as it comes; the first token and the end go at once). Fewer wake-ups of the "
                    "HTTP threads leave the CPUs to the model")
        ->capture_default_str();
    cmd->add_option("--max-upload", a->server.max_upload_bytes,
                    "Largest document upload in bytes (POST /api/v1/kb/{kb}/documents, streamed to disk)")
        ->capture_default_str();
    cmd->add_option("--store", a->store,
                    "Where knowledge bases live: empty = SQLite in the data directory (knowledge.db), or "
                    "postgres://user@host:port/db to share them between replicas");
    cmd->add_option("--knowledge", a->knowledge,
                    "on: serve knowledge bases (/api/v1/kb, \"knowledge_base\" on the chat routes); off: none")
        ->capture_default_str();
    cmd->add_option("--embedding-model", a->embedding_model,
                    "Embedding model (GGUF) for knowledge bases: documents get vectors, searches are hybrid "
                    "(BM25 + vectors, fused by reciprocal rank)");
    cmd->add_option("--reranker-model", a->reranker_model,
                    "Cross-encoder reranker (GGUF, e.g. bge-reranker) for POST /v1/rerank, used when a request "
                    "names no model; kept loaded beside -m (it adds one to --models-max)");
    cmd->add_option("--cors-origin", a->cors_origins,
                    "Web pages of other origins that may call the API from a browser (CORS): loopback (the default: "
                    "pages served from this machine, any port), none, * (any origin; keys still apply), or exact "
                    "origins such as https://chat.example.com; repeat the option or separate with commas");
    cmd->add_option("--allow-host", a->allow_hosts,
                    "Host names a server on a loopback address also answers (it answers only requests addressed "
                    "to localhost, 127.x.y.z or [::1], so a web page cannot reach it by pointing its own name at "
                    "this machine): a reverse proxy's public name, a name in /etc/hosts; * for any; repeat or "
                    "separate with commas");
    cmd->add_option("--drain-grace", a->drain_grace_s,
                    "On SIGTERM, seconds running requests get to finish before they are cancelled")
        ->capture_default_str();
    cmd->callback([a] { serve(*a); });
}

}  // namespace sinan::cli
