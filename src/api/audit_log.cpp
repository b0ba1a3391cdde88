#include "api/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "api/openai_response.h"
#include "base/log.h"

namespace sinan::api {

std::string utc_timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return Status::error(path + ": cannot open the audit log (" + std::strerror(errno) +
                             "); check that the data directory is writable");
    return std::unique_ptr<AuditLog>(new AuditLog(path, fd));
}

AuditLog::~AuditLog() { ::close(fd_); }

void AuditLog::write(nlohmann::json record) {
    nlohmann::json line = {{"time", utc_timestamp()}};
    line.update(record);
    const std::string text = dump_json(line) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            log::error(path_ + ": audit log write failed: " + std::strerror(errno));
            return;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) log::error(path_ + ": audit log fsync failed: " + std::strerror(errno));
}

}  // namespace sinan::api
