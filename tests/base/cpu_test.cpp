#include "base/cpu.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
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
    EXPECT_EQ(f.avx_vnni, has("avx_vnni"));
    EXPECT_EQ(f.avx512f, has("avx512f"));
    EXPECT_EQ(f.avx512bw, has("avx512bw"));
    EXPECT_EQ(f.avx512vnni, has("avx512_vnni"));
    EXPECT_EQ(f.avx512bf16, has("avx512_bf16"));
    EXPECT_EQ(f.amx_tile, has("amx_tile"));
    EXPECT_EQ(f.amx_int8, has("amx_int8"));
}

// The value of /proc/cpuinfo's first "NAME\t: value" line for NAME, or nullopt.
std::optional<std::string> cpuinfo_field(const std::string& name) {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, colon);
        key.erase(key.find_last_not_of(" \t") + 1);
        if (key != name) continue;
        const size_t v = line.find_first_not_of(' ', colon + 1);
        return v == std::string::npos ? "" : line.substr(v);
    }
    return std::nullopt;
}

// Family and model against the kernel's reading. The brand string is not compared with "model
// name": in a virtual machine the two can differ (on one of ours CPUID answers "Oxide Virtual
// Turin-like Processor" to processes and the kernel shows "AMD EPYC"), so it is checked for form.
TEST(Cpu, IdentityAgreesWithTheKernel) {
    const std::optional<std::string> family = cpuinfo_field("cpu family");
    const std::optional<std::string> model = cpuinfo_field("model");
    if (!family || !model) GTEST_SKIP() << "no cpu family and model in /proc/cpuinfo";
    const cpu::Identity& id = cpu::identity();
    EXPECT_EQ(id.family, std::stoi(*family));
    EXPECT_EQ(id.model, std::stoi(*model));
    const std::optional<std::string> brand = cpuinfo_field("model name");
    if (brand && !brand->empty()) {
        ASSERT_FALSE(id.brand.empty()) << "the kernel shows a model name; CPUID has a brand string too";
        EXPECT_NE(id.brand.front(), ' ');
        EXPECT_NE(id.brand.back(), ' ');
        for (char c : id.brand) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "brand string: " << id.brand;
    }
    EXPECT_EQ(cpu::describe_processor(),
              (id.brand.empty() ? "unnamed CPU" : id.brand) + " (family " + *family + ", model " + *model + ")");
}

TEST(Cpu, SinanCpuCapsTheLevel) {
    // The process's own cap (a run of the suite under SINAN_CPU) is put back at the end.
    const char* outer = std::getenv("SINAN_CPU");
    const std::string outer_cap = outer != nullptr ? outer : "";
    unsetenv("SINAN_CPU");
    const cpu::Level hw = cpu::best_level();
    const bool avx2 = cpu::runnable(cpu::Level::kAvx2);
    setenv("SINAN_CPU", "scalar", 1);
    EXPECT_EQ(cpu::best_level(), cpu::Level::kScalar);
    setenv("SINAN_CPU", "avx2", 1);
    EXPECT_EQ(cpu::best_level(), avx2 ? cpu::Level::kAvx2 : cpu::Level::kScalar);
    setenv("SINAN_CPU", "avx-vnni", 1);  // a level an AVX-512 CPU without AVX-VNNI skips
    EXPECT_EQ(cpu::best_level(), cpu::features().avx_vnni ? cpu::Level::kAvxVnni
                                 : avx2                   ? cpu::Level::kAvx2
                                                          : cpu::Level::kScalar);
    setenv("SINAN_CPU", "avx512", 1);  // AMX off
    EXPECT_EQ(cpu::best_level(), hw == cpu::Level::kAmx ? cpu::Level::kAvx512 : hw);
    setenv("SINAN_CPU", "amx", 1);
    EXPECT_EQ(cpu::best_level(), hw);
    unsetenv("SINAN_CPU");
    EXPECT_EQ(cpu::best_level(), hw);
    EXPECT_FALSE(cpu::describe().empty());
    if (outer != nullptr) setenv("SINAN_CPU", outer_cap.c_str(), 1);
}

TEST(Cpu, AmxPermissionIsGrantedWhereTheCpuHasIt) {
    if (!cpu::features().amx_tile) GTEST_SKIP() << "no AMX on this CPU";
    EXPECT_TRUE(cpu::request_amx());
    EXPECT_TRUE(cpu::request_amx()) << "idempotent";
}

}  // namespace
}  // namespace sinan
