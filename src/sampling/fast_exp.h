// Vectors of 16 floats and the exp of the sampler's softmax passes. Private to src/sampling.
//
// 16 lanes: one AVX-512 register (GCC vector extensions) where the code is built for it
// (vector_passes_avx512.cpp), two 8-lane ones for AVX2 (vector_passes_avx2.cpp), four 4-lane ones
// (SSE on the x86-64 baseline) elsewhere. The operations are element-wise IEEE ones and sums are
// added in a fixed order (sum16), so every build gives the same bits; -ffp-contract=off
// (src/sampling/CMakeLists.txt) keeps a * b + c from becoming a fused multiply-add on the wide
// builds. std::exp is a library call that stays scalar, and GCC will not vectorise float
// reductions without -ffast-math, which would make results depend on the compiler's choices.
//
// fast_exp16: relative error < 2e-7 for x in [-87, 0]; exactly 0 below -87.3 (including -inf, a
// banned token), so banned tokens get weight 0 and are never drawn.
//
// Every function is static: each file that includes this gets its own copy, so an AVX-512 or AVX2
// copy is never the one the linker keeps for the baseline code. No standard header for the same
// reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sinan::sampling::detail {

inline constexpr size_t kLanes = 16;

#if defined(__AVX512F__)
// One register per vector.
using Floats = float __attribute__((vector_size(64)));
using Ints = int32_t __attribute__((vector_size(64)));

static inline Floats select(Ints m, Floats a, Floats b) { return m ? a : b; }
static inline Ints select(Ints m, Ints a, Ints b) { return m ? a : b; }
static inline Ints to_ints(Floats v) { return __builtin_convertvector(v, Ints); }  // truncates
static inline Floats bits_as_floats(Ints v) { return (Floats)v; }
static inline Ints bits_as_ints(Floats v) { return (Ints)v; }
static inline Floats splat(float x) { return Floats{} + x; }
static inline Ints splat_int(int32_t x) { return Ints{} + x; }
static inline Ints iota16(int32_t first) { return Ints{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} + first; }
#else
// Parts of kPartLanes lanes per vector, one register each: two AVX2 registers where the code is
// built for AVX2 (vector_passes_avx2.cpp), four SSE ones on the x86-64 baseline. GCC would lower a
// 64-byte vector type to scalar code on a CPU without 64-byte registers, so the parts are spelled
// out. Lane j of a vector is lane j % kPartLanes of part j / kPartLanes in every representation.
#if defined(__AVX2__)
inline constexpr size_t kPartLanes = 8;
#else
inline constexpr size_t kPartLanes = 4;
#endif
inline constexpr size_t kParts = kLanes / kPartLanes;
using Q = float __attribute__((vector_size(sizeof(float) * kPartLanes)));
using QI = int32_t __attribute__((vector_size(sizeof(int32_t) * kPartLanes)));

struct Ints {
    QI q[kParts];
    int32_t operator[](size_t j) const { return q[j / kPartLanes][j % kPartLanes]; }
};
struct Floats {
    Q q[kParts];
    float operator[](size_t j) const { return q[j / kPartLanes][j % kPartLanes]; }
};

#define SINAN_FLOATS_OP(R, op, A, B)                                   \
    static inline R operator op(A a, B b) {                            \
        R r;                                                           \
        for (size_t k = 0; k < kParts; ++k) r.q[k] = a.q[k] op b.q[k]; \
        return r;                                                      \
    }
SINAN_FLOATS_OP(Floats, +, Floats, Floats)
SINAN_FLOATS_OP(Floats, -, Floats, Floats)
SINAN_FLOATS_OP(Floats, *, Floats, Floats)
SINAN_FLOATS_OP(Ints, <, Floats, Floats)
SINAN_FLOATS_OP(Ints, >, Floats, Floats)
SINAN_FLOATS_OP(Ints, >=, Floats, Floats)
SINAN_FLOATS_OP(Ints, ==, Floats, Floats)
SINAN_FLOATS_OP(Ints, +, Ints, Ints)
SINAN_FLOATS_OP(Ints, &, Ints, Ints)
SINAN_FLOATS_OP(Ints, |, Ints, Ints)
SINAN_FLOATS_OP(Ints, <=, Ints, Ints)
SINAN_FLOATS_OP(Ints, ==, Ints, Ints)
#undef SINAN_FLOATS_OP

