// `sinan serve`'s request bodies, over real HTTP (api/router.h): every POST route takes a chunked
// body as well as one with a Content-Length; a body over --max-body gets its 413 after the server
// has read it through, so a client still sending when the answer comes reads the answer instead of
// a connection reset; a body declared far beyond the limit is refused unread at once; the POST of
// a path no route takes is read and answered 404. The server runs without a model: the knowledge
// base routes need none.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "serve_process.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxBody = 4096;
// Far more than loopback's socket buffers hold: a client is still sending this when a server that
// answered early has closed.
constexpr size_t kLargeBody = size_t{16} << 20;

struct BodyServer {
    ServeProcess server;
    bool started = false;
    std::string why;

    BodyServer() {
        const std::string data = temp_dir() + "/bodies-data", empty = temp_dir() + "/bodies-no-models";
        fs::remove_all(data);
        fs::create_directories(empty);
        started = server.start({"--data-dir", data, "--api-keys", "off", "--models-dir", empty, "--max-body",
                                std::to_string(kMaxBody), "--max-upload", "1000000"},
                               &why);
    }
};

// POSTs `body` in chunks of `chunk` bytes with Transfer-Encoding: chunked.
httplib::Result post_chunked(httplib::Client& c, const std::string& path, const std::string& body, size_t chunk) {
    return c.Post(
        path.c_str(),
        [&body, chunk](size_t offset, httplib::DataSink& sink) {
            if (offset < body.size()) {
                sink.write(body.data() + offset, std::min(chunk, body.size() - offset));
            } else {
                sink.done();
            }
            return true;
        },
        "application/json");
}

// Sends `head` (a request's head, no body) on a new connection; returns everything the server
// sends until it closes the connection, or "" when it keeps it open for 5 s.
std::string raw_exchange(int port, const std::string& head) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    bool closed = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
        timeval timeout{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
        closed = n == 0;
    }
    ::close(fd);
    return closed ? got : "";
}

std::string error_message(const httplib::Result& r) {
    const json e = r ? json::parse(r->body, nullptr, false) : json();
    return e.is_object() && e["error"]["message"].is_string() ? e["error"]["message"].get<std::string>() : "";
}

TEST(ServerBodies, EveryPostRouteTakesAChunkedBody) {
    BodyServer s;
    ASSERT_TRUE(s.started) << s.why;
    auto c = s.server.client();
    c->set_keep_alive(true);
    auto r = post_chunked(*c, "/api/v1/kb", R"({"name": "handbook"})", 5);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 201) << r->body;
    // The same connection carries the next request: the chunked body was read to its end.
    r = post_chunked(*c, "/api/v1/kb/handbook/search", R"({"query": "parking"})", 3);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << r->body;
    r = c->Get("/api/v1/kb");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("handbook"), std::string::npos) << r->body;
}

TEST(ServerBodies, ABodyOverTheLimitGetsIts413AfterTheServerReadItThrough) {
    BodyServer s;
    ASSERT_TRUE(s.started) << s.why;
    auto c = s.server.client();
    const std::string large(kLargeBody, ' ');
    for (int i = 0; i < 3; ++i) {
        auto r = c->Post("/api/v1/kb", large, "application/json");
        ASSERT_TRUE(r) << "no response, " << httplib::to_string(r.error()) << ": the server closed before reading";
        EXPECT_EQ(r->status, 413) << r->body;
        EXPECT_NE(error_message(r).find(std::to_string(kMaxBody) + " bytes, --max-body"), std::string::npos) << r->body;
        r = post_chunked(*c, "/api/v1/kb", large, 65536);
        ASSERT_TRUE(r) << "no response to the chunked body, " << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 413) << r->body;
        // A path no route takes reads its body too.
        r = c->Post("/api/v1/no-such-route", large, "application/json");
        ASSERT_TRUE(r) << "no response on an unknown path, " << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 404) << r->body;
    }
    // A JSON document for the upload route is held to --max-body the same way.
    auto r = c->Post("/api/v1/kb/none/documents", large, "application/json");
    ASSERT_TRUE(r) << "no response on the upload route, " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413) << r->body;
    // An upload over --max-upload (and under what the server drops) is read through too.
    const httplib::MultipartFormDataItems upload = {{"file", std::string(kLargeBody, 'x'), "a.txt", "text/plain"}};
    r = c->Post("/api/v1/kb/docs/documents", upload);
    ASSERT_TRUE(r) << "no response to the upload, " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_NE(error_message(r).find("--max-upload"), std::string::npos) << r->body;
    // The body just under the limit is taken.
    const std::string fits = json{{"name", "n" + std::string(kMaxBody - 20, 'x')}}.dump();
    ASSERT_LE(fits.size(), kMaxBody);
    r = c->Post("/api/v1/kb", fits, "application/json");
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 413) << r->body;
}

// A POST with neither a Content-Length nor a chunked body has no body: it is answered at once,
// not after the client gives up (httplib alone reads such a body until the connection closes).
TEST(ServerBodies, APostWithoutALengthHasNoBody) {
    BodyServer s;
    ASSERT_TRUE(s.started) << s.why;
    for (const char* path : {"/api/v1/kb", "/api/v1/no-such-route", "/api/v1/kb/docs/documents"}) {
        const auto start = std::chrono::steady_clock::now();
        const std::string got = raw_exchange(
            s.server.port(), std::string("POST ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4)) << path;
        EXPECT_EQ(got.rfind("HTTP/1.1 4", 0), 0u) << path << ": " << got;
    }
    const std::string got =
        raw_exchange(s.server.port(),
                     "POST /api/v1/kb/docs/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: multipart/form-data; boundary=b\r\n\r\n");
    EXPECT_NE(got.find("the upload has no body"), std::string::npos) << got;
}

TEST(ServerBodies, ABodyDeclaredFarBeyondTheLimitIsRefusedUnreadAtOnce) {
    BodyServer s;
    ASSERT_TRUE(s.started) << s.why;
    // Nothing of the terabyte is sent: the answer must come from the head alone, and the server
    // must close the connection (the body that follows is not a request).
    std::string got = raw_exchange(s.server.port(),
                                   "POST /api/v1/kb HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                   "Content-Length: 1000000000000\r\n\r\n");
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
    EXPECT_NE(got.find("--max-body"), std::string::npos) << got;
    got = raw_exchange(s.server.port(),
                       "POST /api/v1/kb/docs/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000000\r\n\r\n");
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
    EXPECT_NE(got.find("--max-upload"), std::string::npos) << got;
}

}  // namespace
}  // namespace sinan::test
