// deepseek2 (DeepSeek-V3/R1) beyond the one-batch golden logits: the latent-only KV cache under
// token-by-token decoding, several sequences in one batch, shared and cut sequences (all checked
// against the reference engine's logits), the cache's size, loader errors, and YaRN on the
// dense architectures.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "model/model.h"
#include "model/synth.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";
const fs::path kModel = kModels / "deepseek2-small-f32.gguf";
const fs::path kGolden = kModels / "golden" / "deepseek2-small-f32.logits.json";
constexpr double kTol = 1e-3;  // the F32 bound of golden_logits_test.cpp

double rel_error(const float* ours, const std::vector<float>& ref) {
    double d = 0, n = 0;
    for (size_t v = 0; v < ref.size(); ++v) {
        d += (ours[v] - ref[v]) * static_cast<double>(ours[v] - ref[v]);
        n += ref[v] * static_cast<double>(ref[v]);
    }
    return std::sqrt(d / n);
}

class Deepseek2 : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(kModel) || !fs::exists(kGolden)) GTEST_SKIP() << "reference files not found: " << kGolden;
        std::ifstream in(kGolden);
        golden_ = nlohmann::json::parse(in);
        Result<std::unique_ptr<Model>> m = Model::load(kModel.string());
        ASSERT_TRUE(m.ok()) << m.message();
        model_ = std::move(m).value();
    }
    std::vector<int32_t> tokens(size_t seq) const { return golden_["sequences"][seq]["tokens"]; }
    std::vector<float> ref(size_t seq, size_t pos) const { return golden_["sequences"][seq]["logits"][pos]; }

    nlohmann::json golden_;
    std::unique_ptr<Model> model_;
};

TEST_F(Deepseek2, TokenByTokenDecodingMatchesTheReference) {
    const std::vector<int32_t> t = tokens(1);
    KvCache cache = model_->make_cache(64);
    std::vector<float> logits;
    for (size_t i = 0; i < t.size(); ++i) {
        Batch b;
        b.add(t[i], static_cast<int32_t>(i), 0, true);
        ASSERT_TRUE(model_->forward(b, cache, &logits).is_ok());
        EXPECT_LT(rel_error(logits.data(), ref(1, i)), kTol) << "position " << i;
    }
}

TEST_F(Deepseek2, SequencesInOneBatchMatchTheReference) {
    const std::vector<int32_t> a = tokens(0), b = tokens(1);
    KvCache cache = model_->make_cache(64);
    Batch batch;  // interleaved: a0 b0 a1 b1 ...
    std::vector<std::pair<size_t, size_t>> order;  // (golden sequence, position) of each output
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i < a.size()) {
            batch.add(a[i], static_cast<int32_t>(i), 3, true);
            order.emplace_back(0, i);
        }
        if (i < b.size()) {
            batch.add(b[i], static_cast<int32_t>(i), 7, true);
            order.emplace_back(1, i);
        }
    }
    std::vector<float> logits;
    ASSERT_TRUE(model_->forward(batch, cache, &logits).is_ok());
    const size_t V = static_cast<size_t>(model_->hparams().n_vocab);
    for (size_t o = 0; o < order.size(); ++o)
        EXPECT_LT(rel_error(logits.data() + o * V, ref(order[o].first, order[o].second)), kTol)
            << "sequence " << order[o].first << " position " << order[o].second;
}

TEST_F(Deepseek2, SharedPrefixAndRemovalMatchTheReference) {
    const std::vector<int32_t> t = tokens(2);
    KvCache cache = model_->make_cache(64);
    std::vector<float> logits;
    Batch prefix;
    for (int i = 0; i < 10; ++i) prefix.add(t[static_cast<size_t>(i)], i, 0, false);
    ASSERT_TRUE(model_->forward(prefix, cache, &logits).is_ok());
    cache.seq_cp(0, 1, 0, -1);  // sequence 1 shares the 10 cells
    cache.seq_rm(0, 6, -1);     // sequence 0 goes back to 6 tokens
    Batch next;
    for (int i = 6; i < 10; ++i) next.add(t[static_cast<size_t>(i)], i, 0, i == 9);  // recomputed
    for (int i = 10; i < 13; ++i) next.add(t[static_cast<size_t>(i)], i, 1, i == 12);  // continued
    ASSERT_TRUE(model_->forward(next, cache, &logits).is_ok());
    const size_t V = static_cast<size_t>(model_->hparams().n_vocab);
    EXPECT_LT(rel_error(logits.data(), ref(2, 9)), kTol);
    EXPECT_LT(rel_error(logits.data() + V, ref(2, 12)), kTol);
    EXPECT_EQ(cache.n_used(), 10 + 4 + 3) << "cells 6..9 stay for sequence 1; sequence 0 wrote its own";
}

