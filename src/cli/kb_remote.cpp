#include "cli/kb_remote.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/openai_response.h"
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

namespace {

// One piece of a streamed multipart body: literal bytes, or a file's bytes.
struct BodyPart {
    std::string bytes;  // when path is empty
    std::string path;
    uint64_t size = 0;
};

// A multipart/form-data body written piece by piece as the client sends it, so no file is held
// in memory whole; its length is known up front, so it goes with a Content-Length.
class MultipartBody {
  public:
    MultipartBody() : boundary_(api::new_id("sinan-")) {}
    std::string content_type() const { return "multipart/form-data; boundary=" + boundary_; }

    void add_file(const std::string& name, const std::string& filename, const std::string& path) {
        if (filename.find_first_of("\"\r\n") != std::string::npos)
            fail(path + ": a file name with a double quote or a line break cannot be uploaded; rename it");
        std::error_code ec;
        const uint64_t size = std::filesystem::file_size(path, ec);
        if (ec) fail(path + ": cannot read (" + ec.message() + ")");
        literal("--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" +
                filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        parts_.push_back({"", path, size});
        literal("\r\n");
    }
    void add_field(const std::string& name, const std::string& value, const std::string& type) {
        literal("--" + boundary_ + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\nContent-Type: " +
                type + "\r\n\r\n" + value + "\r\n");
    }
    void finish() { literal("--" + boundary_ + "--\r\n"); }

    uint64_t size() const {
        uint64_t n = 0;
        for (const BodyPart& p : parts_) n += p.path.empty() ? p.bytes.size() : p.size;
        return n;
    }

    // httplib's ContentProvider: asked for the bytes from `offset` on, in order.
    bool provide(size_t /*offset*/, size_t /*length*/, httplib::DataSink& sink) {
        if (index_ >= parts_.size()) return true;
        const BodyPart& p = parts_[index_];
        if (p.path.empty()) {
            sink.write(p.bytes.data(), p.bytes.size());
            ++index_;
            return true;
        }
        if (!file_.is_open()) {
            file_.open(p.path, std::ios::binary);
            if (!file_) fail(p.path + ": cannot read");
            left_ = p.size;
        }
        buffer_.resize(static_cast<size_t>(std::min<uint64_t>(left_, 1 << 20)));
        if (!buffer_.empty()) {
            file_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
            if (static_cast<size_t>(file_.gcount()) != buffer_.size())
                fail(p.path + ": changed size while it was being uploaded; try again");
            sink.write(buffer_.data(), buffer_.size());
            left_ -= buffer_.size();
        }
        if (left_ == 0) {
            file_.close();
            ++index_;
        }
        return true;
    }

  private:
    void literal(std::string bytes) {
        if (!parts_.empty() && parts_.back().path.empty()) {
            parts_.back().bytes += bytes;
        } else {
            parts_.push_back({std::move(bytes), "", 0});
        }
    }

    std::string boundary_;
    std::vector<BodyPart> parts_;
    size_t index_ = 0;
    std::ifstream file_;
    uint64_t left_ = 0;
    std::vector<char> buffer_;
};

}  // namespace

ojson KbRemote::upload(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                       const std::string& metadata_json) {
    MultipartBody body;
    for (const auto& [source, file] : files) body.add_file("file", source, file);
    if (!metadata_json.empty()) body.add_field("metadata", metadata_json, "application/json");
    body.finish();
    return answer(client_.Post(
        path.c_str(), headers_, static_cast<size_t>(body.size()),
        [&body](size_t offset, size_t length, httplib::DataSink& sink) { return body.provide(offset, length, sink); },
        body.content_type().c_str()));
}

}  // namespace sinan::cli
