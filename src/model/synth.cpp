#include "model/synth.h"

#include <cmath>
#include <memory>
#include <numbers>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "kernels/kernels.h"
#include "model/synth_vocab.h"

namespace sinan::model {

namespace {

using gguf::TensorType;

uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

uint64_t hash_name(const std::string& s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// What a tensor's values look like.
enum class Init { kWeight, kNorm, kBias, kRopeFactors };

struct TensorPlan {
    std::string name;
    TensorType type;
    std::vector<uint64_t> shape;
    Init init;
};

void plan_deepseek2_layer(const SynthShape& s, uint32_t l, TensorType type, std::vector<TensorPlan>* t) {
    const MlaMoeDims& m = s.mla;
    const std::string p = "blk." + std::to_string(l) + ".";
    const uint64_t n_q = uint64_t{s.n_head} * (m.qk_nope + m.qk_rope);
    t->push_back({p + "attn_norm.weight", TensorType::F32, {s.n_embd}, Init::kNorm});
    if (m.q_lora_rank > 0) {
        t->push_back({p + "attn_q_a.weight", type, {s.n_embd, m.q_lora_rank}, Init::kWeight});
        t->push_back({p + "attn_q_a_norm.weight", TensorType::F32, {m.q_lora_rank}, Init::kNorm});
        t->push_back({p + "attn_q_b.weight", type, {m.q_lora_rank, n_q}, Init::kWeight});
    } else {
        t->push_back({p + "attn_q.weight", type, {s.n_embd, n_q}, Init::kWeight});
    }
    t->push_back({p + "attn_kv_a_mqa.weight", type, {s.n_embd, m.kv_lora_rank + m.qk_rope}, Init::kWeight});
    t->push_back({p + "attn_kv_a_norm.weight", TensorType::F32, {m.kv_lora_rank}, Init::kNorm});
    t->push_back({p + "attn_k_b.weight", type, {m.qk_nope, m.kv_lora_rank, s.n_head}, Init::kWeight});
    t->push_back({p + "attn_v_b.weight", type, {m.kv_lora_rank, m.v_head, s.n_head}, Init::kWeight});
    t->push_back({p + "attn_output.weight", type, {uint64_t{s.n_head} * m.v_head, s.n_embd}, Init::kWeight});
    t->push_back({p + "ffn_norm.weight", TensorType::F32, {s.n_embd}, Init::kNorm});
    if (l < m.n_layer_dense_lead) {
        t->push_back({p + "ffn_gate.weight", type, {s.n_embd, s.n_ff}, Init::kWeight});
        t->push_back({p + "ffn_up.weight", type, {s.n_embd, s.n_ff}, Init::kWeight});
        t->push_back({p + "ffn_down.weight", type, {s.n_ff, s.n_embd}, Init::kWeight});
        return;
    }
    // The router stays F32, as the converters keep it.
    t->push_back({p + "ffn_gate_inp.weight", TensorType::F32, {s.n_embd, m.n_expert}, Init::kWeight});
    if (m.sigmoid_gating) t->push_back({p + "exp_probs_b.bias", TensorType::F32, {m.n_expert}, Init::kBias});
    t->push_back({p + "ffn_gate_exps.weight", type, {s.n_embd, m.n_ff_exp, m.n_expert}, Init::kWeight});
    t->push_back({p + "ffn_up_exps.weight", type, {s.n_embd, m.n_ff_exp, m.n_expert}, Init::kWeight});
    t->push_back({p + "ffn_down_exps.weight", type, {m.n_ff_exp, s.n_embd, m.n_expert}, Init::kWeight});
    if (m.n_expert_shared > 0) {
        const uint64_t f = uint64_t{m.n_ff_exp} * m.n_expert_shared;
        t->push_back({p + "ffn_gate_shexp.weight", type, {s.n_embd, f}, Init::kWeight});
        t->push_back({p + "ffn_up_shexp.weight", type, {s.n_embd, f}, Init::kWeight});
        t->push_back({p + "ffn_down_shexp.weight", type, {f, s.n_embd}, Init::kWeight});
    }
}

// A mix's choice per matrix (model/type_mix.h); the plan gave every matrix the base type.
void apply_mix(const SynthShape& s, const TypeMix& type, std::vector<TensorPlan>* plan) {
    const MixModel model{.arch = s.arch,
                         .n_layer = s.n_layer,
                         .n_head = s.n_head,
                         .n_head_kv = s.n_head_kv,
                         .n_expert = s.arch == "deepseek2" ? s.mla.n_expert : 0,
                         .has_output = !s.tied_output};
    for (TensorPlan& t : *plan)
        if (t.type == type.base && t.init == Init::kWeight && is_quantized_matrix(t.name, t.shape.size()))
            t.type = matrix_type(type, model, t.name, t.shape[0]);
}

std::vector<TensorPlan> plan_tensors(const SynthShape& s, uint32_t n_vocab, const TypeMix& mix_type) {
    const TensorType type = mix_type.base;
    const uint64_t head_dim = s.n_embd / s.n_head;
    const uint64_t n_embd_kv = head_dim * s.n_head_kv;
    std::vector<TensorPlan> t;
    t.push_back({"token_embd.weight", type, {s.n_embd, n_vocab}, Init::kWeight});
    if (s.llama3_rope) t.push_back({"rope_freqs.weight", TensorType::F32, {head_dim / 2}, Init::kRopeFactors});
    for (uint32_t l = 0; l < s.n_layer; ++l) {
        if (s.arch == "deepseek2") {
            plan_deepseek2_layer(s, l, type, &t);
            continue;
        }
        const std::string p = "blk." + std::to_string(l) + ".";
        t.push_back({p + "attn_norm.weight", TensorType::F32, {s.n_embd}, Init::kNorm});
        t.push_back({p + "attn_q.weight", type, {s.n_embd, s.n_embd}, Init::kWeight});
        t.push_back({p + "attn_k.weight", type, {s.n_embd, n_embd_kv}, Init::kWeight});
        t.push_back({p + "attn_v.weight", type, {s.n_embd, n_embd_kv}, Init::kWeight});
        if (s.arch == "qwen2") {
            t.push_back({p + "attn_q.bias", TensorType::F32, {s.n_embd}, Init::kBias});
            t.push_back({p + "attn_k.bias", TensorType::F32, {n_embd_kv}, Init::kBias});
            t.push_back({p + "attn_v.bias", TensorType::F32, {n_embd_kv}, Init::kBias});
        }
        t.push_back({p + "attn_output.weight", type, {s.n_embd, s.n_embd}, Init::kWeight});
        t.push_back({p + "ffn_norm.weight", TensorType::F32, {s.n_embd}, Init::kNorm});
        t.push_back({p + "ffn_gate.weight", type, {s.n_embd, s.n_ff}, Init::kWeight});
        t.push_back({p + "ffn_up.weight", type, {s.n_embd, s.n_ff}, Init::kWeight});
        t.push_back({p + "ffn_down.weight", type, {s.n_ff, s.n_embd}, Init::kWeight});
    }
    t.push_back({"output_norm.weight", TensorType::F32, {s.n_embd}, Init::kNorm});
    if (!s.tied_output) t.push_back({"output.weight", type, {s.n_embd, n_vocab}, Init::kWeight});
    apply_mix(s, mix_type, &t);
    return t;
}

// Llama 3.1 rope scaling factors per rotary frequency (factor 8, low 1, high 4, original 8192),
// as the GGUF converters store them in rope_freqs.weight.
float llama3_rope_factor(uint64_t i, uint64_t head_dim, float base) {
    const double factor = 8, low = 1, high = 4, old_ctx = 8192;
    const double freq = 1.0 / std::pow(base, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < old_ctx / high) return 1.0f;
    if (wavelen > old_ctx / low) return static_cast<float>(factor);
    const double smooth = (old_ctx / wavelen - low) / (high - low);
    return static_cast<float>(1.0 / ((1 - smooth) / factor + smooth));
}

Status check_options(const SynthOptions& o, const SynthShape** shape) {
    *shape = find_synth_shape(o.shape);
    if (*shape == nullptr) {
        std::string known;
        for (const SynthShape& s : synth_shapes()) known += (known.empty() ? "" : ", ") + s.name;
        return Status::error("unknown shape '" + o.shape + "' (known: " + known + ")");
    }
    if (!o.arch.empty() && o.arch != (*shape)->arch)
        return Status::error("shape '" + o.shape + "' is a " + (*shape)->arch + " model, not " + o.arch +
                             "; drop --arch or pass --arch " + (*shape)->arch);
    if (!gguf::type_traits(o.type.base).supported)
        return Status::error("cannot write weights of type " + type_mix_name(o.type));
    return Status::ok();
}

struct VocabSource {
    std::unique_ptr<gguf::File> file;  // when copied from --vocab
    SynthVocab synth;                  // otherwise
    uint32_t n_vocab = 0;
};

Status load_vocab(const SynthOptions& o, const SynthShape& s, VocabSource* v) {
    if (o.vocab_path.empty()) {
        v->synth = make_synth_vocab(s.n_vocab, o.seed);
        v->n_vocab = s.n_vocab;
        return Status::ok();
    }
    Result<gguf::File> f = gguf::File::open(o.vocab_path);
    if (!f.ok()) return f.status();
    const gguf::Array* tokens = f->get_array("tokenizer.ggml.tokens");
    if (tokens == nullptr || tokens->elem_type != gguf::ValueType::STRING || tokens->size() == 0)
        return Status::error(o.vocab_path + ": has no tokenizer.ggml.tokens; pass a GGUF file that holds a vocabulary");
    v->n_vocab = static_cast<uint32_t>(tokens->size());
    v->file = std::make_unique<gguf::File>(std::move(f).value());
    return Status::ok();
}

void write_deepseek2_metadata(const SynthShape& s, uint32_t n_vocab, gguf::Writer* w) {
    const MlaMoeDims& m = s.mla;
    const std::string a = "deepseek2.";
    w->set_u32(a + "vocab_size", n_vocab);
    w->set_u32(a + "rope.dimension_count", m.qk_rope);
    if (m.q_lora_rank > 0) w->set_u32(a + "attention.q_lora_rank", m.q_lora_rank);
    w->set_u32(a + "attention.kv_lora_rank", m.kv_lora_rank);
    // The absorbed-MLA layout: cache rows are [latent, rope], per-head sizes are the *_mla keys.
    w->set_u32(a + "attention.key_length", m.kv_lora_rank + m.qk_rope);
    w->set_u32(a + "attention.value_length", m.kv_lora_rank);
    w->set_u32(a + "attention.key_length_mla", m.qk_nope + m.qk_rope);
    w->set_u32(a + "attention.value_length_mla", m.v_head);
    w->set_u32(a + "leading_dense_block_count", m.n_layer_dense_lead);
    w->set_u32(a + "expert_count", m.n_expert);
    w->set_u32(a + "expert_used_count", m.n_expert_used);
    w->set_u32(a + "expert_shared_count", m.n_expert_shared);
    w->set_u32(a + "expert_feed_forward_length", m.n_ff_exp);
    w->set_u32(a + "expert_group_count", m.n_expert_groups);
    w->set_u32(a + "expert_group_used_count", m.n_group_used);
    w->set_u32(a + "expert_gating_func", m.sigmoid_gating ? 2 : 1);
    w->set_f32(a + "expert_weights_scale", m.expert_weights_scale);
    w->set_bool(a + "expert_weights_norm", m.expert_weights_norm);
    if (m.yarn_factor > 0) {
        w->set_string(a + "rope.scaling.type", "yarn");
        w->set_f32(a + "rope.scaling.factor", m.yarn_factor);
        w->set_u32(a + "rope.scaling.original_context_length",
                   static_cast<uint32_t>(static_cast<float>(s.n_ctx_train) / m.yarn_factor));
        w->set_f32(a + "rope.scaling.yarn_beta_fast", 32.0f);
        w->set_f32(a + "rope.scaling.yarn_beta_slow", 1.0f);
        w->set_f32(a + "rope.scaling.yarn_log_multiplier", m.yarn_log_mul);
    }
}

void write_metadata(const SynthShape& s, const SynthOptions& o, const VocabSource& v, gguf::Writer* w) {
    const std::string a = s.arch + ".";
    w->set_string("general.architecture", s.arch);
    w->set_string("general.name", "sinan synthetic " + s.name);
    w->set_u32("general.file_type", mix_file_type(o.type));
    w->set_u32("general.quantization_version", 2);
    w->set_u32(a + "context_length", s.n_ctx_train);
    w->set_u32(a + "embedding_length", s.n_embd);
    w->set_u32(a + "block_count", s.n_layer);
    w->set_u32(a + "feed_forward_length", s.n_ff);
    w->set_u32(a + "attention.head_count", s.n_head);
    w->set_u32(a + "attention.head_count_kv", s.n_head_kv);
    w->set_f32(a + "rope.freq_base", s.rope_freq_base);
    w->set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
    if (s.arch == "llama") {
        w->set_u32(a + "rope.dimension_count", s.n_embd / s.n_head);
        w->set_u32(a + "vocab_size", v.n_vocab);
    }
    if (s.arch == "deepseek2") write_deepseek2_metadata(s, v.n_vocab, w);
    if (v.file) {
        for (const gguf::KeyValue& kv : v.file->metadata())
            if (kv.key.substr(0, 10) == "tokenizer.") w->set_value(kv.key, kv.value);
        return;
    }
    w->set_string("tokenizer.ggml.model", "gpt2");
    w->set_string("tokenizer.ggml.pre", s.arch == "llama" ? "llama-bpe" : "deepseek-r1-qwen");
    w->set_strings("tokenizer.ggml.tokens", v.synth.tokens);
    w->set_i32s("tokenizer.ggml.token_type", v.synth.token_types);
    w->set_strings("tokenizer.ggml.merges", v.synth.merges);
    w->set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.synth.bos_id));
    w->set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.synth.eos_id));
    w->set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(v.synth.pad_id));
    w->set_bool("tokenizer.ggml.add_bos_token", true);
    w->set_bool("tokenizer.ggml.add_eos_token", false);
    w->set_string("tokenizer.chat_template", v.synth.chat_template);
}

}  // namespace

