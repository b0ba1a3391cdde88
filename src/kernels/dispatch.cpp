// Builds the per-level kernel tables and implements kernels.h on top of the active one.
#include "kernels/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/log.h"
#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels/panel_slices.h"
#include "kernels/ref/ref.h"
#include "kernels/simd.h"

namespace sinan::kernels {

namespace {

using gguf::TensorType;

constexpr int id(TensorType t) { return static_cast<int>(t); }

// Intel's processors: family 6, every Core and Xeon to date (AMD's are 15 and up).
bool is_intel(const cpu::Identity& processor) { return processor.family == 6; }

KernelTable make_scalar_table() {
    KernelTable t{};
    t.name = "scalar";
    auto set = [&t](TensorType type, DequantizeFn dq, QuantizeFn q) {
        t.dequantize[id(type)] = dq;
        t.quantize[id(type)] = q;
    };
    set(TensorType::F32, ref::dequantize_f32, ref::quantize_f32);
    set(TensorType::F16, ref::dequantize_f16, ref::quantize_f16);
    set(TensorType::BF16, ref::dequantize_bf16, ref::quantize_bf16);
    set(TensorType::Q4_0, ref::dequantize_q4_0, ref::quantize_q4_0);
    set(TensorType::Q4_1, ref::dequantize_q4_1, ref::quantize_q4_1);
    set(TensorType::Q5_0, ref::dequantize_q5_0, ref::quantize_q5_0);
    set(TensorType::Q5_1, ref::dequantize_q5_1, ref::quantize_q5_1);
    set(TensorType::Q8_0, ref::dequantize_q8_0, ref::quantize_q8_0);
    set(TensorType::Q2_K, ref::dequantize_q2_k, ref::quantize_q2_k);
    set(TensorType::Q3_K, ref::dequantize_q3_k, ref::quantize_q3_k);
    set(TensorType::Q4_K, ref::dequantize_q4_k, ref::quantize_q4_k);
    set(TensorType::Q5_K, ref::dequantize_q5_k, ref::quantize_q5_k);
    set(TensorType::Q6_K, ref::dequantize_q6_k, ref::quantize_q6_k);
    t.dot_f32 = ref::dot_f32;
    t.sum_words = ref::sum_words;
    t.quantize_activations[id(TensorType::F32)] = ref::quantize_f32;
    t.quantize_activations[id(TensorType::F16)] = ref::quantize_f16;
    t.quantize_activations[id(TensorType::BF16)] = ref::quantize_bf16;
    t.quantize_activations[id(TensorType::Q8_0)] = ref::quantize_q8_0_activations;
    t.quantize_activations[id(TensorType::Q8_K)] = ref::quantize_q8_k;
    t.vec_dot[id(TensorType::F32)] = [](const void* w, const void* x, int64_t n) {
        return ref::dot_f32(static_cast<const float*>(w), static_cast<const float*>(x), n);
    };
    t.vec_dot[id(TensorType::F16)] = ref::vec_dot_f16;
    t.vec_dot[id(TensorType::BF16)] = ref::vec_dot_bf16;
    t.vec_dot[id(TensorType::Q4_0)] = ref::vec_dot_q4_0;
    t.vec_dot[id(TensorType::Q4_1)] = ref::vec_dot_q4_1;
    t.vec_dot[id(TensorType::Q5_0)] = ref::vec_dot_q5_0;
    t.vec_dot[id(TensorType::Q5_1)] = ref::vec_dot_q5_1;
    t.vec_dot[id(TensorType::Q8_0)] = ref::vec_dot_q8_0;
    t.vec_dot[id(TensorType::Q2_K)] = ref::vec_dot_q2_k;
    t.vec_dot[id(TensorType::Q3_K)] = ref::vec_dot_q3_k;
    t.vec_dot[id(TensorType::Q4_K)] = ref::vec_dot_q4_k;
    t.vec_dot[id(TensorType::Q5_K)] = ref::vec_dot_q5_k;
    t.vec_dot[id(TensorType::Q6_K)] = ref::vec_dot_q6_k;
    t.rmsnorm = ref::rmsnorm;
    t.softmax = ref::softmax;
    t.exp = ref::exp_f32;
    t.silu_mul = ref::silu_mul;
    t.gelu = ref::gelu;
    t.add_inplace = ref::add_inplace;
    t.fma_f16_rows = ref::fma_f16_rows;
    t.fma_f16_rounded = ref::fma_f16_rounded;
    t.add_scaled_rows = ref::add_scaled_rows;
    t.dot_f16_chains = ref::dot_f16_chains;
    return t;
}

KernelTable make_avx2_table() {
    KernelTable t = make_scalar_table();
    t.name = "avx2";
    t.dequantize[id(TensorType::F16)] = avx2::dequantize_f16;
    t.dequantize[id(TensorType::BF16)] = avx2::dequantize_bf16;
    t.dequantize[id(TensorType::Q4_0)] = avx2::dequantize_q4_0;
    t.dequantize[id(TensorType::Q8_0)] = avx2::dequantize_q8_0;
    t.dequantize[id(TensorType::Q4_K)] = avx2::dequantize_q4_k;
    t.dequantize[id(TensorType::Q5_K)] = avx2::dequantize_q5_k;
    t.dequantize[id(TensorType::Q6_K)] = avx2::dequantize_q6_k;
    t.dot_f32 = avx2::dot_f32;
    t.quantize_activations[id(TensorType::Q8_0)] = avx2::quantize_q8_0_activations;
    t.quantize_activations[id(TensorType::Q8_K)] = avx2::quantize_q8_k_activations;
    t.vec_dot[id(TensorType::F32)] = [](const void* w, const void* x, int64_t n) {
        return avx2::dot_f32(static_cast<const float*>(w), static_cast<const float*>(x), n);
    };
    t.vec_dot[id(TensorType::F16)] = avx2::vec_dot_f16;
    t.vec_dot[id(TensorType::BF16)] = avx2::vec_dot_bf16;
    t.vec_dot[id(TensorType::Q4_0)] = avx2::vec_dot_q4_0;
    t.sum_words = avx2::sum_words;
    t.vec_dot[id(TensorType::Q8_0)] = avx2::vec_dot_q8_0;
    t.vec_dot[id(TensorType::Q4_K)] = avx2::vec_dot_q4_k;
    t.vec_dot[id(TensorType::Q6_K)] = avx2::vec_dot_q6_k;
    t.vec_dot_x4[id(TensorType::F16)] = avx2::vec_dot_f16_x4;
    t.vec_dot_x4[id(TensorType::Q8_0)] = avx2::vec_dot_q8_0_x4;
    t.vec_dot_x4[id(TensorType::Q4_K)] = avx2::vec_dot_q4_k_x4;
    t.vec_dot_x4[id(TensorType::Q6_K)] = avx2::vec_dot_q6_k_x4;
    t.gemm[id(TensorType::Q8_0)] = {avx2::gemm_q8_0, avx2::gemm_q8_0_scratch_bytes, avx2::pack_q8_0_panels,
                                    avx2::gemm_q8_0_packed, avx2::gemm_q8_0_packed_scratch_bytes};
    t.gemm[id(TensorType::Q8_0)].run_packed_read_ahead = avx2::gemm_q8_0_packed_read_ahead;
    t.gemm[id(TensorType::Q4_K)] = {avx2::gemm_q4_k, avx2::gemm_q4_k_scratch_bytes, avx2::pack_q4_k_panels,
                                    avx2::gemm_q4_k_packed, avx2::gemm_q4_k_packed_scratch_bytes};
    t.gemm[id(TensorType::Q4_K)].run_packed_read_ahead = avx2::gemm_q4_k_packed_read_ahead;
    t.gemm[id(TensorType::Q4_K)].packed_group_rows = panel_slices::group_rows;
    t.gemm[id(TensorType::Q6_K)] = {avx2::gemm_q6_k, avx2::gemm_q6_k_scratch_bytes, avx2::pack_q6_k_panels,
                                    avx2::gemm_q6_k_packed, avx2::gemm_q6_k_packed_scratch_bytes};
    t.gemm[id(TensorType::Q6_K)].run_packed_read_ahead = avx2::gemm_q6_k_packed_read_ahead;
    t.gemm[id(TensorType::Q6_K)].packed_group_rows = panel_slices::group_rows;
    t.rmsnorm = avx2::rmsnorm;
    t.softmax = avx2::softmax;
    t.silu_mul = avx2::silu_mul;
    t.gelu = avx2::gelu;
    t.add_inplace = avx2::add_inplace;
    t.fma_f16_rows = avx2::fma_f16_rows;
    t.fma_f16_rounded = avx2::fma_f16_rounded;
    t.add_scaled_rows = avx2::add_scaled_rows;
    t.dot_f16_chains = avx2::dot_f16_chains;
    return t;
}

// The avx-vnni level: the AVX2 table with Q8_0's and packed Q4_K's and Q6_K's products on the
// 256-bit vpdpbusd, and its probe (the other integer kernels stay AVX2's).
KernelTable make_avx_vnni_table() {
    KernelTable t = make_avx2_table();
    t.name = "avx-vnni";
    GemmKernel& q8_0 = t.gemm[id(TensorType::Q8_0)];
    q8_0 = {avx_vnni::gemm_q8_0,          avx_vnni::gemm_q8_0_scratch_bytes,        avx2::pack_q8_0_panels,
            avx_vnni::gemm_q8_0_packed,   avx_vnni::gemm_q8_0_packed_scratch_bytes, avx_vnni::prepare_q8_0,
            avx_vnni::prepared_q8_0_bytes};
    q8_0.run_packed_read_ahead = avx_vnni::gemm_q8_0_packed_read_ahead;
    GemmKernel& q4_k = t.gemm[id(TensorType::Q4_K)];
    q4_k.run_packed = avx_vnni::gemm_q4_k_packed;
    q4_k.run_packed_read_ahead = avx_vnni::gemm_q4_k_packed_read_ahead;
    GemmKernel& q6_k = t.gemm[id(TensorType::Q6_K)];
    q6_k.run_packed = avx_vnni::gemm_q6_k_packed;
    q6_k.run_packed_read_ahead = avx_vnni::gemm_q6_k_packed_read_ahead;
    t.peak_int8_macs = avx_vnni::peak_int8_macs;
    return t;
}

KernelTable make_avx512_table() {
    KernelTable t = make_avx2_table();
    t.name = "avx512";
    t.dequantize[id(TensorType::F16)] = avx512::dequantize_f16;
    t.quantize[id(TensorType::F16)] = avx512::quantize_f16;
    t.quantize_activations[id(TensorType::F16)] = avx512::quantize_f16;
    t.dequantize[id(TensorType::BF16)] = avx512::dequantize_bf16;
    t.dequantize[id(TensorType::Q4_0)] = avx512::dequantize_q4_0;
    t.dequantize[id(TensorType::Q8_0)] = avx512::dequantize_q8_0;
    t.dequantize[id(TensorType::Q4_K)] = avx512::dequantize_q4_k;
    t.dequantize[id(TensorType::Q5_K)] = avx512::dequantize_q5_k;
    t.dequantize[id(TensorType::Q6_K)] = avx512::dequantize_q6_k;
    t.dot_f32 = avx512::dot_f32;
    t.sum_words = avx512::sum_words;
    t.peak_f32_macs = avx512::peak_f32_macs;
    t.quantize_activations[id(TensorType::Q8_0)] = avx512::quantize_q8_0_activations;
    t.quantize_activations[id(TensorType::Q8_K)] = avx512::quantize_q8_k_activations;
    t.vec_dot[id(TensorType::F32)] = [](const void* w, const void* x, int64_t n) {
        return avx512::dot_f32(static_cast<const float*>(w), static_cast<const float*>(x), n);
    };
    t.vec_dot[id(TensorType::F16)] = avx512::vec_dot_f16;
    t.vec_dot_x4[id(TensorType::F16)] = nullptr;  // equals the AVX2 dot product; gemm_f16 takes batches
    t.gemm[id(TensorType::F16)] = {avx512::gemm_f16, avx512::gemm_float_scratch_bytes, avx512::pack_f16,
                                   avx512::gemm_f16_packed, avx512::gemm_float_scratch_bytes, avx512::prepare_f16,
                                   avx512::prepared_f16_bytes};
    t.gemm[id(TensorType::F16)].run_packed_read_ahead = avx512::gemm_f16_packed_read_ahead;
    t.gemm[id(TensorType::F32)] = {avx512::gemm_f32, avx512::gemm_float_scratch_bytes};
    if (cpu::features().avx512bf16) t.vec_dot[id(TensorType::BF16)] = avx512::vec_dot_bf16;
    if (cpu::features().avx512vnni) {
        t.vec_dot[id(TensorType::Q4_0)] = avx512::vec_dot_q4_0;
        t.vec_dot[id(TensorType::Q8_0)] = avx512::vec_dot_q8_0;
        t.vec_dot[id(TensorType::Q4_K)] = avx512::vec_dot_q4_k;
        t.gemm[id(TensorType::Q8_0)] = {avx512::gemm_q8_0, avx512::gemm_q8_0_scratch_bytes, avx512::pack_q8_0_panels,
                                        avx512::gemm_q8_0_packed, avx512::gemm_q8_0_packed_scratch_bytes,
                                        avx512::prepare_q8_0, avx512::prepared_q8_0_bytes};
        t.gemm[id(TensorType::Q8_0)].run_packed_read_ahead = avx512::gemm_q8_0_packed_read_ahead;
        t.peak_int8_macs = avx512::peak_int8_macs;
        t.vec_dot_x4[id(TensorType::Q4_K)] = avx512::vec_dot_q4_k_x4;
        // The AVX2 four-row kernels equal the AVX2 dot products, not these; the GEMMs take batches.
        t.vec_dot_x4[id(TensorType::Q8_0)] = nullptr;
        t.vec_dot_x4[id(TensorType::Q6_K)] = nullptr;
        t.gemm[id(TensorType::Q4_K)] = {avx512::gemm_q4_k, avx512::gemm_q4_k_scratch_bytes, avx512::pack_q4_k_panels,
                                        avx512::gemm_q4_k_packed, avx512::gemm_q4_k_packed_scratch_bytes,
                                        avx512::prepare_q4_k, avx512::prepared_q4_k_bytes};
        // Q4_K's read-ahead form: on Intel each block's lines ahead (88-90% of the read limit there
        // against 76-80% with the next unit), elsewhere the next unit (AMD family 26's best).
        t.gemm[id(TensorType::Q4_K)].run_packed_read_ahead =
            is_intel(cpu::identity()) ? avx512::gemm_q4_k_packed_fetch_blocks : avx512::gemm_q4_k_packed_read_ahead;
        t.gemm[id(TensorType::Q4_K)].packed_group_rows = panel_slices::group_rows;
        t.vec_dot[id(TensorType::Q6_K)] = avx512::vec_dot_q6_k;
        t.gemm[id(TensorType::Q6_K)] = {avx512::gemm_q6_k, avx512::gemm_q6_k_scratch_bytes, avx512::pack_q6_k_panels,
                                        avx512::gemm_q6_k_packed, avx512::gemm_q6_k_packed_scratch_bytes,
                                        avx512::prepare_q6_k, avx512::prepared_q6_k_bytes};
        t.gemm[id(TensorType::Q6_K)].run_packed_read_ahead = avx512::gemm_q6_k_packed_read_ahead;
        t.gemm[id(TensorType::Q6_K)].packed_group_rows = panel_slices::group_rows;
    }
    t.rmsnorm = avx512::rmsnorm;
    t.softmax = avx512::softmax;
    t.exp = avx512::exp_f32;
    t.silu_mul = avx512::silu_mul;
    t.gelu = avx512::gelu;
    t.add_inplace = avx512::add_inplace;
    t.fma_f16_rows = avx512::fma_f16_rows;
    t.fma_f16_rounded = avx512::fma_f16_rounded;
    t.add_scaled_rows = avx512::add_scaled_rows;
    t.dot_f16_chains = avx512::dot_f16_chains;
    t.attend_f16_rounded = avx512::attend_f16_rounded;
    if (cpu::features().avx512vnni) t.attend_q8_0 = avx512::attend_q8_0;
    return t;
}

// Checks what kernels.h promises to check, for a row conversion of `n` values of `type`.
void check_row(TensorType type, int64_t n, const char* what) {
    SINAN_CHECK(is_convertible(type), std::string(what) + ": tensor type " + gguf::type_name(type) +
                                          " is not supported (supported: " + gguf::supported_type_names() + ")");
    const int64_t block = gguf::type_traits(type).block_size;
    SINAN_CHECK(n >= 0 && n % block == 0, std::string(what) + ": n = " + std::to_string(n) +
                                              " is not a multiple of the " + gguf::type_name(type) +
                                              " block size " + std::to_string(block));
}

// Whether two Q8_0 kernels give the same bits on a small product with every edge (a last panel
// of 8 rows, an odd number of blocks, a last tile of 4 tokens), the weights packed as both take them.
bool same_q8_0_products(const GemmKernel& a, const GemmKernel& b) {
    constexpr int64_t kRows = 40, kCols = 3 * kQK, kTokens = 20;
    constexpr size_t kRowBytes = kCols / kQK * sizeof(BlockQ8_0);
    std::vector<uint8_t> w(kRows * kRowBytes), x(kTokens * kRowBytes);
    uint32_t state = 12345;  // a fixed pseudo-random sequence (numerical recipes' LCG)
    auto fill = [&state](std::vector<uint8_t>& rows) {
        for (size_t i = 0; i < rows.size(); ++i) {
            state = state * 1664525u + 1013904223u;
            rows[i] = static_cast<uint8_t>(state >> 24);
        }
        for (size_t o = 0; o < rows.size(); o += sizeof(BlockQ8_0)) {  // scales: binary16 in [0.5, 1)
            const uint16_t d = static_cast<uint16_t>(0x3800 | (rows[o] << 2));
            std::memcpy(&rows[o], &d, sizeof(d));
        }
    };
    fill(w);
    fill(x);
    std::vector<uint8_t> panels(((kRows + 15) / 16) * 16 * kRowBytes);
    a.pack(w.data(), kRowBytes, kRows, kCols, panels.data());
    std::vector<float> ya(kTokens * kRows), yb(kTokens * kRows);
    for (auto [k, y] : {std::pair{&a, &ya}, std::pair{&b, &yb}}) {
        std::vector<uint8_t> prepared(k->prepared_bytes(kTokens, kCols) + 64);
        void* xp = prepared.data() + (64 - reinterpret_cast<uintptr_t>(prepared.data()) % 64) % 64;
        k->prepare(x.data(), kRowBytes, kTokens, kCols, 0, kTokens, xp);
        k->run_packed(panels.data(), kRowBytes, kRows, xp, kRowBytes, kTokens, kCols, y->data(), kRows, nullptr);
    }
    return std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)) == 0;
}

