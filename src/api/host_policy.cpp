#include "api/host_policy.h"

#include <algorithm>

#include "base/ascii.h"

namespace sinan::api {

std::optional<Authority> parse_authority(std::string_view text) {
    std::string s = ascii_lower(text);
    Authority a;
    if (!s.empty() && s.front() == '[') {
        const size_t close = s.find(']');
        if (close == std::string::npos) return std::nullopt;
        a.name = s.substr(0, close + 1);
        s.erase(0, close + 1);
    } else {
        const size_t colon = s.find(':');
        a.name = s.substr(0, colon);
        s.erase(0, colon == std::string::npos ? s.size() : colon);
    }
    if (!s.empty()) {
        a.port = s.substr(1);
        if (s.front() != ':' || a.port.empty() || a.port.size() > 5 ||
            !std::all_of(a.port.begin(), a.port.end(), is_ascii_digit) || std::stoi(a.port) == 0 ||
            std::stoi(a.port) > 65535)
            return std::nullopt;
    }
    if (!a.name.empty() && a.name.back() == '.') a.name.pop_back();
    const bool ok = !a.name.empty() && (a.name.front() == '[' || std::all_of(a.name.begin(), a.name.end(), [](char c) {
                                            return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '.';
                                        }));
    if (!ok) return std::nullopt;
    return a;
}

std::string host_name(std::string_view host_port) {
    const std::optional<Authority> a = parse_authority(host_port);
    return a ? a->name : "";
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "[::1]") return true;
    constexpr std::string_view kSuffix = ".localhost";
    if (host.size() > kSuffix.size() && host.substr(host.size() - kSuffix.size()) == kSuffix) return true;
    // 127.0.0.0/8 as a dotted quad.
    if (host.substr(0, 4) != "127.") return false;
    int parts = 0;
    size_t i = 0;
    while (i <= host.size()) {
        const size_t dot = std::min(host.find('.', i), host.size());
        const std::string_view part = host.substr(i, dot - i);
        if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_ascii_digit) ||
            std::stoi(std::string(part)) > 255)
            return false;
        ++parts;
        i = dot + 1;
    }
    return parts == 4;
}

Result<HostPolicy> HostPolicy::make(const std::string& listen_host, const std::vector<std::string>& names) {
    HostPolicy p;
    std::string listen = ascii_lower(listen_host);
    if (listen.find(':') != std::string::npos && listen.front() != '[') listen = "[" + listen + "]";
    p.enforced_ = is_loopback_host(host_name(listen));
    for (const std::string& item : comma_list_items(names)) {
        if (item == "*") {
            p.enforced_ = false;
            continue;
        }
        const std::string name = host_name(item);
        if (name.empty())
            return Status::error("--allow-host: \"" + item +
                                 "\" is not a host name: give the name clients use, e.g. sinan.example.com (or * for "
                                 "any)");
        p.names_.push_back(name);
    }
    return p;
}

bool HostPolicy::allows(std::string_view host_header) const {
    if (!enforced_ || host_header.empty()) return true;
    const std::string name = host_name(host_header);
    if (name.empty()) return false;
    return is_loopback_host(name) || std::find(names_.begin(), names_.end(), name) != names_.end();
}

std::string HostPolicy::describe() const {
    if (!enforced_) return "any";
    std::string out = "loopback names";
    for (const std::string& n : names_) out += ", " + n;
    return out;
}

}  // namespace sinan::api
