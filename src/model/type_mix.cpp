#include "model/type_mix.h"

#include <array>
#include <cctype>
#include <charconv>

namespace sinan::model {

namespace {

using gguf::TensorType;

struct NamedMix {
    Mix mix;
    const char* name;
    TensorType base;
    uint32_t file_type;  // LLAMA_FTYPE_MOSTLY_*
};

constexpr std::array<NamedMix, 4> kMixes = {{
    {Mix::kQ4_K_S, "Q4_K_S", TensorType::Q4_K, 14},
    {Mix::kQ4_K_M, "Q4_K_M", TensorType::Q4_K, 15},
    {Mix::kQ5_K_S, "Q5_K_S", TensorType::Q5_K, 16},
    {Mix::kQ5_K_M, "Q5_K_M", TensorType::Q5_K, 17},
}};

const NamedMix* find_mix(Mix mix) {
    for (const NamedMix& m : kMixes)
        if (m.mix == mix) return &m;
    return nullptr;
}

bool same_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
bool more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// "blk.12.ffn_down.weight" -> 12; -1 outside the layers.
int layer_of(std::string_view name) {
    constexpr std::string_view kPrefix = "blk.";
    if (name.substr(0, kPrefix.size()) != kPrefix) return -1;
    int layer = -1;
    const char* begin = name.data() + kPrefix.size();
    auto [end, ec] = std::from_chars(begin, name.data() + name.size(), layer);
    return ec == std::errc() && end != begin ? layer : -1;
}

// llama.cpp's LLM_TYPE_70B, for which attn_v gets more bits: 8 heads share each value head.
bool is_70b(const MixModel& m) {
    if (m.n_layer != 80) return false;
    if (m.arch == "qwen2") return true;
    return m.arch == "llama" && m.n_head != m.n_head_kv;
}

// The type llama.cpp falls back to when rows are not whole blocks of `type`.
TensorType fitting(TensorType type, uint64_t n_cols) {
    const auto fits = [n_cols](TensorType t) { return n_cols % gguf::type_traits(t).block_size == 0; };
    if (fits(type)) return type;
    const TensorType fallback = type == TensorType::Q4_K   ? TensorType::Q5_0
                                : type == TensorType::Q5_K ? TensorType::Q5_1
                                : type == TensorType::Q6_K ? TensorType::Q8_0
                                                           : TensorType::F16;
    return fits(fallback) ? fallback : TensorType::F16;
}

}  // namespace

std::optional<TypeMix> type_mix_from_name(std::string_view name) {
    for (const NamedMix& m : kMixes)
        if (same_ignoring_case(name, m.name)) return TypeMix(m.base, m.mix);
    std::optional<TensorType> type = gguf::type_from_name(name);
    if (!type || !gguf::type_traits(*type).supported) return std::nullopt;
    return TypeMix(*type);
}

std::string type_mix_name(const TypeMix& mix) {
    const NamedMix* m = find_mix(mix.mix);
    return m != nullptr ? m->name : gguf::type_name(mix.base);
}

std::string type_mix_names() {
    std::string s = gguf::supported_type_names();
    for (const NamedMix& m : kMixes) s += std::string(", ") + m.name;
    return s;
}

uint32_t mix_file_type(const TypeMix& mix) {
    const NamedMix* m = find_mix(mix.mix);
    return m != nullptr ? m->file_type : gguf::file_type_of(mix.base);
}

std::string file_type_label(uint32_t file_type) {
    // llama.h's enum llama_ftype; the gaps are ids llama.cpp retired.
    static constexpr std::array<const char*, 39> kNames = {
        "all F32", "F16",    "Q4_0",   "Q4_1",    nullptr,  nullptr,  nullptr,  "Q8_0",   "Q5_0",     "Q5_1",
        "Q2_K",    "Q3_K_S", "Q3_K_M", "Q3_K_L",  "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",     "IQ2_XXS",
        "IQ2_XS",  "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",  "IQ3_M",  "IQ2_S",    "IQ2_M",
        "IQ4_XS",  "IQ1_M",  "BF16",   nullptr,   nullptr,  nullptr,  "TQ1_0",  "TQ2_0",  "MXFP4_MOE"};
    if (file_type < kNames.size() && kNames[file_type] != nullptr) return kNames[file_type];
    return "file type " + std::to_string(file_type);
}

bool is_quantized_matrix(std::string_view name, size_t n_dims) {
    constexpr std::string_view kWeight = "weight";
    if (n_dims < 2 || n_dims > 3) return false;
    if (name.size() < kWeight.size() || name.substr(name.size() - kWeight.size()) != kWeight) return false;
    return !contains(name, "_norm.weight") && !contains(name, "ffn_gate_inp.weight") &&
           name != "position_embd.weight" && name != "token_types.weight";
}

TensorType matrix_type(const TypeMix& mix, const MixModel& model, std::string_view name, uint64_t n_cols) {
    if (mix.mix == Mix::kPure) return mix.base;
    const bool m_mix = mix.mix == Mix::kQ4_K_M || mix.mix == Mix::kQ5_K_M;
    const bool q4 = mix.mix == Mix::kQ4_K_S || mix.mix == Mix::kQ4_K_M;
    const bool eight_experts = model.n_expert == 8;
    const int n_layer = static_cast<int>(model.n_layer);
    const int layer = layer_of(name);
    TensorType type = mix.base;
    if (name == "output.weight" || (!model.has_output && name == "token_embd.weight")) {
        type = n_cols % gguf::type_traits(mix.base).block_size == 0 ? TensorType::Q6_K : TensorType::Q8_0;
    } else if (name == "token_embd.weight") {
        // the base type
    } else if (contains(name, "attn_v.weight")) {
        if (m_mix && more_bits(layer, n_layer))
            type = TensorType::Q6_K;
        else if (mix.mix == Mix::kQ4_K_S && layer < 4)
            type = TensorType::Q5_K;
        if (is_70b(model) && type == TensorType::Q4_K) type = TensorType::Q5_K;
        if (eight_experts) type = TensorType::Q8_0;
    } else if (contains(name, "attn_k.weight")) {
        if (eight_experts) type = TensorType::Q8_0;
    } else if (contains(name, "ffn_down")) {  // ffn_down, ffn_down_exps, ffn_down_shexp
        if (m_mix && more_bits(layer, n_layer))
            type = TensorType::Q6_K;
        else if (mix.mix == Mix::kQ4_K_S && layer < n_layer / 8)
            type = TensorType::Q5_K;
    } else if (contains(name, "attn_output.weight")) {
        if (eight_experts && q4) type = TensorType::Q5_K;
    } else if (contains(name, "attn_qkv.weight")) {
        if (mix.mix == Mix::kQ4_K_M) type = TensorType::Q5_K;
        if (mix.mix == Mix::kQ5_K_M) type = TensorType::Q6_K;
    }
    return fitting(type, n_cols);
}

}  // namespace sinan::model
