// ApiError: a failed API request as OpenAI reports it, {"error": {"message", "type", "param",
// "code"}} with an HTTP status, plus Retry-After for 429 and 503. Every route answers its failures
// with one of these; the message names the field or the limit and says what to do.
// Plain value type.
#pragma once

#include <cstdint>
#include <string>

namespace sinan::api {

struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";  // OpenAI's error types
    std::string param;                           // the request field at fault, "" when none
    std::string code;                            // machine-readable: "model_not_found", "queue_full", ...
    int64_t retry_after_s = 0;                   // > 0: sent as Retry-After

    // The JSON body ({"error": {...}}, param and code null when empty), valid UTF-8 whatever the
    // message holds.
    std::string body() const;
};

// 400 invalid_request_error naming `param`.
ApiError bad_request(std::string message, std::string param = "", std::string code = "");

}  // namespace sinan::api
