// A progress bar on stderr for long work ("writing model  42% [=====>    ] 1.2 GB / 2.9 GB").
// Redrawn in place when stderr is a terminal (at most ~10 times a second); otherwise silent
// until finish(), which prints one summary line. Not thread-safe: update from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sinan::cli {

class ProgressBar {
public:
    explicit ProgressBar(std::string label);
    void update(uint64_t done, uint64_t total);
    // Prints the final line: "<label>: <total> in 3.2 s".
    void finish(const std::string& summary);

private:
    std::string label_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sinan::cli
