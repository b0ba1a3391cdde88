// Test helper: runs the real `sinan serve` binary (SINAN_BINARY) on a free loopback port and
// talks to it with httplib::Client. start() waits for the "listening on http://HOST:PORT" line;
// the server's stderr (the request log) goes to a file the test can read. The destructor kills a
// server that is still running. Also: the tiny synthetic models the server tests use.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sinan::test {

class ServeProcess {
  public:
    ServeProcess() = default;
    ~ServeProcess();
    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;

    // Starts `sinan serve --port 0 --host 127.0.0.1 <args>`; false (with the log in *why) when
    // it exits or prints no listening line.
    bool start(const std::vector<std::string>& args, std::string* why);
    int port() const { return port_; }
    std::unique_ptr<httplib::Client> client(int read_timeout_s = 120) const;

    // Sends a signal and waits for the exit; returns the exit code (128 + signal if killed).
    int stop(int signal_number);
    std::string log() const;  // everything written to stderr so far
    // Waits (up to `timeout`) for `text` in the log: the request log line of a request is written
    // after its response has gone out, so a client can see the response first. True when found.
    bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  private:
    pid_t pid_ = -1;
    int port_ = 0;
    std::string log_path_;
};

// POSTs JSON; returns the response (status 0 when the connection failed).
httplib::Result post_json(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                          const httplib::Headers& headers = {});

// Reads an SSE stream: the JSON of every "data:" event before [DONE] (comments skipped);
// *done says whether [DONE] arrived; *status the HTTP status; *arrivals (when given) the time each
// event was received.
std::vector<nlohmann::json> post_stream(httplib::Client& c, const std::string& path, const nlohmann::json& body,
                                        bool* done, int* status, const httplib::Headers& headers = {},
                                        std::vector<std::chrono::steady_clock::time_point>* arrivals = nullptr);

// A tiny synthetic model with the DeepSeek-R1-Distill-Qwen vocab and chat template (pre-fills
// <think>), made once per test binary in a temp dir; "" when ../shared is absent.
std::string tiny_r1_model();
// The same with another seed: a second, different model file (for multi-model tests).
std::string tiny_r1_model_b();
std::string temp_dir();

}  // namespace sinan::test
