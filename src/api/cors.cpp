#include "api/cors.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace sinan::api {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Origin {
    std::string scheme;  // http or https
    std::string host;    // lower case; an IPv6 address keeps its brackets
    std::string port;    // digits, empty for the scheme's default
};

// scheme://host[:port] with nothing after it (a serialized origin, as browsers send it); nullopt
// for anything else, "null" included.
std::optional<Origin> parse_origin(std::string_view text) {
    const std::string s = lower(text);
    const size_t sep = s.find("://");
    if (sep == std::string::npos) return std::nullopt;
    Origin o;
    o.scheme = s.substr(0, sep);
    if (o.scheme != "http" && o.scheme != "https") return std::nullopt;
    std::string_view rest = std::string_view(s).substr(sep + 3);
    size_t host_end = 0;
    if (!rest.empty() && rest.front() == '[') {
        host_end = rest.find(']');
        if (host_end == std::string_view::npos) return std::nullopt;
        ++host_end;
    } else {
        host_end = rest.find(':');
        if (host_end == std::string_view::npos) host_end = rest.size();
    }
    o.host = std::string(rest.substr(0, host_end));
    if (o.host.empty() || o.host.find_first_of("/?#@ \t") != std::string::npos) return std::nullopt;
    rest.remove_prefix(host_end);
    if (!rest.empty()) {
        if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return std::nullopt;
        rest.remove_prefix(1);
        if (!std::all_of(rest.begin(), rest.end(), is_digit)) return std::nullopt;
        if (std::stoi(std::string(rest)) > 65535) return std::nullopt;
        o.port = std::string(rest);
        if ((o.scheme == "http" && o.port == "80") || (o.scheme == "https" && o.port == "443")) o.port.clear();
    }
    return o;
}

std::string canonical(const Origin& o) { return o.scheme + "://" + o.host + (o.port.empty() ? "" : ":" + o.port); }

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host == "[::1]") return true;
    // 127.0.0.0/8 as a dotted quad.
    if (host.rfind("127.", 0) != 0) return false;
    int parts = 0;
    size_t i = 0;
    while (i <= host.size()) {
        const size_t dot = std::min(host.find('.', i), host.size());
        const std::string part = host.substr(i, dot - i);
        if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit) ||
            std::stoi(part) > 255)
            return false;
        ++parts;
        i = dot + 1;
    }
    return parts == 4;
}

}  // namespace

Result<CorsPolicy> CorsPolicy::parse(const std::vector<std::string>& specs) {
    CorsPolicy p;
    std::vector<std::string> items;
    for (const std::string& spec : specs) {
        size_t start = 0;
        while (start <= spec.size()) {
            const size_t comma = std::min(spec.find(',', start), spec.size());
            std::string item = spec.substr(start, comma - start);
            item.erase(0, item.find_first_not_of(" \t"));
            item.erase(item.find_last_not_of(" \t") + 1);
            if (!item.empty()) items.push_back(item);
            start = comma + 1;
        }
    }
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
    if (loopback_ && is_loopback(o->host)) return true;
    return std::find(origins_.begin(), origins_.end(), canonical(*o)) != origins_.end();
}

std::string CorsPolicy::describe() const {
    if (any_) return "any origin";
    std::string out = loopback_ ? "loopback" : "";
    for (const std::string& o : origins_) out += (out.empty() ? "" : ", ") + o;
    return out.empty() ? "none" : out;
}

}  // namespace sinan::api
