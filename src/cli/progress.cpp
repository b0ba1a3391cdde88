#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "cli/format.h"

namespace sinan::cli {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), tty_(::isatty(2) != 0), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void ProgressBar::update(uint64_t done, uint64_t total) {
    if (!tty_ || total == 0) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const double frac = static_cast<double>(done) / static_cast<double>(total);
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(kWidth, ' ');
    for (int i = 0; i < filled; ++i) bar[i] = '=';
    if (filled < kWidth) bar[filled] = '>';
    std::fprintf(stderr, "\r%s %3d%% [%s] %s / %s ", label_.c_str(), static_cast<int>(frac * 100), bar.c_str(),
                 format_bytes(done).c_str(), format_bytes(total).c_str());
    std::fflush(stderr);
}

void ProgressBar::finish(const std::string& summary) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "%s%s: %s in %.1f s\n", tty_ ? "\r\033[K" : "", label_.c_str(), summary.c_str(), s);
}

}  // namespace sinan::cli
