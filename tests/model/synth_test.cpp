// Synthetic models: the weights have the spread asked for, norms sit around 1, every shape's
// layout is consistent, and the synthetic vocabulary is a valid byte-level BPE vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <unordered_set>

#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/synth.h"
#include "model/synth_vocab.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
    return (fs::temp_directory_path() / ("sinan-synth-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::vector<float> dequantize(const gguf::TensorInfo& t) {
    std::vector<float> out(t.n_elements);
    kernels::dequantize_row(t.type, t.data, out.data(), static_cast<int64_t>(t.n_elements));
    return out;
}

TEST(SynthModel, WeightsHaveTheRequestedSpreadInEveryType) {
    for (gguf::TensorType type : {gguf::TensorType::F32, gguf::TensorType::F16, gguf::TensorType::Q8_0,
                                  gguf::TensorType::Q4_K, gguf::TensorType::Q6_K}) {
        SynthOptions o;
        o.type = type;
        o.weight_std = 0.05f;
        const std::string p = temp_path("spread.gguf");
        ASSERT_TRUE(synth_model(o, p).is_ok());
        Result<gguf::File> f = gguf::File::open(p);
        ASSERT_TRUE(f.ok()) << f.message();
        const gguf::TensorInfo* w = f->find_tensor("blk.0.ffn_up.weight");
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(w->type, type);
        std::vector<float> v = dequantize(*w);
        double sum = 0, sq = 0;
        for (float x : v) {
            sum += x;
            sq += static_cast<double>(x) * x;
        }
        const double mean = sum / static_cast<double>(v.size());
        const double std = std::sqrt(sq / static_cast<double>(v.size()) - mean * mean);
        EXPECT_NEAR(mean, 0.0, 0.002) << gguf::type_name(type);
        EXPECT_NEAR(std, 0.05, 0.004) << gguf::type_name(type);
        std::vector<float> norm = dequantize(*f->find_tensor("output_norm.weight"));
        for (float x : norm) {
            EXPECT_GE(x, 0.8f);
            EXPECT_LE(x, 1.2f);
        }
        fs::remove(p);
    }
}

TEST(SynthModel, EveryShapeIsConsistent) {
    for (const SynthShape& s : synth_shapes()) {
        EXPECT_EQ(s.n_embd % s.n_head, 0u) << s.name;
        EXPECT_EQ(s.n_head % s.n_head_kv, 0u) << s.name;
        // The quantized types benchmarks use must divide every row of the shape (DeepSeek's
        // expert and latent sizes are multiples of 32 only: Q8_0).
        const bool deepseek2 = s.arch == "deepseek2";
        const uint32_t block = deepseek2 ? 32 : 256;
        EXPECT_EQ(s.n_embd % block, 0u) << s.name;
        EXPECT_EQ(s.n_ff % block, 0u) << s.name;
        if (deepseek2) {
            EXPECT_EQ(s.n_head_kv, 1u) << s.name << ": MLA caches one latent row for all heads";
            for (uint32_t d : {s.mla.q_lora_rank, s.mla.kv_lora_rank, s.mla.qk_nope, s.mla.v_head, s.mla.n_ff_exp})
                EXPECT_EQ(d % block, 0u) << s.name;
            EXPECT_EQ(s.mla.n_expert % s.mla.n_expert_groups, 0u) << s.name;
        }
        SynthOptions o;
        o.shape = s.name;
        o.type = deepseek2 ? gguf::TensorType::Q8_0 : gguf::TensorType::Q4_K;
        Result<uint64_t> bytes = synth_tensor_bytes(o);
        ASSERT_TRUE(bytes.ok()) << bytes.message();
        EXPECT_GT(*bytes, 0u);
    }
    // Published sizes: R1-Distill-Qwen-1.5B has 1.78 B parameters (untied output).
    SynthOptions o;
    o.shape = "r1-distill-qwen-1.5b";
    o.type = gguf::TensorType::F16;
    Result<uint64_t> bytes = synth_tensor_bytes(o);
    ASSERT_TRUE(bytes.ok());
    EXPECT_NEAR(static_cast<double>(*bytes) / 2 / 1e9, 1.78, 0.02);
    o.shape = "r1-distill-llama-8b";
    bytes = synth_tensor_bytes(o);
    ASSERT_TRUE(bytes.ok());
    EXPECT_NEAR(static_cast<double>(*bytes) / 2 / 1e9, 8.03, 0.05);
    // DeepSeek-V2-Lite: 15.7 B parameters.
    o.shape = "v2-lite";
    bytes = synth_tensor_bytes(o);
    ASSERT_TRUE(bytes.ok());
    EXPECT_NEAR(static_cast<double>(*bytes) / 2 / 1e9, 15.7, 0.1);
}

// Q4_K_M as llama.cpp's quantize makes it. R1-Distill-Qwen-1.5B: llama.cpp's own Q4_K_M file
// reads 0.98 GB of weights per token (issue 4's figure), and the Q4_K embedding table (151936 x
// 1536 values, 144 bytes per 256) comes on top. R1-Distill-Llama-8B (the Llama 3.1 8B layout):
// published Q4_K_M files are 4.92 GB, of which ~8 MB is the tokenizer.
TEST(SynthModel, Q4KMixHasTheSizesOfLlamaCppFiles) {
    SynthOptions o;
    o.shape = "r1-distill-qwen-1.5b";
    o.type = *type_mix_from_name("q4_k_m");
    Result<uint64_t> bytes = synth_tensor_bytes(o);
    ASSERT_TRUE(bytes.ok()) << bytes.message();
    const double embedding = 151936.0 * 1536 / 256 * 144;
    EXPECT_NEAR((static_cast<double>(*bytes) - embedding) / 1e9, 0.98, 0.005);
    o.shape = "r1-distill-llama-8b";
    bytes = synth_tensor_bytes(o);
    ASSERT_TRUE(bytes.ok()) << bytes.message();
    EXPECT_NEAR(static_cast<double>(*bytes) / 1e9, 4.92 - 0.008, 0.01);
}

// The mix is written as planned: the tensors' types in the file, and general.file_type.
TEST(SynthModel, MixIsWrittenTensorByTensor) {
    SynthOptions o;
    o.shape = "tiny";  // 2 layers: layer 1 is a more-bits layer (7 N / 8 = 1)
    o.type = *type_mix_from_name("q4_k_m");
    const std::string p = temp_path("mix.gguf");
    ASSERT_TRUE(synth_model(o, p).is_ok());
    Result<gguf::File> f = gguf::File::open(p);
    ASSERT_TRUE(f.ok()) << f.message();
    EXPECT_EQ(f->get_uint("general.file_type"), 15u);
    std::set<std::string> q6;
    for (const gguf::TensorInfo& t : f->tensors()) {
        if (t.type == gguf::TensorType::Q6_K) {
            q6.insert(std::string(t.name));
        } else if (t.shape.size() >= 2) {
            EXPECT_EQ(t.type, gguf::TensorType::Q4_K) << t.name;
        }
    }
    // "tiny" ties nothing: output.weight is the output matrix.
    EXPECT_EQ(q6, (std::set<std::string>{"blk.1.attn_v.weight", "blk.1.ffn_down.weight", "output.weight"}));
    fs::remove(p);
}

TEST(SynthModel, MismatchedArchitectureIsAnError) {
    SynthOptions o;
    o.arch = "llama";
    o.shape = "r1-distill-qwen-7b";
    Status s = synth_model(o, temp_path("x.gguf"));
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("qwen2"), std::string::npos) << s.message();
}

