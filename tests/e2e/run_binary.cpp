#include "run_binary.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace sinan::test {

std::vector<std::string> killed_with_parent(std::vector<std::string> argv) {
    static const bool have_setpriv = access("/usr/bin/setpriv", X_OK) == 0;
    if (have_setpriv) argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
    return argv;
}

RunResult run_sinan(const std::vector<std::string>& args, const std::string& stdin_text) {
    // A command that fails before reading all its input closes the pipe: the write must then
    // fail with EPIPE, not kill the test with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) posix_spawn_file_actions_addclose(&fa, fd);

    std::vector<std::string> argv_s = {SINAN_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    argv_s = killed_with_parent(std::move(argv_s));
    std::vector<char*> argv;
    for (std::string& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);

    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("cannot start " + std::string(SINAN_BINARY));
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);

    RunResult r;
    size_t written = 0;
    if (stdin_text.empty()) {
        close(in[1]);
        in[1] = -1;
    } else {
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    }
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        pollfd fds[3];
        int n = 0;
        int io = -1, ie = -1, ii = -1;
        if (out_open) {
            io = n;
            fds[n++] = {out[0], POLLIN, 0};
        }
        if (err_open) {
            ie = n;
            fds[n++] = {err[0], POLLIN, 0};
        }
        if (in[1] >= 0) {
            ii = n;
            fds[n++] = {in[1], POLLOUT, 0};
        }
        if (poll(fds, n, -1) < 0) break;
        if (ii >= 0 && (fds[ii].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in[1], stdin_text.data() + written, stdin_text.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 || written == stdin_text.size()) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (io >= 0 && (fds[io].revents & (POLLIN | POLLHUP))) {
            ssize_t k = read(out[0], buf, sizeof buf);
            if (k <= 0)
                out_open = false;
            else
                r.out.append(buf, static_cast<size_t>(k));
        }
        if (ie >= 0 && (fds[ie].revents & (POLLIN | POLLHUP))) {
            ssize_t k = read(err[0], buf, sizeof buf);
            if (k <= 0)
                err_open = false;
            else
                r.err.append(buf, static_cast<size_t>(k));
        }
    }
    if (in[1] >= 0) close(in[1]);
    close(out[0]);
    close(err[0]);
    int status = 0;
    struct rusage usage = {};
    wait4(pid, &status, 0, &usage);
    r.max_rss_kib = usage.ru_maxrss;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

namespace {

// Every directory make_temp_dir made, removed when the test binary exits (also after a test that
// stopped half-way, which never reached its own clean-up).
class TempDirs {
  public:
    ~TempDirs() {
        std::error_code ec;
        for (const std::string& d : dirs_) std::filesystem::remove_all(d, ec);
    }
    void add(std::string dir) {
        std::lock_guard<std::mutex> lock(mu_);
        dirs_.push_back(std::move(dir));
    }

  private:
    std::mutex mu_;
    std::vector<std::string> dirs_;
};

TempDirs& temp_dirs() {
    static TempDirs dirs;
    return dirs;
}

}  // namespace

std::string make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/sinan-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    temp_dirs().add(tmpl);
    return tmpl;
}

}  // namespace sinan::test
