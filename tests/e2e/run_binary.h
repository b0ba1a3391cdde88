// Test helper: runs the real `sinan` binary (SINAN_BINARY, set by tests/CMakeLists.txt) with
// arguments and optional stdin, and returns its exit code, stdout and stderr. No shell is
// involved: arguments are passed as they are.
#pragma once

#include <string>
#include <vector>

namespace sinan::test {

struct RunResult {
    int exit_code = -1;  // 128 + signal number when killed by a signal
    std::string out;
    std::string err;
    long max_rss_kib = 0;  // the process's peak resident memory (wait4's ru_maxrss)
};

RunResult run_sinan(const std::vector<std::string>& args, const std::string& stdin_text = "");

// argv (argv[0]: the program's path) as started so that the program is killed (SIGKILL) when the
// thread that starts it ends: through util-linux's `setpriv --pdeathsig KILL` where it is
// installed (Debian: always), else argv unchanged. A test process that crashes or is killed then
// leaves no server running. Start such a program from a thread that lives as long as it should
// (a test's own thread); posix_spawn the returned argv[0].
std::vector<std::string> killed_with_parent(std::vector<std::string> argv);

// A fresh empty directory under the system temp dir ($TMPDIR, else /tmp). It is removed with
// everything in it when the test binary exits, whatever the test did; a caller may remove it
// sooner.
std::string make_temp_dir();

}  // namespace sinan::test
