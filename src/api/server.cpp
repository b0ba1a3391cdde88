#include "api/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <thread>

#include "api/openai_response.h"
#include "api/server_context.h"
#include "api/web/chat_html.h"
#include "base/log.h"

namespace sinan::api {

using json = nlohmann::ordered_json;

ServerMetrics::ServerMetrics(Registry& r)
    : requests(r.counter("sinan_http_requests_total", "HTTP requests by route and status code", {"route", "code"})),
      errors(r.counter("sinan_http_errors_total", "HTTP responses with status >= 400, by code", {"code"})),
      latency(r.histogram("sinan_http_request_duration_seconds", "Request latency, streams until their last byte",
                          {"route"}, kLatencyBuckets)),
      ttft(r.histogram("sinan_time_to_first_token_seconds", "Submit to first sampled token", {}, kLatencyBuckets)),
      prompt_tokens(r.counter("sinan_prompt_tokens_total", "Prompt tokens of finished requests", {"model"})),
      cached_tokens(
          r.counter("sinan_cached_prompt_tokens_total", "Prompt tokens reused from the prefix cache", {"model"})),
      generated_tokens(r.counter("sinan_generated_tokens_total", "Tokens generated", {"model"})),
      forward_seconds(
          r.counter("sinan_engine_forward_seconds_total", "Engine time in forward passes (prompt and decode)", {"model"})),
      sampling_seconds(r.counter("sinan_engine_sampling_seconds_total",
                                 "Engine time sampling the tokens of its forward passes", {"model"})),
      tokens_per_second(
          r.gauge("sinan_generation_tokens_per_second", "Tokens generated per second since the last scrape")),
      queue_length(r.gauge("sinan_queue_length", "Requests waiting for a slot", {"model"})),
      running(r.gauge("sinan_running_sequences", "Sequences running (prefill or decode)", {"model"})),
      kv_used(r.gauge("sinan_kv_cache_cells_used", "KV cache cells in use", {"model"})),
      kv_total(r.gauge("sinan_kv_cache_cells", "KV cache cells in all", {"model"})),
      kv_usage(r.gauge("sinan_kv_cache_usage_ratio", "KV cache cells in use / cells", {"model"})),
      models_loaded(r.gauge("sinan_models_loaded", "Models resident in memory")),
      cache_hits(r.counter("sinan_response_cache_hits_total", "Response cache hits")),
      cache_misses(r.counter("sinan_response_cache_misses_total", "Response cache misses")),
      cache_entries(r.gauge("sinan_response_cache_entries", "Entries in the in-memory response cache")),
      draining(r.gauge("sinan_draining", "1 while the server drains for shutdown")),
      in_flight(r.gauge("sinan_http_requests_in_flight", "Requests being handled")) {}

RequestRecord& current_record() {
    thread_local RequestRecord record;
    return record;
}

void send_json(httplib::Response& res, const json& body, int status) {
    res.status = status;
    res.set_content(dump_json(body), "application/json");
}

void set_stream_headers(httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
}

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
    res.set_content(e.body(), "application/json");
}

std::variant<ModelLease, ApiError> acquire_model(ServerContext& ctx, const std::string& id, ModelKind kind) {
    auto acquired = ctx.registry->acquire(id, kind);
    if (auto* lease = std::get_if<ModelLease>(&acquired)) current_record().model = (*lease)->id;
    return acquired;
}

std::variant<Generation, ApiError> start_generation(ServerContext& ctx, const ServedModel& model, const Prompt& prompt,
                                                    const GenerationParams& params, Route route) {
    auto requests = make_requests(model, prompt, params, ctx.deadline(),
                                  route == Route::kChat ? ctx.context_shift_chat : ctx.context_shift_completions);
    if (auto* e = std::get_if<ApiError>(&requests)) return *e;
    auto started = Generation::start(*model.scheduler, std::move(std::get<std::vector<engine::Request>>(requests)));
    if (auto* g = std::get_if<Generation>(&started)) g->pace_text(ctx.stream_interval);
    return started;
}

std::string response_cache_key(const ServerContext& ctx, const std::string& model_id, const std::string& route,
                               const GenerationParams& params, const nlohmann::json& body) {
    if (!ctx.cache || !params.deterministic()) return "";
    return cache_key(model_id + " " + route, body);
}

