// HostPolicy: which Host header values a server listening on a loopback address answers, the
// defence against DNS rebinding. A web page on the internet can make its own name resolve to
// 127.0.0.1 and then call "its own" server, which is this one: the browser sees no other origin, so
// CORS (cors.h) never applies, and with API keys off every route (answers, knowledge-base
// searches) would be the page's to read. The Host header still carries the page's name, so a
// server bound to loopback answers only requests addressed to a loopback name: localhost and
// *.localhost (which browsers never resolve elsewhere), 127.0.0.0/8 and [::1], any port, plus the
// names given with `sinan serve --allow-host NAME` (repeatable or comma-separated: a reverse proxy
// on the machine that passes its public name, or a name in /etc/hosts). Others get 403
// host_not_allowed naming the flag. A server bound to another address (--host 0.0.0.0) takes any
// Host: it is meant to be reached by other names, and its API keys guard it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sinan::api {

// An authority, host[:port], as in a Host header or an origin: name lower case, without a
// trailing dot (an IPv6 address keeps its brackets); port its digits (1-65535), "" when absent.
struct Authority {
    std::string name, port;
};
// nullopt when the text is not of that form (a path, user info, spaces, a bad port ...).
std::optional<Authority> parse_authority(std::string_view host_port);
// Its name; "" when the text is not an authority.
std::string host_name(std::string_view host_port);

// Whether a host name (lower case, no port; an IPv6 address in brackets) is a loopback name:
// localhost, *.localhost, a dotted quad in 127.0.0.0/8, or [::1].
bool is_loopback_host(std::string_view host);

class HostPolicy {
  public:
    HostPolicy() = default;  // checks nothing
    // listen_host: the address the server binds (--host); names: --allow-host values. Error (one
    // line naming the value) for a name that is not a host name.
    static Result<HostPolicy> make(const std::string& listen_host, const std::vector<std::string>& names);

    // Whether a request with this Host header (host[:port]) is answered. No header (HTTP/1.0;
    // browsers always send one): yes.
    bool allows(std::string_view host_header) const;
    bool enforced() const { return enforced_; }
    // For the start-up log and the refusal: "loopback names" or "loopback names, NAME, ...".
    std::string describe() const;

  private:
    bool enforced_ = false;
    std::vector<std::string> names_;  // --allow-host, lower case
};

}  // namespace sinan::api
