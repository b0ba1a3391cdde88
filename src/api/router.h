// Router: httplib's server whose routes read their own bodies, up to a limit, and send a refusal
// only after reading the body.
//
// Bodies. A route registered here with a plain Handler (every POST and DELETE route but the
// upload's) gets its body read by the router, with a Content-Length or chunked, into req.body: at
// most set_body_limit() bytes (--max-body); httplib alone would read any body up to its payload
// limit (--max-upload, 1 GiB) into memory before the route runs. A longer body gets 413, after
// the router has read the rest and dropped it: a server that answers and closes while its client
// is still sending makes its own kernel reset the connection, and the client then reports
// "connection reset" instead of the answer. What it drops is bounded (kMaxDroppedBytes,
// kMaxDropTime); a body declared longer than the limit by more than that is refused at once and
// the connection closed. route_the_rest() treats the POST and DELETE requests of paths no route
// takes the same way (read, dropped, 404).
//
// Refusals. The pre-routing handler (server.cpp) refuses requests before their route runs: no or
// a wrong API key (401), a rate limit (429), a draining server (503). httplib reads a request's
// body only after that handler, and never when the handler answers, so a refused request's body
// would stay on a kept-alive connection and be parsed as the next request (that one would get a
// 400). So a refusal of a request with a body is not sent by the pre-routing handler: it goes into
// the request's record (RequestRecord::refusal), and the route's handler, wrapped here, drops the
// body and sends the refusal instead of running. The server's error handler sends it for a path
// no route matches.
//
// Routes with a body register through Post and Delete here, which hide httplib's; Put and Patch
// are deleted so that a new route of that kind gets the same wrapper first.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/api_error.h"

namespace sinan::api {

// The most of a refused or too large body read and dropped before the connection is closed, and
// the longest time spent on it.
inline constexpr uint64_t kMaxDroppedBytes = uint64_t{64} << 20;
inline constexpr std::chrono::seconds kMaxDropTime{10};

class Router : public httplib::Server {
  public:
    // The largest body a plain-Handler route takes (default: 8 MiB). Applies to requests served
    // after the call.
    void set_body_limit(size_t bytes) { body_limit_ = bytes; }

    Router& Post(const std::string& pattern, Handler handler);
    Router& Post(const std::string& pattern, HandlerWithContentReader handler);
    Router& Delete(const std::string& pattern, Handler handler);
    template <class... Args>
    Router& Put(Args&&...) = delete;
    template <class... Args>
    Router& Patch(Args&&...) = delete;
    // After the last route: POST and DELETE requests to any other path get their body dropped
    // and a 404 (or their refusal) from the server's error handler.
    void route_the_rest();

  private:
    HandlerWithContentReader reading(Handler handler);

    size_t body_limit_ = size_t{8} << 20;
};

// How read_body() ended.
struct BodyRead {
    enum Status { kRead, kTooLarge, kBroken };
    Status status = kRead;
    bool drained = true;  // every byte of the body was read: the connection can carry another request
};

// Reads the request's body through `reader` into *body (appended; null: nothing kept; a request
// with neither a Content-Length nor a chunked body has none, whatever follows it), at most
// `limit` bytes: beyond it the rest is read and dropped up to kMaxDroppedBytes / kMaxDropTime and
// the result is kTooLarge (*body then holds nothing read). A declared Content-Length beyond limit +
// kMaxDroppedBytes is kTooLarge without reading, and one beyond httplib's payload limit is read
// and dropped by httplib (kTooLarge too). kBroken: the body ended early, its chunked encoding was
// malformed or the client stopped sending (httplib may have set res.status). A multipart body is
// read and dropped, never kept (no plain route takes files).
BodyRead read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t limit, std::string* body);

// The 413 of a body over `limit` bytes, the limit set by command-line option `option`, ending with
// what the client can do instead.
ApiError body_too_large(size_t limit, const std::string& option, const std::string& instead);

// The error of a kBroken body: 415 where httplib found a Content-Encoding it cannot read (it set
// res.status so), else 400.
ApiError body_unreadable(const httplib::Response& res);

// Makes httplib close the connection after this response, as its "Connection: close" header says:
// httplib 0.11 keeps a connection open whatever the response's headers say unless writing the
// response fails, so the body goes out through a content provider that reports a failure after
// its last byte. For a response with a body (the server's error handler calls it for every error
// response that says "Connection: close").
void end_connection_after(httplib::Response& res);

// Whether the request carries a body httplib will read (a Content-Length above 0, or chunked).
bool has_body(const httplib::Request& req);
// The request's Content-Length; 0 when it has none.
uint64_t declared_length(const httplib::Request& req);

// Sends the refusal the pre-routing handler left in this thread's request record, if any; true
// when it did.
bool send_refusal(httplib::Response& res);

}  // namespace sinan::api