bool answer_from_cache(ServerContext& ctx, const std::string& key, const std::string& id_prefix,
                       httplib::Response& res) {
    if (key.empty()) return false;
    std::optional<std::string> hit = ctx.cache->get(key);
    if (!hit) return false;
    json cached = json::parse(*hit, nullptr, false);
    if (!cached.is_object()) return false;
    cached["id"] = new_id(id_prefix);
    if (cached.contains("created")) cached["created"] = unix_now();
    cached["sinan"]["cached"] = true;
    current_record().cache_hit = true;
    send_json(res, cached);
    return true;
}

void account_tokens(ServerContext& ctx, const std::string& model_id, const std::vector<ChoiceResult>& choices,
                    int64_t prompt_tokens) {
    int64_t generated = 0;
    for (const ChoiceResult& c : choices) {
        // A stream its client left counts what was generated until then (rate limits included).
        generated += std::max(c.result.n_generated, c.n_tokens_received);
        if (c.result.n_generated > 0) ctx.metrics->ttft.with({}).observe(c.first_token_seconds);
    }
    const int64_t cached = choices.empty() ? 0 : choices[0].n_cached;
    ctx.metrics->prompt_tokens.with({model_id}).inc(static_cast<double>(prompt_tokens));
    ctx.metrics->cached_tokens.with({model_id}).inc(static_cast<double>(cached));
    ctx.metrics->generated_tokens.with({model_id}).inc(static_cast<double>(generated));
    RequestRecord& r = current_record();
    r.prompt_tokens = prompt_tokens;
    r.completion_tokens = generated;
    if (r.key && ctx.limiter)
        ctx.limiter->record_tokens(r.key->id, {r.key->rpm, r.key->tpm}, prompt_tokens + generated);
}

void audit(ServerContext& ctx, const std::string& route, const json& request, const std::string& answer,
           const std::string& reasoning, int status) {
    if (!ctx.audit) return;
    const RequestRecord& r = current_record();
    ctx.audit->write({{"request_id", r.id},
                      {"key_id", r.key_id},
                      {"route", route},
                      {"model", r.model},
                      {"status", status},
                      {"request", request},
                      {"answer", answer},
                      {"reasoning", reasoning}});
}

namespace {

// The route label for metrics: known paths as they are, the rest as "other" (bounded cardinality).
std::string route_label(const httplib::Request& req) {
    static const char* kPaths[] = {"/",
                                   "/health",
                                   "/ready",
                                   "/metrics",
                                   "/v1/models",
                                   "/v1/chat/completions",
                                   "/v1/completions",
                                   "/v1/embeddings",
                                   "/v1/rerank",
                                   "/api/v1/chat"};
    for (const char* p : kPaths)
        if (req.path == p) return req.method + " " + p;
    if (req.path.rfind("/v1/models/", 0) == 0) return req.method + " /v1/models/{id}";
    if (req.path == "/api/v1/kb") return req.method + " /api/v1/kb";
    if (req.path.rfind("/api/v1/kb/", 0) == 0) {
        for (const char* tail : {"/documents", "/search", "/jobs"})
            if (req.path.find(tail, 11) != std::string::npos) return req.method + " /api/v1/kb/{kb}" + tail;
        return req.method + " /api/v1/kb/{kb}";
    }
    if (req.path == "/api/v1/jobs") return req.method + " /api/v1/jobs";
    if (req.path.rfind("/api/v1/jobs/", 0) == 0) return req.method + " /api/v1/jobs/{id}";
    return "other";
}

// Answers a refused request now, or, when it has a body httplib reads (the methods whose routes
// Router wraps, or that have none), leaves the refusal to be sent once the body has been read
// (router.h says why). A GET's body is never read and its route not wrapped: refused now.
httplib::Server::HandlerResponse refuse(const httplib::Request& req, httplib::Response& res, ApiError e) {
    const bool read_first =
        req.method == "POST" || req.method == "DELETE" || req.method == "PUT" || req.method == "PATCH";
    if (read_first && has_body(req)) {
        current_record().refusal = std::move(e);
        return httplib::Server::HandlerResponse::Unhandled;
    }
    send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
}

ApiError status_error(int status, const std::string& path) {
    ApiError e;
    e.status = status;
    switch (status) {
        case 404:
            e.message = "no route " + path +
                        "; see GET /v1/models, POST /v1/chat/completions, POST /v1/completions, "
                        "POST /api/v1/chat, GET /health, GET /ready, GET /metrics";
            e.code = "not_found";
            break;
        case 405:
            e.message = "method not allowed on " + path;
            break;
        case 413:
            e.message = "the request body is too large for this server (--max-body)";
            e.code = "request_too_large";
            break;
        case 400:
            e.message = "bad HTTP request";
            break;
        default:
            e.type = status >= 500 ? "server_error" : "invalid_request_error";
            e.message = "HTTP " + std::to_string(status);
    }
    return e;
}

}  // namespace

