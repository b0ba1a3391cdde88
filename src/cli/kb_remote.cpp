#include "cli/kb_remote.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/commands.h"

namespace sinan::cli {

using ojson = nlohmann::ordered_json;

KbRemote::KbRemote(const std::string& url, const std::string& api_key) : url_(url), client_(url) {
    if (!client_.is_valid()) fail("--server " + url + ": not a URL; give http://HOST:PORT");
    client_.set_read_timeout(std::chrono::seconds(600));
    const char* env_key = std::getenv("SINAN_API_KEY");
    const std::string key = !api_key.empty() ? api_key : (env_key ? env_key : "");
    if (!key.empty()) headers_.emplace("Authorization", "Bearer " + key);
}

std::string KbRemote::escape(const std::string& segment) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : segment) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

ojson KbRemote::answer(const httplib::Result& r) {
    if (!r) fail("cannot reach " + url_ + " (" + httplib::to_string(r.error()) + "); is `sinan serve` running there?");
    ojson out = ojson::parse(r->body, nullptr, false);
    if (r->status >= 300) {
        const std::string message =
            out.is_object() && out.contains("error") ? out["error"].value("message", r->body) : r->body;
        fail(url_ + " answered " + std::to_string(r->status) + ": " + message);
    }
    if (out.is_discarded()) fail(url_ + " answered something that is not JSON");
    return out;
}

ojson KbRemote::get(const std::string& path) { return answer(client_.Get(path.c_str(), headers_)); }

ojson KbRemote::post(const std::string& path, const ojson& body) {
    return answer(client_.Post(path.c_str(), headers_, body.dump(), "application/json"));
}

ojson KbRemote::del(const std::string& path) { return answer(client_.Delete(path.c_str(), headers_)); }

ojson KbRemote::upload(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                       const std::string& metadata_json) {
    httplib::MultipartFormDataItems items;
    for (const auto& [source, file] : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) fail(file + ": cannot read");
        std::stringstream ss;
        ss << in.rdbuf();
        items.push_back({"file", ss.str(), source, "application/octet-stream"});
    }
    if (!metadata_json.empty()) items.push_back({"metadata", metadata_json, "", "application/json"});
    return answer(client_.Post(path.c_str(), headers_, items));
}

}  // namespace sinan::cli
