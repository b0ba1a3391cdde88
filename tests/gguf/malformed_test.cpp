// Malformed files are a security boundary: each corruption gives a clear error naming the file
// and what is wrong, never a crash, hang or huge allocation. Files are assembled by hand so
// that each test breaks exactly one thing.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "gguf_bytes.h"

namespace sinan::gguf {
namespace {

// Parses and expects an error whose message contains every one of `needles`.
void expect_error(const GgufBytes& f, std::initializer_list<std::string_view> needles) {
    Result<File> r = File::parse(f.b.data(), f.b.size(), "bad.gguf");
    ASSERT_FALSE(r.ok()) << "expected an error";
    EXPECT_EQ(r.message().rfind("bad.gguf: ", 0), 0u) << r.message();
    EXPECT_EQ(r.message().find('\n'), std::string::npos) << "one line: " << r.message();
    for (std::string_view n : needles) EXPECT_NE(r.message().find(n), std::string::npos) << r.message();
}

std::vector<uint8_t> valid_file() {
    Writer w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.block_count", 2);
    w.set_strings("tokenizer.ggml.tokens", {"a", "b", "c"});
    w.set_f32s("tokenizer.ggml.scores", {0.f, 1.f, 2.f});
    std::vector<uint8_t> d(64 * 4, 1);
    w.add_tensor("w0", TensorType::F32, {16, 4}, d);
    w.add_tensor("w1", TensorType::Q8_0, {32, 2}, std::vector<uint8_t>(68, 2));
    return w.to_bytes();
}

TEST(GgufMalformed, NotGguf) {
    GgufBytes f;
    f.b = {'P', 'K', 3, 4, 0, 0, 0, 0};
    expect_error(f, {"not a GGUF file"});
    GgufBytes empty;
    empty.b.clear();
    expect_error(empty, {"too small"});
}

TEST(GgufMalformed, VersionsThatAreNotSupported) {
    expect_error(GgufBytes().header(0, 0, 1), {"version 1"});
    expect_error(GgufBytes().header(0, 0, 4), {"unsupported GGUF version 4"});
    expect_error(GgufBytes().header(0, 0, 0x03000000), {"big-endian"});
}

TEST(GgufMalformed, CountsLargerThanTheFile) {
    expect_error(GgufBytes().header(0, 1ull << 60), {"metadata count"});
    expect_error(GgufBytes().header(~0ull, 0), {"tensor count"});
    expect_error(GgufBytes().header(0, 1), {"metadata count 1"});
    expect_error(GgufBytes().header(0, 1).pad_to(64), {"empty metadata key"});
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(6).put<uint8_t>(0).pad_to(40), {"ends inside the value"});
}

TEST(GgufMalformed, StringLengthPastTheEnd) {
    GgufBytes f;
    f.header(0, 1).put<uint64_t>(~0ull).pad_to(64);
    expect_error(f, {"metadata key length", "past the end"});
    GgufBytes g;
    g.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1ull << 40).pad_to(64);
    expect_error(g, {"string value length"});
}

TEST(GgufMalformed, ArrayLengthsThatOverflow) {
    GgufBytes f;
    f.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(1ull << 62);  // 2^62 floats
    expect_error(f, {"'k'", "past the end"});
    GgufBytes g;
    g.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1ull << 61);  // 2^61 strings
    expect_error(g, {"'k'", "string array"});
    GgufBytes h;
    h.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(~0ull);  // arrays of arrays
    expect_error(h, {"'k'"});
}

TEST(GgufMalformed, DeeplyNestedArraysAreRefused) {
    GgufBytes f;
    f.header(0, 1).str("deep").put<uint32_t>(9);
    for (int i = 0; i < 100; ++i) f.put<uint32_t>(9).put<uint64_t>(1);
    f.put<uint32_t>(4).put<uint64_t>(0);
    expect_error(f, {"'deep'", "nests arrays deeper"});
}

TEST(GgufMalformed, UnknownValueTypesAndBadBools) {
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(13), {"'k'", "unknown value type 13"});
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(0),
                 {"'k'", "unknown type 77"});
    expect_error(GgufBytes().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2), {"'k'", "bool"});
}

TEST(GgufMalformed, DuplicateKeysAndTensors) {
    expect_error(GgufBytes().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2),
                 {"duplicate metadata key 'k'"});
    GgufBytes f;
    f.header(2, 0);
    f.str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
    f.str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(32);
    f.pad_to(256);
    expect_error(f, {"duplicate tensor name 't'"});
}

TEST(GgufMalformed, BadAlignment) {
    for (uint32_t a : {0u, 3u, 48u, 1u << 30}) {
        GgufBytes f;
        f.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(a);
        expect_error(f, {"general.alignment"});
    }
    GgufBytes g;
    g.header(0, 1).str("general.alignment").put<uint32_t>(8).str("32");
    expect_error(g, {"general.alignment"});
}

