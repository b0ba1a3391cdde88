#include "base/huge_pages.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/mapped_file.h"

namespace sinan {
namespace {

bool kernel_has_huge_pages() { return std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled"); }

// The VmFlags line of the mapping in /proc/self/smaps that holds p ("" if none does).
std::string vm_flags_of(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto a = reinterpret_cast<uintptr_t>(p);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long begin = 0, end = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > line.find(' ')) {
            inside = begin <= a && a < end;
        } else if (inside && line.rfind("VmFlags:", 0) == 0) {
            return line;
        }
    }
    return "";
}

bool advised_huge(const void* p) { return vm_flags_of(p).find(" hg") != std::string::npos; }

TEST(HugePages, BufferIsAlignedWritableAndAskedForHugePages) {
    constexpr size_t n = 5 * HugePageBuffer::kHugePage + 100;
    Result<HugePageBuffer> b = HugePageBuffer::allocate(n);
    ASSERT_TRUE(b.ok()) << b.message();
    ASSERT_EQ(b->size(), n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % HugePageBuffer::kHugePage, 0u);
    auto* bytes = static_cast<uint8_t*>(b->data());
    std::memset(bytes, 7, n);  // every byte writable
    EXPECT_EQ(bytes[n - 1], 7);
    if (!kernel_has_huge_pages()) GTEST_SKIP() << "this kernel has no transparent huge pages";
    EXPECT_TRUE(advised_huge(bytes)) << vm_flags_of(bytes);
    EXPECT_TRUE(advised_huge(bytes + n - 1)) << vm_flags_of(bytes + n - 1);
}

TEST(HugePages, EnvironmentCanTurnThemOff) {
    if (!kernel_has_huge_pages()) GTEST_SKIP() << "this kernel has no transparent huge pages";
    const std::string p = std::filesystem::temp_directory_path() / ("sinan-small-" + std::to_string(::getpid()));
    std::ofstream(p, std::ios::binary) << std::string(1 << 20, 's');
    ::setenv("SINAN_HUGE_PAGES", "0", 1);
    Result<HugePageBuffer> b = HugePageBuffer::allocate(HugePageBuffer::kHugePage);
    Result<MappedFile> m = MappedFile::open(p);
    ::unsetenv("SINAN_HUGE_PAGES");
    std::remove(p.c_str());
    ASSERT_TRUE(b.ok()) << b.message();
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_FALSE(advised_huge(b->data())) << vm_flags_of(b->data());
    EXPECT_FALSE(advised_huge(m->data())) << vm_flags_of(m->data());
    EXPECT_TRUE(huge_pages_wanted());
}

TEST(HugePages, BufferMovesAndUnmapsOnce) {
    Result<HugePageBuffer> b = HugePageBuffer::allocate(4096);
    ASSERT_TRUE(b.ok()) << b.message();
    void* p = b->data();
    HugePageBuffer moved = std::move(b).value();
    EXPECT_EQ(moved.data(), p);
    HugePageBuffer other;
    other = std::move(moved);
    EXPECT_EQ(other.data(), p);
    EXPECT_EQ(moved.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is part of the contract
    other = HugePageBuffer();
    EXPECT_EQ(vm_flags_of(p), "") << "the mapping outlived its buffer";
}

TEST(HugePages, NothingToMapIsAnError) {
    Result<HugePageBuffer> b = HugePageBuffer::allocate(0);
    EXPECT_FALSE(b.ok());
}

TEST(HugePages, PageUseCountsWhatIsResidentInTheRange) {
    constexpr size_t n = 4 * HugePageBuffer::kHugePage;
    Result<HugePageBuffer> b = HugePageBuffer::allocate(n);
    ASSERT_TRUE(b.ok()) << b.message();
    EXPECT_EQ(page_use(b->data(), n).resident, 0u) << "nothing touched yet";
    std::memset(b->data(), 1, n / 2);
    const PageUse half = page_use(b->data(), n);
    EXPECT_GE(half.resident, n / 2);
    EXPECT_LT(half.resident, n);
    EXPECT_LE(half.huge, half.resident);
    std::printf("half of the buffer touched: %llu of %llu resident bytes on 2 MiB pages\n",
                static_cast<unsigned long long>(half.huge), static_cast<unsigned long long>(half.resident));
}

TEST(HugePages, ModelFileMappingAsksForHugePages) {
    if (!kernel_has_huge_pages()) GTEST_SKIP() << "this kernel has no transparent huge pages";
    const std::string p = std::filesystem::temp_directory_path() / ("sinan-huge-" + std::to_string(::getpid()));
    std::ofstream(p, std::ios::binary) << std::string(1 << 20, 'w');
    Result<MappedFile> m = MappedFile::open(p);
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_TRUE(advised_huge(m->data())) << vm_flags_of(m->data());
    std::remove(p.c_str());
}

}  // namespace
}  // namespace sinan