// The amx level: the AVX-512 table with Q8_0 products of 16 or more tokens on the tile unit (prompts,
// large batches). Only where the CPU has the unit and the kernel grants its state (elsewhere the
// AVX-512 kernels stay: a tile instruction would fault), and the AMX kernel first runs a small
// product against the AVX-512 one; if they differ, the AVX-512 kernels stay, with a warning (the
// AMX path cannot be run on every machine the project is tested on). The tile kernels have no
// read-ahead form (GemmKernel::run_packed_read_ahead): decoding on them reads as the hardware does.
KernelTable make_amx_table() {
    KernelTable t = make_avx512_table();
    t.name = "amx";
    const cpu::Features& f = cpu::features();
    if (!f.avx512vnni || !f.amx_tile || !f.amx_int8 || !cpu::request_amx()) return t;
    const GemmKernel tiles = {amx::gemm_q8_0,          amx::gemm_q8_0_scratch_bytes,        avx512::pack_q8_0_panels,
                              amx::gemm_q8_0_packed,   amx::gemm_q8_0_packed_scratch_bytes, amx::prepare_q8_0,
                              amx::prepared_q8_0_bytes};
    GemmKernel& q8_0 = t.gemm[id(TensorType::Q8_0)];
    if (!same_q8_0_products(tiles, q8_0)) {
        log::warn(
            "AMX: the tile unit's Q8_0 product differs from the AVX-512 kernel's on a self-check; "
            "prompts use the AVX-512 kernels (please report this CPU: sinan --version)");
        return t;
    }
    q8_0 = tiles;
    t.peak_int8_macs = amx::peak_int8_macs;
    return t;
}

}  // namespace

