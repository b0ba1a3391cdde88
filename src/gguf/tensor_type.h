// GGML tensor types as GGUF stores them: ids, names, block sizes and bytes per block.
// A "block" is the unit a quantized type is stored in (32 or 256 values); plain types have
// blocks of 1. Layouts of each block are documented in docs/formats/quant-types.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sinan::gguf {

// Values are GGML's type ids (stored in GGUF tensor infos); gaps are ids GGML retired.
enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct TypeTraits {
    const char* name;     // "Q4_K": GGML's spelling
    uint32_t block_size;  // values per block
    uint32_t type_size;   // bytes per block
    bool supported;       // sinan reads and computes with it
};

// Traits of a raw type id from a file; nullptr when the id is unknown to GGML.
const TypeTraits* find_type_traits(uint32_t raw_type);
// Traits of a known type (never null).
const TypeTraits& type_traits(TensorType type);

inline const char* type_name(TensorType t) { return type_traits(t).name; }
// Case-insensitive name lookup ("q8_0", "F16"); nullopt when unknown.
std::optional<TensorType> type_from_name(std::string_view name);

// "F32, F16, BF16, Q8_0, ..." — the supported types, for error messages.
std::string supported_type_names();

// llama.cpp's general.file_type (LLAMA_FTYPE_*) for a model whose matrices are all `type`
// (K types: the _M variant). 0 (all F32) for types without one.
uint32_t file_type_of(TensorType type);

// Bytes for a row of `n` values; `n` must be a multiple of the block size.
inline uint64_t row_bytes(TensorType t, uint64_t n) {
    const TypeTraits& tr = type_traits(t);
    return n / tr.block_size * tr.type_size;
}

}  // namespace sinan::gguf
