#include "base/cpu.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace sinan {
namespace {

// The kernel's view of the CPU (/proc/cpuinfo flags) is an independent reference for CPUID.
std::string cpuinfo_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("flags", 0) == 0) return line + " ";
    return "";
}

TEST(Cpu, FeaturesAgreeWithTheKernel) {
    const std::string flags = cpuinfo_flags();
    if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo";
    auto has = [&](const char* f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
    const cpu::Features& f = cpu::features();
    EXPECT_EQ(f.avx2, has("avx2"));
    EXPECT_EQ(f.fma, has("fma"));
    EXPECT_EQ(f.f16c, has("f16c"));
    EXPECT_EQ(f.avx512f, has("avx512f"));
    EXPECT_EQ(f.avx512bw, has("avx512bw"));
    EXPECT_EQ(f.avx512vnni, has("avx512_vnni"));
    EXPECT_EQ(f.avx512bf16, has("avx512_bf16"));
    EXPECT_EQ(f.amx_tile, has("amx_tile"));
    EXPECT_EQ(f.amx_int8, has("amx_int8"));
}

TEST(Cpu, SinanCpuCapsTheLevel) {
    const cpu::Level hw = cpu::best_level();
    setenv("SINAN_CPU", "scalar", 1);
    EXPECT_EQ(cpu::best_level(), cpu::Level::kScalar);
    setenv("SINAN_CPU", "avx2", 1);
    EXPECT_EQ(static_cast<int>(cpu::best_level()), std::min(static_cast<int>(hw), 1));
    unsetenv("SINAN_CPU");
    EXPECT_EQ(cpu::best_level(), hw);
    EXPECT_FALSE(cpu::describe().empty());
}

TEST(Cpu, AmxPermissionIsGrantedWhereTheCpuHasIt) {
    if (!cpu::features().amx_tile) GTEST_SKIP() << "no AMX on this CPU";
    EXPECT_TRUE(cpu::request_amx());
    EXPECT_TRUE(cpu::request_amx()) << "idempotent";
}

}  // namespace
}  // namespace sinan
