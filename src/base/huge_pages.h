// HugePageBuffer: anonymous memory for large data that is read over and over (repacked weights,
// the read-bandwidth probe), placed on 2 MiB pages where the kernel allows it.
// Why: a read stream over 4 KiB pages misses the TLB every 4 KiB, and on a virtual machine each
// miss walks two page tables; on this project's machines the 2-thread read loop of bench_kernels
// ran 21.4 GB/s on 2 MiB pages against 18.2 on small ones (ReadBandwidthLimit/2threads and
// /huge_pages), and Q8_0 decoding of the 1.5B 9% faster (bench/NOTES.md).
// With transparent huge pages in "madvise" mode (Debian's default) memory gets them only when
// asked: the buffer is aligned to 2 MiB and marked MADV_HUGEPAGE. Where the kernel has no
// huge pages the buffer is plain memory; nothing else changes.
// SINAN_HUGE_PAGES=0 (environment) asks for none, in this class and in MappedFile: the first
// touch of a huge page can be slow on a virtual machine whose host takes free memory back (the
// balloon's free page reporting): loading the 1.5B Q8_0 and `sinan bench`'s probe took 14-16 s
// here against 2.2-2.6 s on small pages, once per load (bench/NOTES.md).
// Pages are allocated on first touch (the writer's thread, as with malloc). Move-only; the
// memory is unmapped with the object. Thread-safety: as for any plain buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace sinan {

class HugePageBuffer {
  public:
    static constexpr size_t kHugePage = size_t(2) << 20;

    // n > 0 bytes, 2 MiB aligned. Errors say how much could not be mapped and why.
    static Result<HugePageBuffer> allocate(size_t n);

    HugePageBuffer() = default;
    HugePageBuffer(HugePageBuffer&& other) noexcept;
    HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
    HugePageBuffer(const HugePageBuffer&) = delete;
    HugePageBuffer& operator=(const HugePageBuffer&) = delete;
    ~HugePageBuffer();

    void* data() const { return data_; }
    size_t size() const { return size_; }

  private:
    void reset();
    void* mapping_ = nullptr;  // what mmap returned: data_ rounded down, with the alignment slack
    size_t mapping_size_ = 0;
    void* data_ = nullptr;
    size_t size_ = 0;
};

// Whether buffers and file mappings ask for huge pages: not when SINAN_HUGE_PAGES=0.
bool huge_pages_wanted();

// How much of the memory in [p, p + n) is resident and how much of that this process maps with
// 2 MiB pages (AnonHugePages + FilePmdMapped), from /proc/self/smaps; each mapping that overlaps
// the range counts in proportion to the overlap. Zeros where /proc cannot be read. For reports:
// whether a read stream of weights ran on huge pages.
struct PageUse {
    uint64_t resident = 0;
    uint64_t huge = 0;
    PageUse& operator+=(const PageUse& o) {
        resident += o.resident;
        huge += o.huge;
        return *this;
    }
};
PageUse page_use(const void* p, uint64_t n);

}  // namespace sinan
