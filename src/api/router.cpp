#include "api/router.h"

#include <utility>

#include "api/server_context.h"

namespace sinan::api {
namespace {

httplib::Server::Handler refusable(httplib::Server::Handler handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        if (!send_refusal(res)) handler(req, res);
    };
}

httplib::Server::HandlerWithContentReader refusable(httplib::Server::HandlerWithContentReader handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
        if (!current_record().refusal) return handler(req, res, reader);
        const auto drop = [](const char*, size_t) { return true; };
        if (req.is_multipart_form_data()) {
            reader([](const httplib::MultipartFormData&) { return true; }, drop);
        } else {
            reader(drop);
        }
        send_refusal(res);
    };
}

}  // namespace

Router& Router::Post(const std::string& pattern, Handler handler) {
    httplib::Server::Post(pattern, refusable(std::move(handler)));
    return *this;
}

Router& Router::Post(const std::string& pattern, HandlerWithContentReader handler) {
    httplib::Server::Post(pattern, refusable(std::move(handler)));
    return *this;
}

Router& Router::Delete(const std::string& pattern, Handler handler) {
    httplib::Server::Delete(pattern, refusable(std::move(handler)));
    return *this;
}

bool has_body(const httplib::Request& req) {
    if (req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) return true;
    const std::string length = req.get_header_value("Content-Length");
    return !length.empty() && std::strtoull(length.c_str(), nullptr, 10) > 0;
}

bool send_refusal(httplib::Response& res) {
    const std::optional<ApiError>& refusal = current_record().refusal;
    if (!refusal) return false;
    send_error(res, *refusal);
    return true;
}

}  // namespace sinan::api