struct Server::Impl {
    ServerOptions options;
    std::unique_ptr<ModelRegistry> registry;
    std::unique_ptr<KeyStore> keys;
    std::unique_ptr<ResponseCache> cache;
    std::unique_ptr<AuditLog> audit_log;
    std::unique_ptr<knowledge::KnowledgeBaseService> knowledge;
    Registry metrics_registry;
    ServerMetrics metrics{metrics_registry};
    RateLimiter limiter;
    ServerContext ctx;
    Router http;
    int listen_fd = -1;  // the listening socket, seen by the socket-options hook before bind
    std::atomic<uint64_t> next_request{1};
    // tokens/s gauge: generated tokens at the previous scrape
    std::mutex rate_mu;
    double last_generated = 0;
    std::chrono::steady_clock::time_point last_scrape = std::chrono::steady_clock::now();
    CacheStats last_cache;
    // The engine's time counters at the previous scrape, per model (a model loaded again starts
    // from 0: seen as a counter that went down).
    struct EngineSeconds {
        double forward = 0, sampling = 0;
    };
    std::map<std::string, EngineSeconds> last_engine;

    void setup();
    void refresh_metrics();
    httplib::Server::HandlerResponse before(const httplib::Request& req, httplib::Response& res);
    bool cors(const httplib::Request& req, httplib::Response& res);
    void after(const httplib::Request& req, const httplib::Response& res);
    void ready(httplib::Response& res);
};

void Server::Impl::refresh_metrics() {
    double generated = 0;
    metrics.generated_tokens.for_each(
        [&](const std::vector<std::string>&, const Counter& c) { generated += c.value(); });
    {
        std::lock_guard<std::mutex> lock(rate_mu);
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - last_scrape).count();
        if (dt >= 1.0) {
            metrics.tokens_per_second.with({}).set((generated - last_generated) / dt);
            last_generated = generated;
            last_scrape = now;
        }
        if (cache) {
            const CacheStats s = cache->stats();
            metrics.cache_hits.with({}).inc(static_cast<double>(s.hits - std::min(s.hits, last_cache.hits)));
            metrics.cache_misses.with({}).inc(static_cast<double>(s.misses - std::min(s.misses, last_cache.misses)));
            metrics.cache_entries.with({}).set(static_cast<double>(s.entries));
            last_cache = s;
        }
    }
    for (const ModelFile& f : registry->files()) {
        for (GaugeFamily* g :
             {&metrics.queue_length, &metrics.running, &metrics.kv_used, &metrics.kv_total, &metrics.kv_usage})
            g->with({f.id}).set(0);
    }
    int n_loaded = 0;
    std::lock_guard<std::mutex> lock(rate_mu);  // last_engine
    registry->for_each_resident([&](const ServedModel& m) {
        ++n_loaded;
        if (!m.scheduler) return;  // an embedding model: no queue, no KV cache
        const engine::SchedulerStats s = m.scheduler->stats();
        EngineSeconds& last = last_engine[m.id];
        if (s.forward_seconds < last.forward || s.sampling_seconds < last.sampling) last = {};
        metrics.forward_seconds.with({m.id}).inc(s.forward_seconds - last.forward);
        metrics.sampling_seconds.with({m.id}).inc(s.sampling_seconds - last.sampling);
        last = {s.forward_seconds, s.sampling_seconds};
        metrics.queue_length.with({m.id}).set(s.waiting);
        metrics.running.with({m.id}).set(s.running);
        metrics.kv_used.with({m.id}).set(static_cast<double>(s.kv_cells_used));
        metrics.kv_total.with({m.id}).set(static_cast<double>(s.kv_cells));
        metrics.kv_usage.with({m.id}).set(s.kv_cells > 0 ? static_cast<double>(s.kv_cells_used) / s.kv_cells : 0.0);
    });
    metrics.models_loaded.with({}).set(n_loaded);
    metrics.draining.with({}).set(ctx.draining.load() ? 1 : 0);
    metrics.in_flight.with({}).set(static_cast<double>(ctx.active.load()));
}

