// CorsPolicy: which web pages served from other origins may call the API from a browser (CORS,
// the Fetch standard's cross-origin protocol). A browser lets a page read a response from another
// origin only when the response names the page's origin in Access-Control-Allow-Origin, and
// before a request with an Authorization header or a JSON body it first asks with an OPTIONS
// request (the preflight), which carries no API key.
//
// `sinan serve --cors-origin SPEC` (repeatable, or comma-separated) sets the policy:
//   loopback      pages served from this machine: http(s)://localhost (or *.localhost), 127.0.0.1
//                 (any 127.x.y.z) or [::1], any port (the default: a front end in development works, a page on the
//                 internet that the user happens to visit cannot reach a server on their machine)
//   none          no page of another origin (the built-in chat page at / is the server's own
//                 origin and needs nothing)
//   *             any origin (the API keys still guard every route)
//   ORIGIN        exactly this origin: scheme://host[:port], e.g. https://chat.example.com
// Several specs add up; "none" cannot be combined with others.
//
// The server (server.cpp) asks allows() of each request's Origin header: an allowed origin gets
// Access-Control-Allow-Origin (that origin, with Vary: Origin) on every response, errors
// included, so the page can read the error's message; a preflight from it is answered 204 with the
// methods and headers it may use (and, when it asks, Chromium's Access-Control-Allow-Private-Network,
// for a public page calling a server on a private address); a preflight from any other origin gets
// 403 with a message that names the flag. No cookies are involved (keys travel in Authorization),
// so credentials are never allowed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sinan::api {

class CorsPolicy {
  public:
    // The default: loopback.
    CorsPolicy() = default;
    // From --cors-origin values (each may hold several, comma-separated). No value: the default.
    // Error (one line, naming the value) for anything that is not a spec above.
    static Result<CorsPolicy> parse(const std::vector<std::string>& specs);

    // Whether a page of `origin` (an Origin header: scheme://host[:port], or "null") may call the API.
    bool allows(std::string_view origin) const;
    // For the start-up log: "loopback", "none", "any origin", or the list.
    std::string describe() const;

  private:
    bool any_ = false;
    bool loopback_ = true;
    std::vector<std::string> origins_;  // exact origins, lower case, no trailing slash
};

}  // namespace sinan::api
