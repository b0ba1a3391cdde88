// Reader behaviour on well-formed files that differ from what the writer produces: version 2,
// hand-assembled layouts, type names.
#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "gguf/tensor_type.h"

namespace sinan::gguf {
namespace {

TEST(GgufReader, ReadsVersion2) {
    GgufBytes f;
    f.header(1, 1, 2);
    f.str("general.architecture").put<uint32_t>(8).str("qwen2");
    f.str("w").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
    f.b.resize(128, 0);  // header ends at 102; aligned to 32 -> data at 128
    for (int i = 0; i < 4; ++i) f.put<float>(static_cast<float>(i));
    Result<File> r = File::parse(f.b.data(), f.b.size(), "v2.gguf");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->version(), 2u);
    EXPECT_EQ(r->architecture(), "qwen2");
    EXPECT_EQ(r->data_offset(), 128u);
    float v;
    std::memcpy(&v, r->find_tensor("w")->data + 12, 4);
    EXPECT_EQ(v, 3.0f);
}

TEST(GgufReader, FileWithoutTensorsNeedsNoDataSection) {
    GgufBytes f;
    f.header(0, 1);
    f.str("k").put<uint32_t>(4).put<uint32_t>(7);
    Result<File> r = File::parse(f.b.data(), f.b.size(), "vocab-only.gguf");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(*r->get_uint("k"), 7u);
    EXPECT_TRUE(r->tensors().empty());
}

TEST(GgufReader, CustomAlignmentIsHonoured) {
    GgufBytes f;
    f.header(1, 1);
    f.str("general.alignment").put<uint32_t>(4).put<uint32_t>(128);
    f.str("t").put<uint32_t>(1).put<uint64_t>(2).put<uint32_t>(1).put<uint64_t>(0);
    f.b.resize(128, 0);
    f.put<uint16_t>(0x3c00).put<uint16_t>(0x4000);
    Result<File> r = File::parse(f.b.data(), f.b.size(), "a.gguf");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->alignment(), 128u);
    EXPECT_EQ(r->data_offset(), 128u);
    EXPECT_EQ(r->find_tensor("t")->type, TensorType::F16);
}

TEST(TensorTypes, NamesAndSizesFollowGgml) {
    EXPECT_EQ(type_from_name("q8_0"), TensorType::Q8_0);
    EXPECT_EQ(type_from_name("BF16"), TensorType::BF16);
    EXPECT_FALSE(type_from_name("q9_9").has_value());
    EXPECT_EQ(row_bytes(TensorType::Q4_K, 512), 288u);
    EXPECT_EQ(row_bytes(TensorType::Q6_K, 256), 210u);
    EXPECT_EQ(row_bytes(TensorType::Q4_0, 64), 36u);
    EXPECT_EQ(row_bytes(TensorType::BF16, 3), 6u);
    const std::string names = supported_type_names();
    for (const char* t : {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
        EXPECT_NE(names.find(t), std::string::npos) << t;
}

}  // namespace
}  // namespace sinan::gguf