TEST(SynthVocab, IsAValidByteLevelBpeVocabularyOfTheRequestedSize) {
    SynthVocab v = make_synth_vocab(151936, 42);
    ASSERT_EQ(v.tokens.size(), 151936u);
    ASSERT_EQ(v.token_types.size(), v.tokens.size());
    std::unordered_set<std::string> tokens(v.tokens.begin(), v.tokens.end());
    EXPECT_EQ(tokens.size(), v.tokens.size()) << "tokens are unique";
    // Every merge joins two existing tokens into one that exists.
    for (const std::string& m : v.merges) {
        size_t sp = m.find(' ');
        ASSERT_NE(sp, std::string::npos);
        const std::string a = m.substr(0, sp), b = m.substr(sp + 1);
        EXPECT_TRUE(tokens.count(a) && tokens.count(b) && tokens.count(a + b)) << m;
    }
    EXPECT_EQ(v.tokens[v.bos_id], "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(v.tokens[v.eos_id], "<｜end▁of▁sentence｜>");
    EXPECT_EQ(v.token_types[v.bos_id], 3);
    // GPT-2's byte symbols: 'A' is itself, ' ' is U+0120 'Ġ', '\n' is U+010A 'Ċ'.
    EXPECT_EQ(v.tokens['A'], "A");
    EXPECT_EQ(v.tokens[' '], "Ġ");
    EXPECT_EQ(v.tokens['\n'], "Ċ");
    EXPECT_EQ(make_synth_vocab(151936, 42).merges, v.merges) << "deterministic";
}

}  // namespace
}  // namespace sinan::model