TEST_F(Deepseek2, CacheHoldsOnlyTheLatentAndTheRotaryPart) {
    const Hparams& h = model_->hparams();
    KvCache cache = model_->make_cache(100);
    EXPECT_EQ(cache.n_embd_k(), h.n_lora_kv + h.n_rot);  // 32 + 8
    EXPECT_EQ(cache.n_embd_v(), 0);
    EXPECT_EQ(cache.bytes(), static_cast<uint64_t>(h.n_layer * 100 * (32 + 8) * 2));
    EXPECT_EQ(cache.bytes_per_cell(), static_cast<uint64_t>(h.n_layer * (32 + 8) * 2));
    // Decompressed keys and values would take n_head * (key head + value head) = 4 * (24 + 16)
    // values per layer: 4 times as much.
    EXPECT_EQ(KvCache::bytes_per_token(h.n_layer, h.n_head * h.head_dim, h.n_head * h.n_embd_head_v,
                                       gguf::TensorType::F16),
              4 * cache.bytes_per_cell());
}

// Writes a copy of `src` with edit(writer) applied to the metadata and the tensors in `drop` left out.
std::string edited_copy(const fs::path& src, const std::string& name, const std::function<void(gguf::Writer&)>& edit,
                        const std::vector<std::string>& drop = {}) {
    Result<gguf::File> f = gguf::File::open(src.string());
    EXPECT_TRUE(f.ok());
    gguf::Writer w;
    for (const gguf::KeyValue& kv : f->metadata()) w.set_value(kv.key, kv.value);
    edit(w);
    for (const gguf::TensorInfo& t : f->tensors()) {
        if (std::find(drop.begin(), drop.end(), t.name) != drop.end()) continue;
        w.add_tensor(t.name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
    }
    const std::string p = (fs::temp_directory_path() / ("sinan-ds2-" + std::to_string(::getpid()) + "-" + name)).string();
    EXPECT_TRUE(w.write(p).is_ok());
    return p;
}

TEST(Deepseek2Load, ErrorsNameTheTensorOrKey) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "reference model not found: " << kModel;
    const std::string missing = edited_copy(kModel, "missing.gguf", [](gguf::Writer&) {}, {"blk.2.attn_k_b.weight"});
    Result<std::unique_ptr<Model>> m = Model::load(missing);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("'blk.2.attn_k_b.weight' is missing"), std::string::npos) << m.message();
    const std::string groups = edited_copy(kModel, "groups.gguf", [](gguf::Writer& w) {
        w.set_u32("deepseek2.expert_group_count", 3);  // 8 experts do not split into 3 groups
    });
    m = Model::load(groups);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("expert_group_count 3"), std::string::npos) << m.message();
    const std::string lengths = edited_copy(kModel, "lengths.gguf", [](gguf::Writer& w) {
        w.set_u32("deepseek2.attention.key_length", 24);  // not kv_lora_rank + rope
    });
    m = Model::load(lengths);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("key_length"), std::string::npos) << m.message();
    for (const std::string& p : {missing, groups, lengths}) fs::remove(p);
}