static inline Floats splat(float x) {
    Floats r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = Q{} + x;
    return r;
}
static inline Ints splat_int(int32_t x) {
    Ints r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = QI{} + x;
    return r;
}
static inline Floats operator+(Floats a, float b) { return a + splat(b); }
static inline Floats operator-(Floats a, float b) { return a - splat(b); }
static inline Floats operator*(Floats a, float b) { return a * splat(b); }
static inline Ints operator<(Floats a, float b) { return a < splat(b); }
static inline Ints operator<=(Ints a, int32_t b) { return a <= splat_int(b); }
static inline Ints operator==(Ints a, int32_t b) { return a == splat_int(b); }
static inline Ints operator<<(Ints a, int b) {
    for (size_t k = 0; k < kParts; ++k) a.q[k] <<= b;
    return a;
}
static inline Floats& operator+=(Floats& a, Floats b) { return a = a + b; }
static inline Ints& operator&=(Ints& a, Ints b) { return a = a & b; }

static inline Floats select(Ints m, Floats a, Floats b) {
    Floats r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = m.q[k] ? a.q[k] : b.q[k];
    return r;
}
static inline Ints select(Ints m, Ints a, Ints b) {
    Ints r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = m.q[k] ? a.q[k] : b.q[k];
    return r;
}
static inline Ints to_ints(Floats v) {  // truncates
    Ints r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = __builtin_convertvector(v.q[k], QI);
    return r;
}
static inline Floats bits_as_floats(Ints v) {
    Floats r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = (Q)v.q[k];
    return r;
}
static inline Ints bits_as_ints(Floats v) {
    Ints r;
    for (size_t k = 0; k < kParts; ++k) r.q[k] = (QI)v.q[k];
    return r;
}
static inline Ints iota16(int32_t first) {
    Ints r;
    for (size_t j = 0; j < kLanes; ++j) r.q[j / kPartLanes][j % kPartLanes] = first + static_cast<int32_t>(j);
    return r;
}
#endif

#if defined(__AVX512F__)
static inline Floats load16(const float* p) {
    Floats v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}
static inline void store16(float* p, Floats v) { __builtin_memcpy(p, &v, sizeof(v)); }
static inline void store16(int32_t* p, Ints v) { __builtin_memcpy(p, &v, sizeof(v)); }
#else
// A part at a time: one unaligned load or store each (the whole struct at once went through the
// stack in 16-byte pieces on AVX2, and each part was then read back across two of them).
static inline Floats load16(const float* p) {
    Floats v;
    for (size_t k = 0; k < kParts; ++k) __builtin_memcpy(&v.q[k], p + k * kPartLanes, sizeof(Q));
    return v;
}
static inline void store16(float* p, Floats v) {
    for (size_t k = 0; k < kParts; ++k) __builtin_memcpy(p + k * kPartLanes, &v.q[k], sizeof(Q));
}
static inline void store16(int32_t* p, Ints v) {
    for (size_t k = 0; k < kParts; ++k) __builtin_memcpy(p + k * kPartLanes, &v.q[k], sizeof(QI));
}
#endif

// p[0, n) with n < 16, the other lanes `fill`.
static inline Floats load_partial(const float* p, size_t n, float fill) {
    float lanes[kLanes];
    for (size_t j = 0; j < kLanes; ++j) lanes[j] = j < n ? p[j] : fill;
    return load16(lanes);
}

// The 16 lanes added as a tree: lane j + 8 into lane j, then j + 4, j + 2, j + 1.
static inline float sum16(Floats v) {
    float t[kLanes];
    store16(t, v);
    for (size_t w = kLanes / 2; w > 0; w /= 2) {
        for (size_t j = 0; j < w; ++j) t[j] += t[j + w];
    }
    return t[0];
}

