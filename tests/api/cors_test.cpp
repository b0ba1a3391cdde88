// CorsPolicy (api/cors.h): --cors-origin's specs and which Origin headers each lets in.
#include "api/cors.h"

#include <gtest/gtest.h>

namespace sinan::api {
namespace {

CorsPolicy parsed(const std::vector<std::string>& specs) {
    Result<CorsPolicy> p = CorsPolicy::parse(specs);
    EXPECT_TRUE(p.ok()) << p.message();
    return p.ok() ? *p : CorsPolicy{};
}

TEST(CorsPolicy, TheDefaultLetsInPagesServedFromThisMachineOnly) {
    for (const CorsPolicy& p : {CorsPolicy{}, parsed({}), parsed({"loopback"})}) {
        for (const char* o :
             {"http://localhost:5173", "http://localhost", "https://localhost:8443", "http://127.0.0.1:3000",
              "http://127.1.2.3", "http://[::1]:8080", "HTTP://LocalHost:80", "http://app.localhost:3000"})
            EXPECT_TRUE(p.allows(o)) << o;
        for (const char* o :
             {"https://chat.example.com", "http://localhost.example.com", "http://127.0.0.1.nip.io", "http://128.0.0.1",
              "http://127.0.0.256", "http://10.0.0.1:8080", "null", "file://", "", "localhost:5173", "ftp://localhost",
              "http://localhost:99999", "http://localhost/path", "http://user@localhost"})
            EXPECT_FALSE(p.allows(o)) << o;
        EXPECT_EQ(p.describe(), "loopback");
    }
}

TEST(CorsPolicy, ExactOriginsMatchAsBrowsersSerializeThem) {
    const CorsPolicy p = parsed({"https://chat.example.com/, http://intranet:8080", "https://Docs.Example.com:443"});
    for (const char* o : {"https://chat.example.com", "http://intranet:8080", "https://docs.example.com"})
        EXPECT_TRUE(p.allows(o)) << o;
    for (const char* o : {"http://chat.example.com", "https://chat.example.com:8443", "http://intranet",
                          "https://evil.example.com", "http://localhost:5173"})
        EXPECT_FALSE(p.allows(o)) << o;
    EXPECT_EQ(p.describe(), "https://chat.example.com, http://intranet:8080, https://docs.example.com");
    // With loopback named too, both kinds.
    const CorsPolicy both = parsed({"loopback", "https://chat.example.com"});
    EXPECT_TRUE(both.allows("http://localhost:3000"));
    EXPECT_TRUE(both.allows("https://chat.example.com"));
    EXPECT_FALSE(both.allows("https://evil.example.com"));
}

TEST(CorsPolicy, StarLetsInEveryOriginAndNoneNoOrigin) {
    const CorsPolicy any = parsed({"*"});
    for (const char* o : {"https://evil.example.com", "http://localhost:1", "null"}) EXPECT_TRUE(any.allows(o)) << o;
    EXPECT_FALSE(any.allows(""));  // no Origin header: not a cross-origin browser request
    EXPECT_EQ(any.describe(), "any origin");
    const CorsPolicy none = parsed({"none"});
    for (const char* o : {"http://localhost:5173", "http://127.0.0.1", "https://chat.example.com"})
        EXPECT_FALSE(none.allows(o)) << o;
    EXPECT_EQ(none.describe(), "none");
}

TEST(CorsPolicy, ABadSpecIsRefusedWithALineThatNamesIt) {
    for (const char* spec : {"chat.example.com", "https://chat.example.com/app", "https://", "https://x:port",
                             "ws://localhost", "https://x:70000", "https://a b"}) {
        Result<CorsPolicy> p = CorsPolicy::parse({spec});
        ASSERT_FALSE(p.ok()) << spec;
        EXPECT_NE(p.message().find(std::string("\"") + spec + "\""), std::string::npos) << p.message();
        EXPECT_NE(p.message().find("--cors-origin"), std::string::npos) << p.message();
    }
    Result<CorsPolicy> mixed = CorsPolicy::parse({"none,https://chat.example.com"});
    ASSERT_FALSE(mixed.ok());
    EXPECT_NE(mixed.message().find("none cannot be combined"), std::string::npos) << mixed.message();
}

}  // namespace
}  // namespace sinan::api