// The reference model rewritten in the layout of older converters: per-head sizes in key_length /
// value_length, and attn_k_b / attn_v_b merged into one attn_kv_b per layer (per head: the nope
// key rows, then the value rows, each over the latent).
std::string old_layout_copy(const std::string& name) {
    Result<gguf::File> f = gguf::File::open(kModel.string());
    EXPECT_TRUE(f.ok());
    gguf::Writer w;
    for (const gguf::KeyValue& kv : f->metadata()) w.set_value(kv.key, kv.value);
    w.remove("deepseek2.attention.key_length_mla");
    w.remove("deepseek2.attention.value_length_mla");
    w.set_u32("deepseek2.attention.key_length", 24);
    w.set_u32("deepseek2.attention.value_length", 16);
    w.set_u32("deepseek2.attention.head_count_kv", 4);
    const auto floats = [](const gguf::TensorInfo* t) {
        std::vector<float> v(t->n_elements);
        std::memcpy(v.data(), t->data, t->n_bytes);
        return v;
    };
    for (const gguf::TensorInfo& t : f->tensors()) {
        const std::string n(t.name);
        if (n.ends_with("attn_v_b.weight")) continue;
        if (!n.ends_with("attn_k_b.weight")) {
            w.add_tensor(t.name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
            continue;
        }
        const std::string p = n.substr(0, n.size() - std::string("attn_k_b.weight").size());
        const std::vector<float> kb = floats(&t), vb = floats(f->find_tensor(p + "attn_v_b.weight"));
        const size_t nope = 16, dv = 16, rank = 32, heads = 4;
        std::vector<float> kv_b;  // [heads * (nope + dv)] rows of rank
        for (size_t h = 0; h < heads; ++h) {
            for (size_t j = 0; j < nope; ++j)
                for (size_t i = 0; i < rank; ++i) kv_b.push_back(kb[(h * rank + i) * nope + j]);
            for (size_t j = 0; j < dv; ++j)
                for (size_t i = 0; i < rank; ++i) kv_b.push_back(vb[(h * dv + j) * rank + i]);
        }
        const auto* bytes = reinterpret_cast<const uint8_t*>(kv_b.data());
        w.add_tensor(p + "attn_kv_b.weight", gguf::TensorType::F32, {rank, heads * (nope + dv)},
                     std::vector<uint8_t>(bytes, bytes + kv_b.size() * sizeof(float)));
    }
    const std::string out = (fs::temp_directory_path() / ("sinan-ds2-" + std::to_string(::getpid()) + "-" + name)).string();
    EXPECT_TRUE(w.write(out).is_ok());
    return out;
}

TEST_F(Deepseek2, OlderCombinedKvLayoutGivesTheSameLogits) {
    const std::string path = old_layout_copy("old-layout.gguf");
    Result<std::unique_ptr<Model>> m = Model::load(path);
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_EQ((*m)->hparams().head_dim, 24);
    EXPECT_EQ((*m)->hparams().n_embd_head_v, 16);
    const std::vector<int32_t> t = tokens(2);
    KvCache cache = (*m)->make_cache(128);
    EXPECT_EQ(cache.n_embd_k(), 32 + 8) << "still the latent-only cache";
    Batch b;
    for (size_t i = 0; i < t.size(); ++i) b.add(t[i], static_cast<int32_t>(i), 0, true);
    std::vector<float> logits;
    ASSERT_TRUE((*m)->forward(b, cache, &logits).is_ok());
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    for (size_t i = 0; i < t.size(); ++i) EXPECT_LT(rel_error(logits.data() + i * V, ref(2, i)), kTol) << i;
    fs::remove(path);
}

TEST(Yarn, DenseModelsReadItAndOnlyLaterPositionsChange) {
    SynthOptions o;
    o.shape = "tiny";
    const std::string plain = (fs::temp_directory_path() / ("sinan-yarn-" + std::to_string(::getpid()) + ".gguf")).string();
    ASSERT_TRUE(synth_model(o, plain).is_ok());
    const std::string yarn = edited_copy(plain, "yarn.gguf", [](gguf::Writer& w) {
        w.set_string("qwen2.rope.scaling.type", "yarn");  // Qwen2.5's long-context setting
        w.set_f32("qwen2.rope.scaling.factor", 4.0f);
        w.set_u32("qwen2.rope.scaling.original_context_length", 512);
    });
    Result<std::unique_ptr<Model>> a = Model::load(plain), b = Model::load(yarn);
    ASSERT_TRUE(a.ok() && b.ok()) << b.message();
    const Hparams& h = (*b)->hparams();
    EXPECT_TRUE(h.rope_yarn);
    EXPECT_FLOAT_EQ(h.rope_freq_scale, 0.25f);
    const kernels::RopeParams p = h.rope_params();
    EXPECT_EQ(p.ext_factor, 1.0f);
    EXPECT_LT(p.corr_low, p.corr_high);
    // Position 0 does not rotate and attends only to itself: YaRN's magnitude factor on q and k
    // leaves it unchanged. Later positions see YaRN's angles.
    Batch batch;
    for (int32_t i = 0; i < 6; ++i) batch.add(40 + i, i, 0, true);
    std::vector<float> la, lb;
    KvCache ca = (*a)->make_cache(8), cb = (*b)->make_cache(8);
    ASSERT_TRUE((*a)->forward(batch, ca, &la).is_ok());
    ASSERT_TRUE((*b)->forward(batch, cb, &lb).is_ok());
    const size_t V = static_cast<size_t>(h.n_vocab);
    EXPECT_LT(rel_error(lb.data(), std::vector<float>(la.begin(), la.begin() + V)), 1e-6);
    EXPECT_GT(rel_error(lb.data() + 5 * V, std::vector<float>(la.begin() + 5 * V, la.begin() + 6 * V)), 1e-4);
    const std::string bad = edited_copy(plain, "bad.gguf", [](gguf::Writer& w) {
        w.set_string("qwen2.rope.scaling.type", "yarn");  // no factor
    });
    Result<std::unique_ptr<Model>> c = Model::load(bad);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.message().find("rope.scaling.factor"), std::string::npos) << c.message();
    for (const std::string& f : {plain, yarn, bad}) fs::remove(f);
}

}  // namespace
}  // namespace sinan::model
