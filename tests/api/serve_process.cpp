#include "serve_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "run_binary.h"

extern char** environ;

namespace sinan::test {

namespace fs = std::filesystem;

ServeProcess::~ServeProcess() {
    if (pid_ > 0) stop(SIGKILL);
}

bool ServeProcess::start(const std::vector<std::string>& args, std::string* why) {
    std::signal(SIGPIPE, SIG_IGN);
    log_path_ = temp_dir() + "/serve-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".log";
    int out[2];
    if (pipe(out) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    std::vector<std::string> argv_s = {SINAN_BINARY, "serve", "--host", "127.0.0.1", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    argv_s = killed_with_parent(std::move(argv_s));
    std::vector<char*> argv;
    for (std::string& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        pid_ = -1;
        *why = "cannot start " + std::string(SINAN_BINARY);
        return false;
    }
    std::string text;
    const auto end = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    std::smatch m;
    while (!std::regex_search(text, m, std::regex("listening on http://[0-9.]+:([0-9]+)\n"))) {
        pollfd p{out[0], POLLIN, 0};
        const int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count());
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        char buf[4096];
        const ssize_t k = read(out[0], buf, sizeof buf);
        if (k <= 0) break;
        text.append(buf, static_cast<size_t>(k));
    }
    close(out[0]);
    if (m.empty()) {
        *why = "no listening line; stdout: " + text + "\nstderr: " + log();
        stop(SIGKILL);
        return false;
    }
    port_ = std::stoi(m[1]);
    return true;
}

std::unique_ptr<httplib::Client> ServeProcess::client(int read_timeout_s) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(read_timeout_s, 0);
    c->set_connection_timeout(10, 0);
    return c;
}

int ServeProcess::stop(int signal_number) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal_number);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServeProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool ServeProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (log().find(text) != std::string::npos) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

httplib::Result post_json(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                          const httplib::Headers& headers) {
    return c.Post(path.c_str(), headers, body.dump(), "application/json");
}

std::vector<nlohmann::json> post_stream(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                                        bool* done, int* status, const httplib::Headers& headers,
                                        std::vector<std::chrono::steady_clock::time_point>* arrivals) {
    std::vector<nlohmann::json> events;
    std::string buffer;
    *done = false;
    *status = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.headers = headers;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        buffer.append(data, n);
        size_t cut;
        while ((cut = buffer.find("\n\n")) != std::string::npos) {
            const std::string event = buffer.substr(0, cut);
            buffer.erase(0, cut + 2);
            if (event.rfind("data: ", 0) != 0) continue;
            const std::string payload = event.substr(6);
            if (payload == "[DONE]") {
                *done = true;
                continue;
            }
            events.push_back(nlohmann::json::parse(payload));
            if (arrivals) arrivals->push_back(std::chrono::steady_clock::now());
        }
        return true;
    };
    httplib::Result r = c.send(req);
    if (r) {
        *status = r->status;
        // Errors come back as a plain JSON body, not a stream.
        if (r->status != 200 && !buffer.empty()) events.push_back(nlohmann::json::parse(buffer, nullptr, false));
    }
    return events;
}

std::string temp_dir() {
    static const std::string dir = make_temp_dir();
    return dir;
}

namespace {

std::string synth(const std::string& name, const std::string& seed) {
    const fs::path vocab = fs::path(SINAN_SHARED_DIR) / "models" / "ggml-vocab-deepseek-r1-qwen.gguf";
    if (!fs::exists(vocab)) return "";
    const std::string out = temp_dir() + "/" + name + ".gguf";
    if (fs::exists(out)) return out;
    RunResult r = run_sinan(
        {"model", "synth", "--shape", "tiny", "--type", "q8_0", "--vocab", vocab.string(), "--seed", seed, "-o", out});
    return r.exit_code == 0 ? out : "";
}

}  // namespace

std::string tiny_r1_model() { return synth("tiny-r1", "1"); }
std::string tiny_r1_model_b() { return synth("tiny-r1-b", "2"); }

}  // namespace sinan::test