const KernelTable& kernel_table(cpu::Level level) {
    static const KernelTable scalar = make_scalar_table();
    static const KernelTable avx2 = make_avx2_table();
    static const KernelTable avx_vnni = make_avx_vnni_table();
    static const KernelTable avx512 = make_avx512_table();
    switch (level) {
        case cpu::Level::kScalar: return scalar;
        case cpu::Level::kAvx2: return avx2;
        case cpu::Level::kAvxVnni:
            return avx_vnni;
        case cpu::Level::kAvx512: return avx512;
        case cpu::Level::kAmx: {
            static const KernelTable amx = make_amx_table();
            return amx;
        }
    }
    return scalar;
}

const KernelTable& active_table() {
    static const KernelTable& active = kernel_table(cpu::best_level());
    return active;
}

bool is_convertible(TensorType type) {
    const int i = id(type);
    return i >= 0 && i < kNumTypeIds && kernel_table(cpu::Level::kScalar).dequantize[i] != nullptr;
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
    check_row(type, n, "dequantize_row");
    active_table().dequantize[id(type)](src, dst, n);
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
    check_row(type, n, "quantize_row");
    active_table().quantize[id(type)](src, dst, n);
}

float dot_f32(const float* a, const float* b, int64_t n) {
    SINAN_CHECK(n >= 0, "dot_f32: negative n");
    return active_table().dot_f32(a, b, n);
}

