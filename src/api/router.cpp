#include "api/router.h"

#include <cstdlib>
#include <memory>
#include <utility>

#include "api/server_context.h"

namespace sinan::api {
namespace {

// Drops the body of a refused request; closes the connection when it could not read it all.
void drop_body(const httplib::Request& req, const httplib::ContentReader& reader, httplib::Response& res) {
    if (!read_body(req, reader, 0, nullptr).drained) res.set_header("Connection", "close");
}

httplib::Server::Handler refusable(httplib::Server::Handler handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        if (!send_refusal(res)) handler(req, res);
    };
}

httplib::Server::HandlerWithContentReader refusable(httplib::Server::HandlerWithContentReader handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
        if (!current_record().refusal) return handler(req, res, reader);
        drop_body(req, reader, res);
        send_refusal(res);
    };
}

}  // namespace

httplib::Server::HandlerWithContentReader Router::reading(Handler handler) {
    return [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                const httplib::ContentReader& reader) {
        if (current_record().refusal) {
            drop_body(req, reader, res);
            send_refusal(res);
            return;
        }
        const size_t limit = body_limit_;
        std::string body;
        const BodyRead read = read_body(req, reader, limit, &body);
        if (!read.drained) res.set_header("Connection", "close");
        switch (read.status) {
            case BodyRead::kRead: {
                httplib::Request with_body = req;  // its matches still point into req.path, which outlives the call
                with_body.body = std::move(body);
                return handler(with_body, res);
            }
            case BodyRead::kTooLarge:
                return send_error(res, body_too_large(limit, "--max-body", "send a smaller one"));
            case BodyRead::kBroken:
                return send_error(res, body_unreadable(res));
        }
    };
}

Router& Router::Post(const std::string& pattern, Handler handler) {
    // httplib hands every POST to a route with a content reader when one matches.
    httplib::Server::Post(pattern, reading(std::move(handler)));
    return *this;
}

Router& Router::Post(const std::string& pattern, HandlerWithContentReader handler) {
    httplib::Server::Post(pattern, refusable(std::move(handler)));
    return *this;
}

Router& Router::Delete(const std::string& pattern, Handler handler) {
    // A DELETE without a body may go to the plain handler (httplib's versions differ).
    httplib::Server::Delete(pattern, reading(handler));
    httplib::Server::Delete(pattern, refusable(std::move(handler)));
    return *this;
}

void Router::route_the_rest() {
    const auto rest = [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
        drop_body(req, reader, res);
        res.status = 404;  // the error handler sends the refusal, if any, or the 404
    };
    httplib::Server::Post(".*", rest);
    httplib::Server::Delete(".*", rest);
}

BodyRead read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t limit, std::string* body) {
    BodyRead out;
    // A request with neither a Content-Length nor a chunked body has none (RFC 9112 6.3); httplib
    // would read it until the client closes.
    if (!has_body(req)) return out;
    const uint64_t declared = declared_length(req);
    if (declared > limit && declared - limit > kMaxDroppedBytes) {
        out.status = BodyRead::kTooLarge;
        out.drained = false;
        return out;
    }
    const bool multipart = req.is_multipart_form_data();
    const auto deadline = std::chrono::steady_clock::now() + kMaxDropTime;
    uint64_t taken = 0, dropped = 0;
    bool over = false;
    const auto take = [&](const char* data, size_t n) {
        if (!over && taken + n <= limit) {
            taken += n;
            if (body && !multipart) body->append(data, n);
            return true;
        }
        if (!over && body) body->clear();
        over = true;
        dropped += n;
        return dropped <= kMaxDroppedBytes && std::chrono::steady_clock::now() < deadline;
    };
    const bool read = multipart ? reader([](const httplib::MultipartFormData&) { return true; }, take) : reader(take);
    out.status = over || (!read && declared > limit) ? BodyRead::kTooLarge : read ? BodyRead::kRead : BodyRead::kBroken;
    out.drained = read;
    return out;
}

void end_connection_after(httplib::Response& res) {
    if (res.body.empty()) return;
    auto body = std::make_shared<const std::string>(std::move(res.body));
    res.body.clear();
    const std::string type = res.get_header_value("Content-Type");
    res.headers.erase("Content-Type");  // set_content_provider sets it again
    res.set_content_provider(body->size(), type, [body](size_t offset, size_t length, httplib::DataSink& sink) {
        sink.write(body->data() + offset, length);
        return false;
    });
}

ApiError body_too_large(size_t limit, const std::string& option, const std::string& instead) {
    ApiError e;
    e.status = 413;
    e.code = "request_too_large";
    e.message = "the request body is larger than this server takes (" + std::to_string(limit) + " bytes, " + option +
                "); " + instead;
    return e;
}

ApiError body_unreadable(const httplib::Response& res) {
    ApiError e;
    e.status = res.status == 415 ? 415 : 400;
    e.message = e.status == 415 ? "the request body's Content-Encoding is not one this server reads (gzip, br or none)"
                                : "the request body could not be read: it ended before its Content-Length, its "
                                  "chunked encoding is malformed, or the client stopped sending";
    return e;
}

bool has_body(const httplib::Request& req) {
    return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos || declared_length(req) > 0;
}

uint64_t declared_length(const httplib::Request& req) {
    const std::string length = req.get_header_value("Content-Length");
    return length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
}

bool send_refusal(httplib::Response& res) {
    const std::optional<ApiError>& refusal = current_record().refusal;
    if (!refusal) return false;
    send_error(res, *refusal);
    return true;
}

}  // namespace sinan::api
