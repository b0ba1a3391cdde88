// MappedFile: a read-only memory map of a whole file (model weights are used in place from it).
// Move-only; the mapping lives until the object is destroyed, and every pointer into data()
// dies with it. The mapping asks for huge pages (MADV_HUGEPAGE): what it reads in from disk is
// then mapped in 2 MiB pages where the file system and kernel allow (not with SINAN_HUGE_PAGES=0,
// huge_pages.h). Thread-safety: data() may be read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace sinan {

class MappedFile {
public:
    // Maps `path` read-only. Errors name the path and the OS reason ("no such file", ...).
    static Result<MappedFile> open(const std::string& path);

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    void reset();
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    std::string path_;
};

// Tells the kernel this process no longer needs the pages of a read-only file mapping that lie
// wholly inside [p, p + n) (madvise MADV_DONTNEED): they leave its resident memory, and a later
// read maps them again from the page cache. For data that has been copied elsewhere (a weight
// matrix repacked for the CPU's kernels).
void release_pages(const void* p, uint64_t n);

}  // namespace sinan
