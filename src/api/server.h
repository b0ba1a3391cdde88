// Server: the HTTP API of `sinan serve` (cpp-httplib, HTTP/1.1, one worker thread per connection
// from a fixed pool). Routes:
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET /v1/models[/{id}]  (OpenAI)
//   POST /v1/rerank (also /rerank, /v1/reranking)  (Jina / Cohere / llama.cpp shape)
//   POST /api/v1/chat  (native: query + history -> answer, reasoning, confidence, timings;
//                       with "knowledge_base": answered from it, with citations)
//   /api/v1/kb...      (knowledge bases, documents, uploads, jobs, search: kb_routes.cpp)
//   GET /health (liveness), /ready (a model available and the queue not full), /metrics
//   (Prometheus), / (the chat page)
// docs/serving.md is the user's manual.
//
// Around every route: a request id (X-Request-Id), API keys (with keys in the data directory
// every route but /health and the static page needs Authorization: Bearer; 401 otherwise),
// per-key rate limits (429 + Retry-After), one access-log line per request (log.h, info level),
// metrics, OpenAI-style error bodies for every failure, httplib's own (404, 413) included, and
// CORS for the browser pages options.cors allows (preflight OPTIONS answered before any key check);
// on a loopback address, only requests addressed to a loopback name or an --allow-host name (403
// otherwise: the DNS-rebinding defence of host_policy.h).
// No request can crash the server; model output of any bytes is sent as valid JSON.
//
// Lifetime: bind(), then serve() on one thread (it blocks); drain() from another thread (the
// signal handler's) stops it: new requests get 503, running ones finish within the grace period,
// then serve() returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "api/audit_log.h"
#include "api/cors.h"
#include "api/host_policy.h"
#include "api/keys.h"
#include "api/model_registry.h"
#include "api/response_cache.h"
#include "base/status.h"
#include "knowledge/knowledge_base.h"

namespace sinan::api {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                             // 0: any free port (bind() returns it)
    std::chrono::seconds request_timeout{600};   // deadline of one generation, queue included; 0 = none
    std::chrono::seconds idle_timeout{30};       // a connection that sends or takes nothing this long is closed
    std::chrono::seconds keep_alive_timeout{5};  // idle keep-alive connections are closed after this
    size_t max_body_bytes = size_t{8} << 20;     // larger bodies get 413
    size_t max_upload_bytes = size_t{1} << 30;   // largest document upload (POST /api/v1/kb/{kb}/documents)
    size_t http_threads = 32;                    // connections served at once
    // A stream sends what was generated at most every this long while tokens come faster (0: each
    // token as it comes): its HTTP thread woken once an interval, not once a token, leaves the
    // CPUs to the forward passes (bench/NOTES.md, 2026-12-07: the tiny model's 8 streams ~13% more
    // tokens/s at 10 ms). The first token and the end go out at once.
    std::chrono::milliseconds stream_interval{10};
    // Context shift (--context-shift, --keep): on the chat routes (/v1/chat/completions,
    // /api/v1/chat) and on /v1/completions, a request whose max_tokens goes past the context drops
    // its oldest tokens instead of being refused (engine::Request).
    bool context_shift_chat = true, context_shift_completions = false;
    int64_t context_keep = -1;  // tokens kept at the start; -1: the prompt, at most half the context
    CorsPolicy cors;            // --cors-origin: pages of which other origins may call the API (cors.h)
    HostPolicy hosts;           // --host, --allow-host: the Host headers answered (host_policy.h)
};

class Server {
  public:
    // keys, cache, audit and knowledge may be null (auth off, caching off, no audit log, no
    // knowledge bases).
    Server(ServerOptions options, std::unique_ptr<ModelRegistry> registry, std::unique_ptr<KeyStore> keys,
           std::unique_ptr<ResponseCache> cache, std::unique_ptr<AuditLog> audit,
           std::unique_ptr<knowledge::KnowledgeBaseService> knowledge = nullptr);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket; returns the port. Error names the address.
    Result<int> bind();
    // Serves until drain() (or a fatal socket error). Blocks.
    void serve();
    // Refuses new requests (503), lets running ones finish for up to `grace`, cancels the rest,
    // then makes serve() return. Thread-safe; call once.
    void drain(std::chrono::milliseconds grace);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sinan::api