// Marks the response readable by the request's Origin when the policy allows it (every response,
// errors included: a page should read why it was refused), and answers an OPTIONS request (a
// browser's preflight, which carries no API key) itself; true when it did.
bool Server::Impl::cors(const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    const bool allowed = options.cors.allows(origin);
    if (!origin.empty()) res.set_header("Vary", "Origin");
    if (allowed) {
        res.set_header("Access-Control-Allow-Origin", origin);
        res.set_header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, WWW-Authenticate");
    }
    if (req.method != "OPTIONS") return false;
    // Answered here, before the body (if any) is read: the connection cannot be reused.
    if (has_body(req)) res.set_header("Connection", "close");
    if (!origin.empty() && !allowed) {
        ApiError e;
        e.status = 403;
        e.code = "origin_not_allowed";
        e.message = "pages from " + origin.substr(0, 200) + " may not call this server (it allows " +
                    options.cors.describe() + "); start it with --cors-origin " + origin.substr(0, 200) +
                    " to allow them";
        send_error(res, e);
        return true;
    }
    res.status = 204;
    res.set_header("Allow", "GET, POST, DELETE, OPTIONS");
    if (allowed) {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        const std::string asked = req.get_header_value("Access-Control-Request-Headers");
        res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
        res.set_header("Access-Control-Max-Age", "600");
        // Chromium's Private Network Access: a page of a public origin asks before it calls a
        // server on a private or loopback address; an allowed origin may.
        if (req.get_header_value("Access-Control-Request-Private-Network") == "true")
            res.set_header("Access-Control-Allow-Private-Network", "true");
    }
    return true;
}

httplib::Server::HandlerResponse Server::Impl::before(const httplib::Request& req, httplib::Response& res) {
    RequestRecord& r = current_record();
    r = RequestRecord{};
    char id[32];
    std::snprintf(id, sizeof id, "req-%llu", static_cast<unsigned long long>(next_request.fetch_add(1)));
    r.id = id;
    r.start = std::chrono::steady_clock::now();
    r.counted_active = true;
    ctx.active.fetch_add(1);
    res.set_header("X-Request-Id", r.id);
    using HR = httplib::Server::HandlerResponse;
    if (const std::string host = req.get_header_value("Host"); !options.hosts.allows(host)) {
        if (has_body(req)) res.set_header("Connection", "close");  // answered before the body is read
        ApiError e;
        e.status = 403;
        e.code = "host_not_allowed";
        e.message = "requests addressed to " + host.substr(0, 200) + " are refused: this server listens on " +
                    options.host + " and answers " + options.hosts.describe() +
                    " (a page on the internet can point its own name at this machine); if clients reach it by "
                    "that name (a reverse proxy, /etc/hosts), start it with --allow-host " +
                    (host_name(host).empty() ? std::string("NAME") : host_name(host).substr(0, 200));
        send_error(res, e);
        return HR::Handled;
    }
    if (cors(req, res)) return HR::Handled;
    const bool is_health = req.path == "/health";
    if (ctx.draining.load() && !is_health && req.path != "/metrics") {
        ApiError e;
        e.status = 503;
        e.type = "server_error";
        e.code = "shutting_down";
        e.retry_after_s = 5;
        e.message = "the server is shutting down and takes no new requests";
        return refuse(req, res, std::move(e));
    }
    // POST and DELETE bodies are read by the routes (router.h: --max-body, or --max-upload for the
    // upload route; chunked or not; a larger body read through before its 413). httplib reads a
    // body of another method into memory up to its payload limit (--max-upload), or not at all
    // (GET), so those are held to --max-body here and chunked ones refused.
    if (req.method != "POST" && req.method != "DELETE") {
        if (req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
            ApiError e;
            e.status = 411;
            e.code = "length_required";
            e.message = "send a " + req.method +
                        " request's body with a Content-Length (chunked bodies are taken by POST and DELETE only)";
            res.set_header("Connection", "close");
            send_error(res, e);
            return HR::Handled;
        }
        if (declared_length(req) > options.max_body_bytes) {
            res.set_header("Connection", "close");
            send_error(res, status_error(413, req.path));
            return HR::Handled;
        }
    }
    // The page is static and holds nothing; it asks for a key itself when the API needs one.
    if (is_health || (req.method == "GET" && req.path == "/") || !keys || !keys->auth_required()) return HR::Unhandled;
    std::string token;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0))
        token = auth.substr(7);
    std::optional<KeyInfo> key = token.empty() ? std::nullopt : keys->verify(token);
    if (!key) {
        ApiError e;
        e.status = 401;
        e.code = "invalid_api_key";
        e.message = token.empty() ? "this server needs an API key: send Authorization: Bearer sk-sinan-... (an admin "
                                    "creates one with `sinan keys create NAME`)"
                                  : "the API key is wrong or revoked; ask for a new one (`sinan keys create NAME`)";
        res.set_header("WWW-Authenticate", "Bearer");
        return refuse(req, res, std::move(e));
    }
    r.key_id = key->id;
    r.key = key;
    if (req.method == "POST" && (key->rpm > 0 || key->tpm > 0)) {
        const RateDecision d = limiter.check(key->id, {key->rpm, key->tpm});
        if (!d.allowed) {
            ApiError e;
            e.status = 429;
            e.type = "rate_limit_error";
            e.code = "rate_limit_exceeded";
            e.retry_after_s = std::max<int64_t>(d.retry_after_s, 1);
            e.message = "rate limit of key " + key->id + " reached (" + d.reason + "); retry after " +
                        std::to_string(e.retry_after_s) + " s";
            return refuse(req, res, std::move(e));
        }
    }
    return HR::Unhandled;
}

