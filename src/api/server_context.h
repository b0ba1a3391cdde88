// What the route handlers of `sinan serve` share (internal to src/api; includes httplib): the
// model registry, keys, rate limiter, response cache, audit log and metrics, the per-request
// record the access log line is made from, and the helpers that send JSON and errors.
//
// RequestRecord lives in a thread_local: httplib runs the pre-routing handler, the route
// handler, a streaming content provider and the logger of one request on the same worker thread,
// one request at a time, so each of them sees that request's record.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/api_error.h"
#include "api/audit_log.h"
#include "api/generation.h"
#include "api/keys.h"
#include "api/metrics.h"
#include "api/model_registry.h"
#include "api/openai_request.h"
#include "api/prompt.h"
#include "api/rate_limiter.h"
#include "api/response_cache.h"
#include "api/router.h"
#include "knowledge/knowledge_base.h"

namespace sinan::api {

struct ServerMetrics {
    explicit ServerMetrics(Registry& r);

    CounterFamily& requests;          // {route, code}
    CounterFamily& errors;            // {code}
    HistogramFamily& latency;         // {route}
    HistogramFamily& ttft;            // {}
    CounterFamily& prompt_tokens;     // {model}
    CounterFamily& cached_tokens;     // {model}
    CounterFamily& generated_tokens;  // {model}
    CounterFamily& forward_seconds;   // {model}: engine time in forward passes
    CounterFamily& sampling_seconds;  // {model}: engine time sampling
    GaugeFamily& tokens_per_second;   // {}
    GaugeFamily& queue_length;        // {model}
    GaugeFamily& running;             // {model}
    GaugeFamily& kv_used;             // {model}
    GaugeFamily& kv_total;            // {model}
    GaugeFamily& kv_usage;            // {model}
    GaugeFamily& models_loaded;       // {}
    CounterFamily& cache_hits;        // {}
    CounterFamily& cache_misses;      // {}
    GaugeFamily& cache_entries;       // {}
    GaugeFamily& draining;            // {}
    GaugeFamily& in_flight;           // {}
};

struct ServerContext {
    ModelRegistry* registry = nullptr;
    KeyStore* keys = nullptr;  // null: no data dir (auth off)
    RateLimiter* limiter = nullptr;
    ResponseCache* cache = nullptr;  // null: caching off
    AuditLog* audit = nullptr;       // null: --audit off
    ServerMetrics* metrics = nullptr;
    knowledge::KnowledgeBaseService* knowledge = nullptr;  // null: no data dir (knowledge bases off)
    std::chrono::seconds request_timeout{600};
    size_t max_body_bytes = size_t{8} << 20;        // --max-body, for routes that read their body themselves
    size_t max_upload_bytes = size_t{1} << 30;      // --max-upload
    std::chrono::milliseconds stream_interval{10};  // --stream-interval
    ContextShift context_shift_chat, context_shift_completions;  // --context-shift, --keep
    std::atomic<bool> draining{false};
    std::atomic<int64_t> active{0};  // requests being handled (streams included)

    std::optional<engine::Clock::time_point> deadline() const {
        if (request_timeout.count() <= 0) return std::nullopt;
        return engine::Clock::now() + request_timeout;
    }
};

// The access-log record of the request this thread is handling.
struct RequestRecord {
    std::string id;
    std::string key_id = "-";
    std::optional<KeyInfo> key;
    std::string model = "-";
    int64_t prompt_tokens = 0, completion_tokens = 0;
    bool cache_hit = false;
    std::chrono::steady_clock::time_point start;
    bool counted_active = false;
    // A refusal the pre-routing handler decided for a request with a body, sent once the body has
    // been read (router.h says why).
    std::optional<ApiError> refusal;
};
RequestRecord& current_record();

// Sets the status, Retry-After and the OpenAI error body.
void send_error(httplib::Response& res, const ApiError& e);
void send_json(httplib::Response& res, const nlohmann::ordered_json& body, int status = 200);
// The headers of every SSE stream (its Content-Type is kSseContentType): not cached, and not
// buffered by a reverse proxy (nginx's X-Accel-Buffering).
void set_stream_headers(httplib::Response& res);

// The model a request names, loaded and of the kind the route needs; its id goes into the request
// record.
std::variant<ModelLease, ApiError> acquire_model(ServerContext& ctx, const std::string& id,
                                                 ModelKind kind = ModelKind::kGenerative);

// Which kind of route a generation comes from: the server's context shift differs per kind.
enum class Route { kChat, kCompletion };

// make_requests + Generation::start with the server's deadline and the route's context shift.
std::variant<Generation, ApiError> start_generation(ServerContext& ctx, const ServedModel& model, const Prompt& prompt,
                                                    const GenerationParams& params, Route route);

// The response-cache key of a request that may be cached (a cache is on and its output is fixed:
// greedy or seeded), else "". Streamed or not, the same request has the same key. `params` with
// the model's defaults.
std::string response_cache_key(const ServerContext& ctx, const std::string& model_id, const std::string& route,
                               const GenerationParams& params, const nlohmann::json& body);
// On a hit, answers with the cached response (a fresh id and created, "sinan": {"cached": true})
// and returns true.
bool answer_from_cache(ServerContext& ctx, const std::string& key, const std::string& id_prefix,
                       httplib::Response& res);

// After a generation finished or its client went away: tokens into metrics, the record and the
// key's token budget (a choice cut short counts the tokens generated until then).
void account_tokens(ServerContext& ctx, const std::string& model_id, const std::vector<ChoiceResult>& choices,
                    int64_t prompt_tokens);
// Appends an audit line when --audit is on.
void audit(ServerContext& ctx, const std::string& route, const nlohmann::ordered_json& request,
           const std::string& answer, const std::string& reasoning, int status);

// Routes, one file each (routes with a body through Router's Post and Delete).
void register_chat_routes(Router& server, ServerContext& ctx);        // /v1/chat/completions
void register_completion_routes(Router& server, ServerContext& ctx);  // /v1/completions
void register_embedding_routes(Router& server, ServerContext& ctx);   // /v1/embeddings
void register_rerank_routes(Router& server, ServerContext& ctx);      // /v1/rerank
void register_model_routes(Router& server, ServerContext& ctx);       // /v1/models
void register_native_routes(Router& server, ServerContext& ctx);      // /api/v1/chat
void register_kb_routes(Router& server, ServerContext& ctx);          // /api/v1/kb...

}  // namespace sinan::api
