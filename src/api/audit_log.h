// AuditLog: who asked what, for `sinan serve --audit`. One JSON object per line appended to
// <data-dir>/audit.log: {"time" (UTC ISO 8601), "request_id", "key_id", "route", "model",
// "request" (the messages or query), "answer", "reasoning", "status"}. Each line is written with
// one write() and fsync'd before the request is answered complete, so a crash loses at most the
// request in progress. The file is created with mode 0600 (it holds what users asked).
// Thread-safety: write() may be called from any thread (one mutex).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace sinan::api {

class AuditLog {
  public:
    // Opens (creates) `path` for appending; error names the file.
    static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Adds "time" and appends the record as one line. Failures are logged, never thrown.
    void write(nlohmann::json record);

    const std::string& path() const { return path_; }

  private:
    AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    std::string path_;
    int fd_;
    std::mutex mu_;
};

// "2026-11-29T23:00:00.123Z"
std::string utc_timestamp();

}  // namespace sinan::api