TEST(GgufMalformed, TensorDimensions) {
    expect_error(GgufBytes().header(1, 0).str("t").put<uint32_t>(0).pad_to(128), {"tensor 't'", "0 dimensions"});
    expect_error(GgufBytes().header(1, 0).str("t").put<uint32_t>(5).pad_to(128), {"tensor 't'", "5 dimensions"});
    GgufBytes f;
    f.header(1, 0).str("t").put<uint32_t>(3).put<uint64_t>(1ull << 32).put<uint64_t>(1ull << 32).put<uint64_t>(1ull << 32);
    f.pad_to(128);
    expect_error(f, {"tensor 't'", "overflow"});
    GgufBytes g;
    g.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(~0ull).pad_to(128);
    expect_error(g, {"tensor 't'"});
}

TEST(GgufMalformed, UnsupportedTensorTypeNamesTensorAndType) {
    GgufBytes f;
    f.header(1, 0).str("blk.0.ffn_up.weight").put<uint32_t>(2).put<uint64_t>(256).put<uint64_t>(2);
    f.put<uint32_t>(16).put<uint64_t>(0);  // IQ2_XXS
    expect_error(f, {"tensor 'blk.0.ffn_up.weight'", "IQ2_XXS", "does not support", "Q4_K"});
    GgufBytes g;
    g.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(1000).put<uint64_t>(0);
    expect_error(g, {"tensor 't'", "unknown type id 1000"});
}

TEST(GgufMalformed, RowNotAMultipleOfTheBlock) {
    GgufBytes f;
    f.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(33).put<uint32_t>(8).put<uint64_t>(0);
    expect_error(f, {"tensor 't'", "row length 33", "Q8_0"});
}

TEST(GgufMalformed, TensorDataOutsideTheFile) {
    GgufBytes f;
    f.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(1024).put<uint32_t>(0).put<uint64_t>(0);
    f.pad_to(64 + 100);  // 4096 bytes needed, 100 present
    expect_error(f, {"tensor 't'", "past the end", "truncated"});
    GgufBytes g;
    g.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(~0ull - 31);
    g.pad_to(128);
    expect_error(g, {"tensor 't'"});
    GgufBytes h;
    h.header(1, 0).str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(3);
    h.pad_to(128);
    expect_error(h, {"tensor 't'", "not a multiple of the alignment"});
}

TEST(GgufMalformed, EveryTruncationIsAnErrorOrLeavesAllTensorsInside) {
    const std::vector<uint8_t> good = valid_file();
    ASSERT_TRUE(File::parse(good.data(), good.size(), "good.gguf").ok());
    const Result<File> full = File::parse(good.data(), good.size(), "good.gguf");
    uint64_t data_end = 0;
    for (const TensorInfo& t : full->tensors()) data_end = std::max(data_end, full->data_offset() + t.offset + t.n_bytes);
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));  // own buffer: ASan sees overreads
        Result<File> r = File::parse(cut.data(), cut.size(), "cut.gguf");
        if (n < data_end) {
            EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes";
        } else if (r.ok()) {
            for (const TensorInfo& t : r->tensors()) EXPECT_LE(t.data + t.n_bytes, cut.data() + cut.size());
        }
    }
}

TEST(GgufMalformed, RandomByteCorruptionNeverCrashes) {
    const std::vector<uint8_t> good = valid_file();
    std::mt19937 rng(1234);
    int errors = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> bad = good;
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
        Result<File> r = File::parse(bad.data(), bad.size(), "fuzzed.gguf");
        if (!r.ok()) {
            ++errors;
            continue;
        }
        for (const KeyValue& kv : r->metadata()) (void)kv.value.to_display();
        for (const TensorInfo& t : r->tensors()) {
            ASSERT_GE(t.data, bad.data());
            ASSERT_LE(t.data + t.n_bytes, bad.data() + bad.size()) << "seed 1234 iteration " << iter;
        }
    }
    EXPECT_GT(errors, 0);
}

// Inputs that once crashed the reader (found by the fuzzer) stay here as regression tests.
TEST(GgufMalformed, FuzzRegressionsParseWithoutCrashing) {
    const std::filesystem::path dir = std::filesystem::path(SINAN_TEST_DATA_DIR) / "gguf-regressions";
    if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no regression inputs in " << dir;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(e.path(), std::ios::binary);
        std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
        Result<File> r = File::parse(bytes.data(), bytes.size(), e.path().filename().string());
        if (!r.ok()) continue;
        for (const TensorInfo& t : r->tensors()) EXPECT_LE(t.data + t.n_bytes, bytes.data() + bytes.size());
    }
}

}  // namespace
}  // namespace sinan::gguf
