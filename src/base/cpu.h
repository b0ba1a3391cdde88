// What the CPU this process runs on can do, read once with CPUID/XGETBV (so the OS's consent
// to save the wide registers is included). Kernels choose their SIMD path from this at run
// time; the binary itself is built for plain x86-64.
// SINAN_CPU=scalar|avx2|avx-vnni|avx512|amx caps the level (for tests and comparisons). Thread-safe.
#pragma once

#include <string>

namespace sinan::cpu {

struct Features {
    bool sse42 = false;
    bool avx = false;
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx_vnni = false;  // the VEX-encoded 256-bit vpdpbusd (CPUID.(7,1):EAX[4])
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512dq = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
    bool amx_tile = false;
    bool amx_int8 = false;
    bool amx_bf16 = false;
};

// The SIMD levels kernels are built for, lowest first. kAvxVnni is kAvx2 with the 256-bit int8
// multiply-add (AVX-VNNI: Intel's client cores since Alder Lake, which have no AVX-512); kAmx is
// kAvx512 with the tile unit for int8 matrix products (AMX-INT8). A CPU need not run every level
// below its best: AVX-512 CPUs without AVX-VNNI (AMD before Zen 5, Intel's servers before
// Sapphire Rapids) skip kAvxVnni.
enum class Level { kScalar = 0, kAvx2 = 1, kAvxVnni = 2, kAvx512 = 3, kAmx = 4 };

// Features of this CPU as the OS allows them (cached after the first call).
const Features& features();

// Whether this CPU can run `level`'s kernels (SINAN_CPU aside). kAvx2 needs AVX2+FMA+F16C;
// kAvxVnni also AVX-VNNI; kAvx512 AVX2+FMA+F16C and AVX-512 F/BW/VL/DQ; kAmx also AVX-512 VNNI,
// AMX-TILE and AMX-INT8, and the kernel's consent to the tile state (it asks: request_amx).
bool runnable(Level level);

// The highest level this CPU runs (runnable) at or below SINAN_CPU's (scalar, avx2, avx-vnni,
// avx512 or amx; any other value or none: no cap). The tile state is asked for only where the cap
// allows amx.
Level best_level();

const char* level_name(Level level);

// One line for logs and `--version`: "avx512 (avx-vnni, avx512-vnni, avx512-bf16, amx)".
std::string describe();

// Which processor this is, from CPUID: the brand string (leaves 0x80000002-4, outer spaces
// trimmed) and the display family and model (leaf 1, extended fields folded in as the vendors'
// manuals say; /proc/cpuinfo's "cpu family" and "model"). In a virtual machine the brand a process
// reads can differ from the kernel's "model name", and either can name a whole product line, so
// benchmark reports print family and model beside it: a VM's host can change between runs, and
// the same figures on another processor mean something else.
struct Identity {
    std::string brand;  // empty where the CPU has no brand string
    int family = 0;
    int model = 0;
};
const Identity& identity();

// identity() as one line, for `sinan bench` and `--version`: "Oxide Virtual Turin-like Processor
// (family 26, model 2)".
std::string describe_processor();

// Asks the kernel for AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XTILEDATA) once; true
// when AMX may be used by this process.
bool request_amx();

}  // namespace sinan::cpu
