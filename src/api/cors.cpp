#include "api/cors.h"

#include <algorithm>
#include <optional>

#include "api/host_policy.h"
#include "base/ascii.h"

namespace sinan::api {
namespace {

struct Origin {
    std::string scheme;  // http or https
    std::string host;    // as parse_authority gives it
    std::string port;    // digits, empty for the scheme's default
};

// scheme://host[:port] with nothing after it (a serialized origin, as browsers send it); nullopt
// for anything else, "null" included.
std::optional<Origin> parse_origin(std::string_view text) {
    const std::string s = ascii_lower(text);
    const size_t sep = s.find("://");
    if (sep == std::string::npos) return std::nullopt;
    Origin o;
    o.scheme = s.substr(0, sep);
    if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
    const std::optional<Authority> a = parse_authority(std::string_view(s).substr(sep + 3));
    if (!a) return std::nullopt;
    o.host = a->name;
    const bool default_port = (o.scheme == "http" && a->port == "80") || (o.scheme == "https" && a->port == "443");
    o.port = default_port ? "" : a->port;
    return o;
}

std::string canonical(const Origin& o) { return o.scheme + "://" + o.host + (o.port.empty() ? "" : ":" + o.port); }

}  // namespace

Result<CorsPolicy> CorsPolicy::parse(const std::vector<std::string>& specs) {
    CorsPolicy p;
    const std::vector<std::string> items = comma_list_items(specs);
    if (items.empty()) return p;
    p.loopback_ = false;
    bool none = false;
    for (const std::string& item : items) {
        if (item == "*") {
            p.any_ = true;
        } else if (item == "loopback") {
            p.loopback_ = true;
        } else if (item == "none") {
            none = true;
        } else {
            std::string text = item;
            if (!text.empty() && text.back() == '/') text.pop_back();  // "https://x/" as typed from an address bar
            const std::optional<Origin> o = parse_origin(text);
            if (!o)
                return Status::error("--cors-origin: \"" + item +
                                     "\" is not an origin: give scheme://host[:port] (e.g. https://chat.example.com), "
                                     "loopback, * or none");
            p.origins_.push_back(canonical(*o));
        }
    }
    if (none && items.size() > 1) return Status::error("--cors-origin: none cannot be combined with other origins");
    return p;
}

bool CorsPolicy::allows(std::string_view origin) const {
    if (origin.empty()) return false;
    if (any_) return true;
    const std::optional<Origin> o = parse_origin(origin);
    if (!o) return false;
    if (loopback_ && is_loopback_host(o->host)) return true;
    return std::find(origins_.begin(), origins_.end(), canonical(*o)) != origins_.end();
}

std::string CorsPolicy::describe() const {
    if (any_) return "any origin";
    std::string out = loopback_ ? "loopback" : "";
    for (const std::string& o : origins_) out += (out.empty() ? "" : ", ") + o;
    return out.empty() ? "none" : out;
}

}  // namespace sinan::api
