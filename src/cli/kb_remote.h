// The client side of `sinan kb ... --server URL`: the knowledge-base REST routes of a running
// `sinan serve` (src/api/kb_routes.cpp), answering the JSON shapes of knowledge/kb_json.h. Any
// failure (server unreachable, an error status) ends the command with `sinan: error: ...` naming
// the server and quoting its message, exit code 2.
// One instance per command; not thread-safe.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sinan::cli {

class KbRemote {
  public:
    // url: http://HOST:PORT; api_key: "" = $SINAN_API_KEY, if set.
    KbRemote(const std::string& url, const std::string& api_key);

    nlohmann::ordered_json get(const std::string& path);
    nlohmann::ordered_json post(const std::string& path, const nlohmann::ordered_json& body);
    nlohmann::ordered_json del(const std::string& path);
    // Uploads files (source name, path on disk) as multipart/form-data with a "metadata" part,
    // streamed from disk in 1 MiB pieces (memory does not grow with the files' size). A file name
    // with a double quote or a line break, or a file that changes size while it is sent, fails.
    nlohmann::ordered_json upload(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                                  const std::string& metadata_json);

    // A path segment percent-encoded (knowledge base names, document sources).
    static std::string escape(const std::string& segment);

  private:
    nlohmann::ordered_json answer(const httplib::Result& r);

    std::string url_;
    httplib::Client client_;
    httplib::Headers headers_;
};

}  // namespace sinan::cli
