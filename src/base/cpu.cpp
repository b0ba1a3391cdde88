#include "base/cpu.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace sinan::cpu {

namespace {

uint64_t read_xcr0() {
    uint32_t eax = 0, edx = 0;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}

Features detect() {
    Features f;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    f.sse42 = c & bit_SSE4_2;
    const bool osxsave = c & bit_OSXSAVE;
    const bool cpu_avx = c & bit_AVX;
    f.fma = c & bit_FMA;
    f.f16c = c & bit_F16C;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
    const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
    f.avx = cpu_avx && os_ymm;
    f.fma = f.fma && f.avx;
    f.f16c = f.f16c && f.avx;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = f.avx && (b & bit_AVX2);
        f.avx512f = os_zmm && (b & bit_AVX512F);
        f.avx512dq = f.avx512f && (b & bit_AVX512DQ);
        f.avx512bw = f.avx512f && (b & bit_AVX512BW);
        f.avx512vl = f.avx512f && (b & bit_AVX512VL);
        f.avx512vnni = f.avx512f && (c & bit_AVX512VNNI);
        f.amx_bf16 = os_amx && (d & (1u << 22));
        f.amx_tile = os_amx && (d & (1u << 24));
        f.amx_int8 = os_amx && (d & (1u << 25));
        unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
            f.avx_vnni = f.avx2 && (a1 & (1u << 4));
            f.avx512bf16 = f.avx512f && (a1 & (1u << 5));
        }
    }
    return f;
}

Level cap_from_env() {
    const char* s = std::getenv("SINAN_CPU");
    if (s == nullptr) return Level::kAmx;
    if (std::strcmp(s, "scalar") == 0) return Level::kScalar;
    if (std::strcmp(s, "avx2") == 0) return Level::kAvx2;
    if (std::strcmp(s, "avx-vnni") == 0) return Level::kAvxVnni;
    if (std::strcmp(s, "avx512") == 0) return Level::kAvx512;
    return Level::kAmx;
}

}  // namespace

const Features& features() {
    static const Features f = detect();
    return f;
}

bool runnable(Level level) {
    const Features& f = features();
    const bool avx2 = f.avx2 && f.fma && f.f16c;
    const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    switch (level) {
        case Level::kScalar:
            return true;
        case Level::kAvx2:
            return avx2;
        case Level::kAvxVnni:
            return avx2 && f.avx_vnni;
        case Level::kAvx512:
            return avx512;
        case Level::kAmx:
            return avx512 && f.avx512vnni && f.amx_tile && f.amx_int8 && request_amx();
    }
    return false;
}

Level best_level() {
    // From the cap down, so the tile state (which makes every context switch save it) is asked for
    // only where the cap allows amx.
    for (int level = static_cast<int>(cap_from_env()); level > 0; --level)
        if (runnable(static_cast<Level>(level))) return static_cast<Level>(level);
    return Level::kScalar;
}

const char* level_name(Level level) {
    switch (level) {
        case Level::kScalar:
            return "scalar";
        case Level::kAvx2:
            return "avx2";
        case Level::kAvxVnni:
            return "avx-vnni";
        case Level::kAvx512:
            return "avx512";
        case Level::kAmx:
            return "amx";
    }
    return "?";
}

std::string describe() {
    const Features& f = features();
    std::string s = level_name(best_level());
    std::string extra;
    auto add = [&](bool on, const char* name) {
        if (!on) return;
        extra += extra.empty() ? "" : ", ";
        extra += name;
    };
    add(f.avx_vnni, "avx-vnni");
    add(f.avx512vnni, "avx512-vnni");
    add(f.avx512bf16, "avx512-bf16");
    add(f.amx_tile && f.amx_int8, "amx");
    return extra.empty() ? s : s + " (" + extra + ")";
}

namespace {

Identity read_identity() {
    Identity id;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        const int base_family = static_cast<int>((a >> 8) & 0xf);
        const int base_model = static_cast<int>((a >> 4) & 0xf);
        id.family = base_family == 0xf ? base_family + static_cast<int>((a >> 20) & 0xff) : base_family;
        id.model = base_family == 0x6 || base_family == 0xf ? base_model + static_cast<int>(((a >> 16) & 0xf) << 4)
                                                            : base_model;
    }
    // (clang's cpuid.h declares the result int, GCC's unsigned.)
    if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000004u) return id;
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
        unsigned r[4] = {};
        __get_cpuid(0x80000002u + leaf, &r[0], &r[1], &r[2], &r[3]);
        std::memcpy(brand + 16 * leaf, r, sizeof(r));
    }
    std::string s(brand);  // NUL-padded
    const size_t first = s.find_first_not_of(' ');
    const size_t last = s.find_last_not_of(' ');
    id.brand = first == std::string::npos ? "" : s.substr(first, last - first + 1);
    return id;
}

}  // namespace

const Identity& identity() {
    static const Identity id = read_identity();
    return id;
}

std::string describe_processor() {
    const Identity& id = identity();
    return (id.brand.empty() ? std::string("unnamed CPU") : id.brand) + " (family " + std::to_string(id.family) +
           ", model " + std::to_string(id.model) + ")";
}

bool request_amx() {
    static std::once_flag once;
    static bool granted = false;
    std::call_once(once, [] {
        if (!features().amx_tile) return;
        constexpr long kArchReqXcompPerm = 0x1023;
        constexpr long kXfeatureXtiledata = 18;
        granted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    });
    return granted;
}

}  // namespace sinan::cpu