void Server::Impl::after(const httplib::Request& req, const httplib::Response& res) {
    RequestRecord& r = current_record();
    const std::string route = route_label(req);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
    const std::string code = std::to_string(res.status);
    metrics.requests.with({route, code}).inc();
    if (res.status >= 400) metrics.errors.with({code}).inc();
    metrics.latency.with({route}).observe(seconds);
    if (r.counted_active) ctx.active.fetch_sub(1);
    r.counted_active = false;
    char line[512];
    std::snprintf(line, sizeof line,
                  "request id=%s key=%s route=\"%s %s\" status=%d model=%s prompt_tokens=%lld completion_tokens=%lld "
                  "latency_ms=%.1f%s",
                  r.id.c_str(), r.key_id.c_str(), req.method.c_str(), req.path.substr(0, 200).c_str(), res.status,
                  r.model.c_str(), static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.completion_tokens),
                  seconds * 1e3, r.cache_hit ? " cache=hit" : "");
    log::info(line);
}

void Server::Impl::ready(httplib::Response& res) {
    std::string why;
    if (ctx.draining.load())
        why = "the server is shutting down";
    else if (registry->empty())
        why = no_model_message();
    json models = json::array();
    bool saturated = false;
    registry->for_each_resident([&](const ServedModel& m) {
        if (!m.scheduler) {  // an embedding model or reranker answers each request on its HTTP thread
            models.push_back({{"id", m.id}, {m.reranker ? "reranker" : "embedding", true}});
            return;
        }
        const engine::SchedulerStats s = m.scheduler->stats();
        models.push_back({{"id", m.id}, {"running", s.running}, {"waiting", s.waiting}});
        const engine::SchedulerOptions& o = m.scheduler->options();
        // With no queue (--queue 0) a request is refused as soon as every slot is busy.
        if (o.max_queue > 0 ? s.waiting >= o.max_queue : s.running >= o.n_parallel) saturated = true;
    });
    if (why.empty() && saturated) why = "the request queue is full (--queue); retry shortly";
    if (!why.empty()) {
        res.set_header("Retry-After", "1");
        return send_json(res, {{"status", "unavailable"}, {"reason", why}, {"models", models}}, 503);
    }
    send_json(res, {{"status", "ready"}, {"models", models}});
}