TensorType vec_dot_type(TensorType weight) {
    switch (weight) {
        case TensorType::F32: case TensorType::F16: case TensorType::BF16: return weight;
        case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
        case TensorType::Q8_0:
            return TensorType::Q8_0;
        case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
        case TensorType::Q6_K:
            return TensorType::Q8_K;
        default: break;
    }
    SINAN_CHECK(false, std::string("vec_dot_type: tensor type ") + gguf::type_name(weight) + " is not supported");
    return weight;
}

const char* active_path() { return active_table().name; }

bool read_ahead_for(const cpu::Identity& processor, const char* setting, TensorType weight) {
    if (setting != nullptr && std::strcmp(setting, "on") == 0) return true;
    if (setting != nullptr && std::strcmp(setting, "off") == 0) return false;
    // Intel and AMD's Zen 5 (family 26); AMD's Zen 4 (family 25) and the rest read as the
    // hardware does.
    const bool intel = is_intel(processor);
    return weight == TensorType::F16 ? intel : intel || processor.family == 26;
}

bool decode_read_ahead(TensorType weight) {
    static const char* const setting = std::getenv("SINAN_READ_AHEAD");
    return read_ahead_for(cpu::identity(), setting, weight);
}

const char* matmul_path(TensorType weight) {
    if (cpu::best_level() < cpu::Level::kAvx512 || !is_convertible(weight)) return active_path();
    const TensorType dot = vec_dot_type(weight);
    if (dot == TensorType::Q8_0 && active_table().gemm[id(dot)].run == amx::gemm_q8_0) return "amx-int8";
    if ((dot == TensorType::Q8_0 || dot == TensorType::Q8_K) && cpu::features().avx512vnni) return "avx512-vnni";
    if (dot == TensorType::BF16 && cpu::features().avx512bf16) return "avx512-bf16";
    return active_path();
}

}  // namespace sinan::kernels