const std::vector<SynthShape>& synth_shapes() {
    // Hyperparameters from the models' published configurations, one shape per line.
    // clang-format off
    static const std::vector<SynthShape> kShapes = {
        {"tiny", "qwen2", 256, 2, 4, 2, 512, 512, 2048, 10000.0f, 1e-6f, false, false},
        {"tiny-llama", "llama", 256, 2, 4, 2, 512, 512, 2048, 500000.0f, 1e-5f, false, false},
        {"r1-distill-qwen-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 131072, 10000.0f, 1e-6f, false, false},
        {"r1-distill-qwen-7b", "qwen2", 3584, 28, 28, 4, 18944, 152064, 131072, 10000.0f, 1e-6f, false, false},
        {"r1-distill-qwen-14b", "qwen2", 5120, 48, 40, 8, 13824, 152064, 131072, 1000000.0f, 1e-5f, false, false},
        {"r1-distill-qwen-32b", "qwen2", 5120, 64, 40, 8, 27648, 152064, 131072, 1000000.0f, 1e-5f, false, false},
        {"r1-distill-llama-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 131072, 500000.0f, 1e-5f, false, true},
        {"r1-distill-llama-70b", "llama", 8192, 80, 64, 8, 28672, 128256, 131072, 500000.0f, 1e-5f, false, true},
        // The DeepSeek-V3 layout (q LoRA, sigmoid routing in expert groups) at test size.
        {"deepseek2-tiny", "deepseek2", 256, 3, 4, 1, 512, 512, 163840, 10000.0f, 1e-6f, false, false,
         {64, 64, 32, 16, 32, 8, 2, 1, 64, 1, 2, 1, true, 2.5f, true, 40.0f, 0.1f}},
        // The DeepSeek-V2 layout (no q LoRA, softmax routing, two shared experts) at test size.
        {"deepseek2-v2-tiny", "deepseek2", 256, 3, 4, 1, 512, 512, 163840, 10000.0f, 1e-6f, false, false,
         {0, 64, 32, 16, 32, 8, 3, 2, 64, 1, 1, 1, false, 1.0f, false, 40.0f, 0.0707f}},
        // deepseek2-tiny with rope and latent parts that are whole 32-value blocks (as the real
        // models' 64 and 512 are), so its cache can be Q8_0.
        {"deepseek2-tiny-q8kv", "deepseek2", 256, 3, 4, 1, 512, 512, 163840, 10000.0f, 1e-6f, false, false,
         {64, 64, 32, 32, 32, 8, 2, 1, 64, 1, 2, 1, true, 2.5f, true, 40.0f, 0.1f}},
        // DeepSeek-V2-Lite: no q LoRA, 64 routed + 2 shared experts, softmax routing.
        {"v2-lite", "deepseek2", 2048, 27, 16, 1, 10944, 102400, 163840, 10000.0f, 1e-6f, false, false,
         {0, 512, 128, 64, 128, 64, 6, 2, 1408, 1, 1, 1, false, 1.0f, false, 40.0f, 0.0707f}},
    };
    // clang-format on
    return kShapes;
}

const SynthShape* find_synth_shape(const std::string& name) {
    for (const SynthShape& s : synth_shapes())
        if (s.name == name) return &s;
    return nullptr;
}

namespace {

// Every tensor's rows must be whole blocks of its type.
Status check_blocks(const SynthShape& s, const std::vector<TensorPlan>& plan) {
    for (const TensorPlan& t : plan) {
        const uint32_t block = gguf::type_traits(t.type).block_size;
        if (t.shape[0] % block != 0)
            return Status::error("tensor '" + t.name + "' has rows of " + std::to_string(t.shape[0]) +
                                 " values, not a multiple of the " + gguf::type_name(t.type) + " block (" +
                                 std::to_string(block) + "); shape '" + s.name + "' needs another --type (e.g. q8_0)");
    }
    return Status::ok();
}

}  // namespace

Result<uint64_t> synth_tensor_bytes(const SynthOptions& o) {
    const SynthShape* s = nullptr;
    SINAN_RETURN_IF_ERROR(check_options(o, &s));
    uint32_t n_vocab = s->n_vocab;
    if (!o.vocab_path.empty()) {
        VocabSource v;
        SINAN_RETURN_IF_ERROR(load_vocab(o, *s, &v));
        n_vocab = v.n_vocab;
    }
    const std::vector<TensorPlan> plan = plan_tensors(*s, n_vocab, o.type);
    SINAN_RETURN_IF_ERROR(check_blocks(*s, plan));
    uint64_t total = 0;
    for (const TensorPlan& t : plan) {
        uint64_t n = 1;
        for (uint64_t d : t.shape) n *= d;
        total += n / gguf::type_traits(t.type).block_size * gguf::type_traits(t.type).type_size;
    }
    return total;
}

Status synth_model(const SynthOptions& o, const std::string& path,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
    const SynthShape* s = nullptr;
    SINAN_RETURN_IF_ERROR(check_options(o, &s));
    VocabSource vocab;
    SINAN_RETURN_IF_ERROR(load_vocab(o, *s, &vocab));
    const std::vector<TensorPlan> plan = plan_tensors(*s, vocab.n_vocab, o.type);
    SINAN_RETURN_IF_ERROR(check_blocks(*s, plan));

    gguf::Writer w;
    write_metadata(*s, o, vocab, &w);
    auto pool = std::make_shared<ThreadPool>(o.n_threads);
    const float spread = o.weight_std * std::sqrt(3.0f);  // uniform(-a, a) has std a/sqrt(3)
    const uint64_t head_dim = s->n_embd / s->n_head;
    for (const TensorPlan& t : plan) {
        const uint64_t row = t.shape[0];
        uint64_t n_rows = 1;
        for (size_t d = 1; d < t.shape.size(); ++d) n_rows *= t.shape[d];
        const uint64_t seed = mix(o.seed ^ hash_name(t.name));
        const uint64_t rbytes = gguf::row_bytes(t.type, row);
        const TensorType type = t.type;
        const Init init = t.init;
        const float rope_base = s->rope_freq_base;
        w.add_tensor_fill(t.name, t.type, t.shape, [=](uint8_t* dst, uint64_t) {
            pool->parallel_for(static_cast<int64_t>(n_rows), [&](int64_t r0, int64_t r1, int) {
                std::vector<float> values(row);
                for (int64_t r = r0; r < r1; ++r) {
                    uint64_t state = mix(seed + static_cast<uint64_t>(r));
                    for (uint64_t i = 0; i < row; ++i) {
                        state = state * 6364136223846793005ull + 1442695040888963407ull;  // LCG, top bits
                        const float u = static_cast<float>(state >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
                        switch (init) {
                            case Init::kWeight:
                                values[i] = u * spread;
                                break;
                            case Init::kBias:
                                values[i] = u * spread;
                                break;
                            case Init::kNorm:
                                values[i] = 1.0f + 0.2f * u;
                                break;
                            case Init::kRopeFactors:
                                values[i] = llama3_rope_factor(i, head_dim, rope_base);
                                break;
                        }
                    }
                    kernels::quantize_row(type, values.data(), dst + static_cast<uint64_t>(r) * rbytes,
                                          static_cast<int64_t>(row));
                }
            });
        });
    }
    return w.write(path, progress);
}

}  // namespace sinan::model
