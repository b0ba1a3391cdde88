// HostPolicy (api/host_policy.h): which Host headers a server answers, by the address it listens
// on and --allow-host (the DNS-rebinding defence).
#include "api/host_policy.h"

#include <gtest/gtest.h>

namespace sinan::api {
namespace {

HostPolicy made(const std::string& listen, const std::vector<std::string>& names = {}) {
    Result<HostPolicy> p = HostPolicy::make(listen, names);
    EXPECT_TRUE(p.ok()) << p.message();
    return p.ok() ? *p : HostPolicy{};
}

TEST(HostPolicy, OnALoopbackAddressOnlyLoopbackNamesAreAnswered) {
    for (const char* listen : {"127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"}) {
        const HostPolicy p = made(listen);
        EXPECT_TRUE(p.enforced()) << listen;
        for (const char* host : {"127.0.0.1:8080", "127.0.0.1", "localhost:8080", "LOCALHOST", "localhost.",
                                 "app.localhost:3000", "[::1]:8080", "127.9.9.9", ""})
            EXPECT_TRUE(p.allows(host)) << listen << " " << host;
        for (const char* host :
             {"evil.example.com:8080", "evil.example.com", "localhost.evil.example.com", "127.0.0.1.nip.io",
              "10.0.0.5:8080", "[::2]:8080", "127.0.0.256", "localhost:x", "local host", "[::1"})
            EXPECT_FALSE(p.allows(host)) << listen << " " << host;
        EXPECT_EQ(p.describe(), "loopback names");
    }
}

TEST(HostPolicy, AllowHostAddsNamesAndStarOrAnotherAddressChecksNothing) {
    const HostPolicy p = made("127.0.0.1", {"sinan.example.com, Chat.Example.com:443", "intranet"});
    for (const char* host :
         {"sinan.example.com", "sinan.example.com:443", "chat.example.com", "INTRANET:8080", "localhost"})
        EXPECT_TRUE(p.allows(host)) << host;
    EXPECT_FALSE(p.allows("evil.example.com"));
    EXPECT_EQ(p.describe(), "loopback names, sinan.example.com, chat.example.com, intranet");
    for (const HostPolicy& any : {made("127.0.0.1", {"*"}), made("0.0.0.0"), made("10.1.2.3"), HostPolicy{}}) {
        EXPECT_FALSE(any.enforced());
        EXPECT_TRUE(any.allows("evil.example.com:8080"));
        EXPECT_EQ(any.describe(), "any");
    }
}

TEST(HostPolicy, ABadNameIsRefusedWithALineThatNamesIt) {
    for (const char* name : {"https://sinan.example.com", "sinan example", "sinan.example.com/x", "sinan:port"}) {
        Result<HostPolicy> p = HostPolicy::make("127.0.0.1", {name});
        ASSERT_FALSE(p.ok()) << name;
        EXPECT_NE(p.message().find(std::string("--allow-host: \"") + name + "\""), std::string::npos) << p.message();
    }
}

TEST(HostPolicy, HostNameDropsThePortAndATrailingDot) {
    EXPECT_EQ(host_name("Example.COM:8080"), "example.com");
    EXPECT_EQ(host_name("example.com."), "example.com");
    EXPECT_EQ(host_name("[::1]:80"), "[::1]");
    EXPECT_EQ(host_name("example.com:"), "");
    EXPECT_EQ(host_name(""), "");
}

}  // namespace
}  // namespace sinan::api