#if defined(__AVX512F__)
static inline float max_lane(Floats v) {
    using F8 = float __attribute__((vector_size(32)));
    using F4 = float __attribute__((vector_size(16)));
    const F8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    const F8 b = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    const F8 m8 = b > a ? b : a;
    const F4 c = __builtin_shufflevector(m8, m8, 0, 1, 2, 3);
    const F4 d = __builtin_shufflevector(m8, m8, 4, 5, 6, 7);
    const F4 m = d > c ? d : c;
    const float x = m[1] > m[0] ? m[1] : m[0];
    const float y = m[3] > m[2] ? m[3] : m[2];
    return y > x ? y : x;
}

// The lanes that are not 0, as bits (vptestmd).
static inline unsigned lane_mask(Ints v) { return __builtin_ia32_ptestmd512(v, v, 0xFFFF); }

static inline bool any_lane(Ints v) { return lane_mask(v) != 0; }
#else
static inline float max_lane(Floats v) {
    Q m = v.q[0];
    for (size_t k = 1; k < kParts; ++k) m = v.q[k] > m ? v.q[k] : m;
    float r = m[0];
    for (size_t j = 1; j < kPartLanes; ++j) r = m[j] > r ? m[j] : r;
    return r;
}

static inline bool any_lane(Ints v) {
    QI o = v.q[0];
    for (size_t k = 1; k < kParts; ++k) o |= v.q[k];
    int32_t any = 0;
    for (size_t j = 0; j < kPartLanes; ++j) any |= o[j];
    return any != 0;
}
#endif

