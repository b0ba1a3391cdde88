// SHA-256 against the FIPS 180-2 example vectors (independent reference values).
#include "base/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace sinan {
namespace {

TEST(Sha256, MatchesFips180Vectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, RawDigestIs32BytesAndHexIsItsEncoding) {
    const std::string raw = sha256("abc");
    ASSERT_EQ(raw.size(), 32u);
    EXPECT_EQ(to_hex(raw), sha256_hex("abc"));
    EXPECT_EQ(to_hex(std::string("\x00\xff\x10", 3)), "00ff10");
}

}  // namespace
}  // namespace sinan