void Server::Impl::setup() {
    ctx.registry = registry.get();
    ctx.keys = keys.get();
    ctx.limiter = &limiter;
    ctx.cache = cache.get();
    ctx.audit = audit_log.get();
    ctx.metrics = &metrics;
    ctx.request_timeout = options.request_timeout;
    ctx.max_body_bytes = options.max_body_bytes;
    ctx.max_upload_bytes = options.max_upload_bytes;
    ctx.stream_interval = options.stream_interval;
    ctx.context_shift_chat = {options.context_shift_chat, options.context_keep};
    ctx.context_shift_completions = {options.context_shift_completions, options.context_keep};
    ctx.knowledge = knowledge.get();

    const size_t threads = std::max<size_t>(options.http_threads, 4);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(std::max(options.max_body_bytes, options.max_upload_bytes));
    http.set_body_limit(options.max_body_bytes);
    http.set_read_timeout(options.idle_timeout);
    http.set_write_timeout(options.idle_timeout);
    http.set_keep_alive_timeout(options.keep_alive_timeout.count());
    // Responses go out in several writes (headers, body, each streamed chunk). With Nagle's
    // algorithm on, a write waits for the ACK of the one before, which a client delays by up to
    // 40 ms: every request on a kept-alive connection (as SDKs keep them) took 40 ms longer.
    http.set_tcp_nodelay(true);
    // httplib's default options set SO_REUSEPORT, which lets a second process bind the same port
    // and take part of its connections (two servers started with --port 0 can even be given the
    // same port). SO_REUSEADDR alone keeps quick restarts possible.
    http.set_socket_options([this](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        listen_fd = sock;
    });
    http.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return before(req, res); });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) { after(req, res); });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        // Routes set their own bodies; this covers httplib's (404 no route, 413, 400 bad request),
        // and a refusal of a request with a body for a path no route takes.
        if (!send_refusal(res) && res.body.empty()) send_error(res, status_error(res.status, req.path));
        if (res.get_header_value("Connection") == "close") end_connection_after(res);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        log::error("request failed with an exception: " + what);
        ApiError e;
        e.status = 500;
        e.type = "server_error";
        e.message = "internal error: " + what;
        send_error(res, e);
    });

    metrics_registry.on_render([this] { refresh_metrics(); });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, {{"status", "ok"}}); });
    http.Get("/ready", [this](const httplib::Request&, httplib::Response& res) { ready(res); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_registry.render(), kMetricsContentType);
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(web::kChatHtml), "text/html; charset=utf-8");
    });
    register_chat_routes(http, ctx);
    register_completion_routes(http, ctx);
    register_embedding_routes(http, ctx);
    register_rerank_routes(http, ctx);
    register_model_routes(http, ctx);
    register_native_routes(http, ctx);
    register_kb_routes(http, ctx);
    http.route_the_rest();
}

Server::Server(ServerOptions options, std::unique_ptr<ModelRegistry> registry, std::unique_ptr<KeyStore> keys,
               std::unique_ptr<ResponseCache> cache, std::unique_ptr<AuditLog> audit,
               std::unique_ptr<knowledge::KnowledgeBaseService> knowledge)
    : impl_(std::make_unique<Impl>()) {
    impl_->knowledge = std::move(knowledge);
    impl_->options = std::move(options);
    impl_->registry = std::move(registry);
    impl_->keys = std::move(keys);
    impl_->cache = std::move(cache);
    impl_->audit_log = std::move(audit);
    impl_->setup();
}

Server::~Server() = default;

Result<int> Server::bind() {
    const ServerOptions& o = impl_->options;
    int port = o.port;
    if (port == 0) {
        port = impl_->http.bind_to_any_port(o.host);
        if (port <= 0) return Status::error("cannot listen on " + o.host + ": no free port or a bad address");
    } else if (!impl_->http.bind_to_port(o.host, port)) {
        return Status::error(
            "cannot listen on " + o.host + ":" + std::to_string(port) +
            ": the port is in use or the address is wrong (--host/--port; --port 0 picks a free port)");
    }
    // httplib listens with a backlog of 5: a burst of clients connecting at once would see SYNs
    // dropped and retried. Listening again on the bound socket raises the backlog.
    if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
    return port;
}

void Server::serve() { impl_->http.listen_after_bind(); }

void Server::drain(std::chrono::milliseconds grace) {
    ServerContext& ctx = impl_->ctx;
    ctx.draining.store(true);
    const auto end = std::chrono::steady_clock::now() + grace;
    log::info("draining: new requests get 503; waiting up to " + std::to_string(grace.count()) +
              " ms for running ones");
    impl_->registry->drain(grace);
    // The schedulers are done; give the handlers a moment to write their last bytes.
    while (ctx.active.load() > 0 && std::chrono::steady_clock::now() < end + std::chrono::seconds(2))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    impl_->http.stop();
}

}  // namespace sinan::api
