#include "base/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

namespace sinan {

Result<HugePageBuffer> HugePageBuffer::allocate(size_t n) {
    if (n == 0 || n > SIZE_MAX - 2 * kHugePage) return Status::error("cannot map " + std::to_string(n) + " bytes");
    HugePageBuffer b;
    b.size_ = n;
    b.mapping_size_ = (n + kHugePage - 1) / kHugePage * kHugePage + kHugePage;  // room to align
    b.mapping_ = ::mmap(nullptr, b.mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b.mapping_ == MAP_FAILED) {
        const int e = errno;
        b.mapping_ = nullptr;
        return Status::error("cannot map " + std::to_string(n) + " bytes of memory: " + std::strerror(e));
    }
    const auto start = reinterpret_cast<uintptr_t>(b.mapping_);
    b.data_ = reinterpret_cast<void*>((start + kHugePage - 1) / kHugePage * kHugePage);
    // Advice only: without transparent huge pages (EINVAL) the buffer works on small pages.
    if (huge_pages_wanted()) ::madvise(b.data_, b.mapping_size_ - kHugePage, MADV_HUGEPAGE);
    return b;
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept { *this = std::move(other); }

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
    if (this != &other) {
        reset();
        std::swap(mapping_, other.mapping_);
        std::swap(mapping_size_, other.mapping_size_);
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
    }
    return *this;
}

HugePageBuffer::~HugePageBuffer() { reset(); }

void HugePageBuffer::reset() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
    mapping_ = nullptr;
    mapping_size_ = 0;
    data_ = nullptr;
    size_ = 0;
}

bool huge_pages_wanted() {
    const char* env = std::getenv("SINAN_HUGE_PAGES");
    return env == nullptr || std::string_view(env) != "0";
}

PageUse page_use(const void* p, uint64_t n) {
    PageUse use;
    const auto lo = reinterpret_cast<uintptr_t>(p);
    const uintptr_t hi = lo + n;
    std::ifstream smaps("/proc/self/smaps");
    double share = 0;  // of the current mapping that lies in [lo, hi)
    for (std::string line; std::getline(smaps, line);) {
        unsigned long begin = 0, end = 0;
        unsigned long long kb = 0;
        char field[32] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > line.find(' ')) {
            const uintptr_t a = std::max<uintptr_t>(begin, lo), b = std::min<uintptr_t>(end, hi);
            share = a < b ? static_cast<double>(b - a) / static_cast<double>(end - begin) : 0;
        } else if (share > 0 && std::sscanf(line.c_str(), "%31[^:]: %llu kB", field, &kb) == 2) {
            const auto bytes = static_cast<uint64_t>(share * static_cast<double>(kb) * 1024);
            if (std::strcmp(field, "Rss") == 0) use.resident += bytes;
            if (std::strcmp(field, "AnonHugePages") == 0 || std::strcmp(field, "FilePmdMapped") == 0) use.huge += bytes;
        }
    }
    return use;
}

}  // namespace sinan
