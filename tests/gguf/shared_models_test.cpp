// The reference GGUF files in ../shared/models (written by llama.cpp's tools, not by us) open,
// and what they say about themselves is consistent.
#include <gtest/gtest.h>

#include <filesystem>

#include "gguf/gguf.h"

namespace sinan::gguf {
namespace {

const std::filesystem::path kModels = std::filesystem::path(SINAN_SHARED_DIR) / "models";

TEST(GgufSharedModels, EveryReferenceFileOpensAndIsConsistent) {
    if (!std::filesystem::exists(kModels)) GTEST_SKIP() << "reference models not found at " << kModels;
    int n_files = 0;
    for (const auto& e : std::filesystem::directory_iterator(kModels)) {
        if (e.path().extension() != ".gguf") continue;
        ++n_files;
        Result<File> f = File::open(e.path().string());
        ASSERT_TRUE(f.ok()) << f.message();
        EXPECT_GE(f->version(), 2u) << e.path();
        EXPECT_FALSE(f->architecture().empty()) << e.path();
        const Array* tokens = f->get_array("tokenizer.ggml.tokens");
        ASSERT_NE(tokens, nullptr) << e.path();
        EXPECT_EQ(tokens->elem_type, ValueType::STRING);
        EXPECT_GT(tokens->size(), 0u);
        if (const Array* types = f->get_array("tokenizer.ggml.token_type")) {
            EXPECT_EQ(types->size(), tokens->size());
        }
        uint64_t end = 0;
        for (const TensorInfo& t : f->tensors()) {
            EXPECT_EQ(t.offset % f->alignment(), 0u) << t.name;
            end = std::max(end, f->data_offset() + t.offset + t.n_bytes);
        }
        EXPECT_LE(end, f->file_size()) << e.path();
    }
    EXPECT_GE(n_files, 10);
}

TEST(GgufSharedModels, HyperparametersMatchTensorShapes) {
    const auto path = kModels / "qwen2-small-f32.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "not found: " << path;
    Result<File> f = File::open(path.string());
    ASSERT_TRUE(f.ok()) << f.message();
    EXPECT_EQ(f->architecture(), "qwen2");
    // The models README: hidden 256, 2 layers, 4 heads / 2 KV heads, FFN 512.
    EXPECT_EQ(f->get_uint("qwen2.embedding_length"), 256u);
    EXPECT_EQ(f->get_uint("qwen2.block_count"), 2u);
    EXPECT_EQ(f->get_uint("qwen2.attention.head_count"), 4u);
    EXPECT_EQ(f->get_uint("qwen2.attention.head_count_kv"), 2u);
    EXPECT_EQ(f->get_uint("qwen2.feed_forward_length"), 512u);
    const TensorInfo* up = f->find_tensor("blk.0.ffn_up.weight");
    ASSERT_NE(up, nullptr);
    EXPECT_EQ(up->shape, (std::vector<uint64_t>{256, 512}));
    const TensorInfo* k = f->find_tensor("blk.1.attn_k.weight");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->shape, (std::vector<uint64_t>{256, 128}));  // 2 KV heads x 64
    EXPECT_NE(f->find_tensor("blk.0.attn_q.bias"), nullptr) << "qwen2 has q/k/v biases";
}

TEST(GgufSharedModels, QuantizedFilesCarryTheirTypes) {
    const auto path = kModels / "llama-small-q4_k.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "not found: " << path;
    Result<File> f = File::open(path.string());
    ASSERT_TRUE(f.ok()) << f.message();
    const TensorInfo* t = f->find_tensor("blk.0.ffn_down.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, TensorType::Q4_K);
    EXPECT_EQ(t->n_bytes, t->n_elements / 256 * 144);
}

}  // namespace
}  // namespace sinan::gguf
