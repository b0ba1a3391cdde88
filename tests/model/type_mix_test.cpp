// The mixes follow llama.cpp's quantize (src/llama-quant.cpp, llama_tensor_get_type, at the
// commit ../shared/models was made with): which matrices get more bits, in which layers, the
// fall-backs for rows that are not whole blocks, the file-type ids, and which tensors are
// quantized at all. The sizes this gives for whole models are checked against published files in
// synth_test.cpp; the bytes of each tensor against llama.cpp's quantizer in tests/e2e.
#include "model/type_mix.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sinan::model {
namespace {

using gguf::TensorType;

TypeMix named(const char* name) {
    std::optional<TypeMix> m = type_mix_from_name(name);
    EXPECT_TRUE(m.has_value()) << name;
    return m.value_or(TypeMix());
}

std::string blk(int layer, const char* tensor) { return "blk." + std::to_string(layer) + "." + tensor; }

const MixModel kQwen15b{.arch = "qwen2", .n_layer = 28, .n_head = 12, .n_head_kv = 2, .has_output = true};

TEST(TypeMix, NamesParseInAnyCaseAndRoundTrip) {
    EXPECT_EQ(named("q4_k_m"), TypeMix(TensorType::Q4_K, Mix::kQ4_K_M));
    EXPECT_EQ(named("Q5_K_S"), TypeMix(TensorType::Q5_K, Mix::kQ5_K_S));
    EXPECT_EQ(named("q8_0"), TypeMix(TensorType::Q8_0));
    EXPECT_EQ(type_mix_name(named("q4_k_s")), "Q4_K_S");
    EXPECT_EQ(type_mix_name(named("f16")), "F16");
    EXPECT_FALSE(type_mix_from_name("q4_k_x").has_value());
    EXPECT_FALSE(type_mix_from_name("q8_1").has_value()) << "a type sinan cannot write";
    EXPECT_NE(type_mix_names().find("Q4_K_M"), std::string::npos);
}

// llama.h's llama_ftype: LLAMA_FTYPE_MOSTLY_Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17;
// a pure type keeps the id llama.cpp writes with --pure.
TEST(TypeMix, FileTypesAreLlamaCppIds) {
    EXPECT_EQ(mix_file_type(named("q4_k_s")), 14u);
    EXPECT_EQ(mix_file_type(named("q4_k_m")), 15u);
    EXPECT_EQ(mix_file_type(named("q5_k_s")), 16u);
    EXPECT_EQ(mix_file_type(named("q5_k_m")), 17u);
    EXPECT_EQ(mix_file_type(named("q8_0")), 7u);
}

TEST(TypeMix, FileTypeIdsHaveLlamaCppsNames) {
    for (const char* name : {"q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q8_0", "q6_k", "f16", "bf16", "q4_0"})
        EXPECT_EQ(file_type_label(mix_file_type(named(name))), type_mix_name(named(name))) << name;
    EXPECT_EQ(file_type_label(0), "all F32");
    EXPECT_EQ(file_type_label(4), "file type 4") << "retired";
    EXPECT_EQ(file_type_label(1000), "file type 1000");
}

// With 28 layers (R1-Distill-Qwen-1.5B and -7B): N/8 = 3, 7N/8 = 24, so layers 0-2, 24-27 and
// every third from 5 get Q6_K for attn_v and ffn_down, the other matrices stay Q4_K.
TEST(TypeMix, Q4KMGivesAttnVAndFfnDownOfEveryThirdLayerQ6K) {
    const TypeMix mix = named("q4_k_m");
    const std::set<int> more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
    for (int l = 0; l < 28; ++l) {
        const TensorType want = more.count(l) ? TensorType::Q6_K : TensorType::Q4_K;
        EXPECT_EQ(matrix_type(mix, kQwen15b, blk(l, "attn_v.weight"), 1536), want) << l;
        EXPECT_EQ(matrix_type(mix, kQwen15b, blk(l, "ffn_down.weight"), 8960), want) << l;
        for (const char* t :
             {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"})
            EXPECT_EQ(matrix_type(mix, kQwen15b, blk(l, t), 1536), TensorType::Q4_K) << l << " " << t;
    }
    EXPECT_EQ(matrix_type(mix, kQwen15b, "output.weight", 1536), TensorType::Q6_K);
    EXPECT_EQ(matrix_type(mix, kQwen15b, "token_embd.weight", 1536), TensorType::Q4_K);
    // Q5_K_M: the same choice over a Q5_K base.
    EXPECT_EQ(matrix_type(named("q5_k_m"), kQwen15b, blk(5, "attn_v.weight"), 1536), TensorType::Q6_K);
    EXPECT_EQ(matrix_type(named("q5_k_m"), kQwen15b, blk(6, "attn_v.weight"), 1536), TensorType::Q5_K);
    // A pure type is the type everywhere.
    EXPECT_EQ(matrix_type(named("q4_k"), kQwen15b, "output.weight", 1536), TensorType::Q4_K);
    EXPECT_EQ(matrix_type(named("q4_k"), kQwen15b, blk(0, "attn_v.weight"), 1536), TensorType::Q4_K);
}

TEST(TypeMix, SmallMixesRaiseOnlyTheFirstLayers) {
    const TypeMix s4 = named("q4_k_s");
    for (int l = 0; l < 28; ++l) {
        EXPECT_EQ(matrix_type(s4, kQwen15b, blk(l, "attn_v.weight"), 1536),
                  l < 4 ? TensorType::Q5_K : TensorType::Q4_K);
        EXPECT_EQ(matrix_type(s4, kQwen15b, blk(l, "ffn_down.weight"), 8960),
                  l < 3 ? TensorType::Q5_K : TensorType::Q4_K);
        EXPECT_EQ(matrix_type(named("q5_k_s"), kQwen15b, blk(l, "ffn_down.weight"), 8960), TensorType::Q5_K);
    }
    EXPECT_EQ(matrix_type(s4, kQwen15b, "output.weight", 1536), TensorType::Q6_K);
}

TEST(TypeMix, TiedEmbeddingIsTheOutputMatrix) {
    MixModel tied = kQwen15b;
    tied.has_output = false;
    EXPECT_EQ(matrix_type(named("q4_k_m"), tied, "token_embd.weight", 1536), TensorType::Q6_K);
}

// LLM_TYPE_70B (R1-Distill-Llama-70B): attn_v outside the more-bits layers goes to Q5_K.
TEST(TypeMix, SeventyBModelsGiveAttnVQ5K) {
    const MixModel llama70{.arch = "llama", .n_layer = 80, .n_head = 64, .n_head_kv = 8, .has_output = true};
    // N = 80: more bits for layers < 10, >= 70 and (l - 10) % 3 == 2.
    EXPECT_EQ(matrix_type(named("q4_k_m"), llama70, blk(11, "attn_v.weight"), 8192), TensorType::Q5_K);
    EXPECT_EQ(matrix_type(named("q4_k_m"), llama70, blk(12, "attn_v.weight"), 8192), TensorType::Q6_K);
    EXPECT_EQ(matrix_type(named("q4_k_m"), llama70, blk(11, "ffn_down.weight"), 28672), TensorType::Q4_K);
    MixModel mha = llama70;  // 80 layers without grouped-query attention: LLM_TYPE_65B
    mha.n_head_kv = 64;
    EXPECT_EQ(matrix_type(named("q4_k_m"), mha, blk(11, "attn_v.weight"), 8192), TensorType::Q4_K);
}

// DeepSeek's MoE layers: every ffn_down* of a more-bits layer (dense, routed and shared experts);
// MLA's attn_v_b is not attn_v.
TEST(TypeMix, ExpertDownProjectionsFollowTheirLayer) {
    const MixModel v2{
        .arch = "deepseek2", .n_layer = 27, .n_head = 16, .n_head_kv = 16, .n_expert = 64, .has_output = true};
    const TypeMix mix = named("q4_k_m");
    for (const char* t : {"ffn_down.weight", "ffn_down_exps.weight", "ffn_down_shexp.weight"}) {
        EXPECT_EQ(matrix_type(mix, v2, blk(0, t), 1536), TensorType::Q6_K) << t;
        EXPECT_EQ(matrix_type(mix, v2, blk(3, t), 1536), TensorType::Q4_K) << t;
    }
    EXPECT_EQ(matrix_type(mix, v2, blk(0, "attn_v_b.weight"), 512), TensorType::Q4_K);
    EXPECT_EQ(matrix_type(mix, v2, blk(3, "attn_output.weight"), 2048), TensorType::Q4_K);
}

// Mixtral's rule (n_expert == 8): attention in more bits.
TEST(TypeMix, EightExpertModelsGiveAttentionMoreBits) {
    const MixModel eight{
        .arch = "llama", .n_layer = 32, .n_head = 32, .n_head_kv = 8, .n_expert = 8, .has_output = true};
    EXPECT_EQ(matrix_type(named("q4_k_m"), eight, blk(6, "attn_v.weight"), 4096), TensorType::Q8_0);
    EXPECT_EQ(matrix_type(named("q4_k_m"), eight, blk(6, "attn_k.weight"), 4096), TensorType::Q8_0);
    EXPECT_EQ(matrix_type(named("q4_k_m"), eight, blk(6, "attn_output.weight"), 4096), TensorType::Q5_K);
    EXPECT_EQ(matrix_type(named("q5_k_m"), eight, blk(6, "attn_output.weight"), 4096), TensorType::Q5_K);
    EXPECT_EQ(matrix_type(named("q4_k_m"), eight, blk(6, "attn_q.weight"), 4096), TensorType::Q4_K);
}

// Rows that are not whole 256-value blocks: Q4_K -> Q5_0, Q6_K -> Q8_0, the output matrix Q8_0,
// and F16 when not even 32 values divide them.
TEST(TypeMix, RowsThatAreNotWholeBlocksFallBack) {
    const MixModel micro{.arch = "qwen2", .n_layer = 2, .n_head = 4, .n_head_kv = 2, .has_output = true};
    const TypeMix mix = named("q4_k_m");
    EXPECT_EQ(matrix_type(mix, micro, blk(0, "attn_q.weight"), 64), TensorType::Q5_0);
    EXPECT_EQ(matrix_type(mix, micro, blk(1, "attn_v.weight"), 64), TensorType::Q8_0);
    EXPECT_EQ(matrix_type(mix, micro, "output.weight", 64), TensorType::Q8_0);
    EXPECT_EQ(matrix_type(mix, micro, blk(0, "attn_q.weight"), 48), TensorType::F16);
    EXPECT_EQ(matrix_type(named("q5_k_s"), micro, blk(0, "attn_q.weight"), 64), TensorType::Q5_1);
}

TEST(TypeMix, OnlyWeightMatricesAreQuantized) {
    EXPECT_TRUE(is_quantized_matrix("blk.0.attn_q.weight", 2));
    EXPECT_TRUE(is_quantized_matrix("blk.3.ffn_down_exps.weight", 3));
    EXPECT_TRUE(is_quantized_matrix("token_embd.weight", 2));
    EXPECT_FALSE(is_quantized_matrix("blk.0.attn_norm.weight", 1));
    EXPECT_FALSE(is_quantized_matrix("blk.0.attn_kv_a_norm.weight", 2)) << "norms, whatever their shape";
    EXPECT_FALSE(is_quantized_matrix("blk.0.attn_q.bias", 2));
    EXPECT_FALSE(is_quantized_matrix("blk.3.ffn_gate_inp.weight", 2)) << "the MoE router stays as it is";
    EXPECT_FALSE(is_quantized_matrix("position_embd.weight", 2));
    EXPECT_FALSE(is_quantized_matrix("token_types.weight", 2));
}

}  // namespace
}  // namespace sinan::model