// Pairs {a[j], b[j]} (8 bytes each: a float, then an int32) of the lanes j where sel is set, in
// lane order, written to out[0, count); returns count. Writes anywhere in out[0, 16 pairs): the
// room must be there, and what lies past count is garbage.
#if defined(__AVX512F__)
static inline size_t compress_pairs(Ints sel, Floats a, Ints b, void* out) {
    // Interleave the pairs into two registers of eight 64-bit lanes, pack each register's selected
    // lanes to its bottom (vpcompressq) and store it whole.
    using Longs = long long __attribute__((vector_size(64)));
    const Floats bf = bits_as_floats(b);
    const Longs lo = (Longs)__builtin_shufflevector(a, bf, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const Longs hi =
        (Longs)__builtin_shufflevector(a, bf, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const unsigned mask = lane_mask(sel);
    const Longs lo_packed = __builtin_ia32_compressdi512_mask(lo, Longs{}, static_cast<unsigned char>(mask));
    const Longs hi_packed = __builtin_ia32_compressdi512_mask(hi, Longs{}, static_cast<unsigned char>(mask >> 8));
    const size_t n_lo = static_cast<size_t>(__builtin_popcount(mask & 0xFF));
    char* p = static_cast<char*>(out);
    __builtin_memcpy(p, &lo_packed, sizeof(lo_packed));
    __builtin_memcpy(p + 8 * n_lo, &hi_packed, sizeof(hi_packed));
    return static_cast<size_t>(__builtin_popcount(mask));
}
#else
static inline size_t compress_pairs(Ints sel, Floats a, Ints b, void* out) {
    // Every lane is written, each over the last unless selected: no branch on the selection, which
    // is unpredictable.
    char* p = static_cast<char*>(out);
    size_t count = 0;
    for (size_t j = 0; j < kLanes; ++j) {
        const float x = a[j];
        const int32_t y = b[j];
        __builtin_memcpy(p + 8 * count, &x, 4);
        __builtin_memcpy(p + 8 * count + 4, &y, 4);
        count += static_cast<size_t>(sel[j] & 1);
    }
    return count;
}
#endif

// acc + v in the lanes where a >= b (neither NaN), acc in the others: one compare into a mask
// register and one masked add on AVX-512 (GCC makes a zeroing move and an add of the select).
// The same bits as acc + select(a >= b, v, 0) whenever acc is not -0.
#if defined(__AVX512F__)
static inline Floats add_where_at_least(Floats acc, Floats a, Floats b, Floats v) {
    const unsigned short k = __builtin_ia32_cmpps512_mask(a, b, 0x1D /* _CMP_GE_OQ */, 0xFFFF, 4);
    return __builtin_ia32_addps512_mask(acc, v, acc, k, 4);  // 4: _MM_FROUND_CUR_DIRECTION
}
#else
static inline Floats add_where_at_least(Floats acc, Floats a, Floats b, Floats v) {
    return acc + select(a >= b, v, Floats{});
}
#endif

// exp of each lane of N GCC vectors V (int32 lanes: VI), x[0, N) into out[0, N). Each step is
// taken for all N vectors before the next: N independent chains side by side in the instruction
// stream, where one vector's chain of ~20 dependent operations at a time left the core waiting on
// their latencies (bench/NOTES.md, 2026-12-07 15:14). The same operations per lane for any N.
template <size_t N, typename V, typename VI>
[[gnu::always_inline]] static inline void exp_lanes(const V* x, V* out) {
    // exp(x) = 2^k * exp(r), k = round(x / ln 2), |r| <= ln2 / 2; exp(r) by its degree-6 Taylor
    // polynomial (truncation error r^7 / 7! < 1.3e-7 on that interval).
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693359375f;  // ln 2 split so k * kLn2Hi is exact (Cody-Waite)
    constexpr float kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    constexpr float kMin = -87.3f;         // below this exp(x) < FLT_MIN: return 0
    constexpr float kCoefficients[] = {1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};
    VI underflow[N];
    V kf[N], r[N], p[N];
#pragma GCC unroll 8
    for (size_t k = 0; k < N; ++k) {
        underflow[k] = x[k] < kMin;
        const V xc = underflow[k] ? V{} + kMin : x[k];
        kf[k] = (xc * kLog2e + kRound) - kRound;
        r[k] = (xc - kf[k] * kLn2Hi) - kf[k] * kLn2Lo;
        p[k] = V{} + 1.0f / 720.0f;
    }
#pragma GCC unroll 6
    for (float c : kCoefficients) {
#pragma GCC unroll 8
        for (size_t k = 0; k < N; ++k) p[k] = p[k] * r[k] + c;
    }
#pragma GCC unroll 8
    for (size_t k = 0; k < N; ++k) {
        const V scaled = (V)((VI)p[k] + (__builtin_convertvector(kf[k], VI) << 23));  // vector casts reinterpret bits
        out[k] = underflow[k] ? V{} : scaled;
    }
}

// fast_exp16 of x[0, N) into out[0, N).
#if defined(__AVX512F__)
template <size_t N>
[[gnu::always_inline]] static inline void fast_exp16_n(const Floats* x, Floats* out) {
    exp_lanes<N, Floats, Ints>(x, out);
}
#else
// The vectors' parts kExpParts at a time, side by side: the same operations lane by lane. AVX2
// takes 8 (4 vectors): greedy sampling 81 us a token against 89 with 2 and 99 with 16 (registers
// spill either way; bench/NOTES.md, 2026-12-07 18:22); SSE one at a time, with a quarter of the
// registers live.
#if defined(__AVX2__)
inline constexpr size_t kExpParts = 8;
#else
inline constexpr size_t kExpParts = 1;
#endif
template <size_t N>
[[gnu::always_inline]] static inline void fast_exp16_n(const Floats* x, Floats* out) {
    constexpr size_t kAll = N * kParts;
    Q in[kAll], res[kAll];
    for (size_t i = 0; i < kAll; ++i) in[i] = x[i / kParts].q[i % kParts];
    size_t i = 0;
    for (; i + kExpParts <= kAll; i += kExpParts) exp_lanes<kExpParts, Q, QI>(in + i, res + i);
    for (; i < kAll; ++i) exp_lanes<1, Q, QI>(in + i, res + i);
    for (size_t k = 0; k < kAll; ++k) out[k / kParts].q[k % kParts] = res[k];
}
#endif

[[gnu::always_inline]] static inline Floats fast_exp16(Floats x) {
    Floats out;
    fast_exp16_n<1>(&x, &out);
    return out;
}

// One lane of fast_exp16: the same bits as the vector passes give for x.
static inline float fast_exp(float x) { return fast_exp16(splat(x))[0]; }

}  // namespace sinan::sampling::detail
