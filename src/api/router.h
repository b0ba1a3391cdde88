// Router: httplib's server whose routes with a body send a refusal only after reading the body.
//
// The pre-routing handler (server.cpp) refuses requests before their route runs: no or a wrong
// API key (401), a rate limit (429), a draining server (503). httplib reads a request's body only
// after that handler, and never when the handler answers, so a refused request's body would stay
// on a kept-alive connection and be parsed as the next request (that one would get a 400). So a
// refusal of a request with a body is not sent by the pre-routing handler: it goes into the
// request's record (RequestRecord::refusal), httplib reads the body, and the route's handler,
// wrapped here, sends the refusal instead of running (an upload's handler first reads the body
// through and drops it). The server's error handler sends it for a path no route matches.
//
// Routes with a body register through Post and Delete here, which hide httplib's; Put and Patch
// are deleted so that a new route of that kind gets the same wrapper first.
#pragma once

#include <httplib.h>

#include <string>

namespace sinan::api {

class Router : public httplib::Server {
  public:
    Router& Post(const std::string& pattern, Handler handler);
    Router& Post(const std::string& pattern, HandlerWithContentReader handler);
    Router& Delete(const std::string& pattern, Handler handler);
    template <class... Args>
    Router& Put(Args&&...) = delete;
    template <class... Args>
    Router& Patch(Args&&...) = delete;
};

// Whether the request carries a body httplib will read (a Content-Length above 0, or chunked).
bool has_body(const httplib::Request& req);

// Sends the refusal the pre-routing handler left in this thread's request record, if any; true
// when it did.
bool send_refusal(httplib::Response& res);

}  // namespace sinan::api
