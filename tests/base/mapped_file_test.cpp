#include "base/mapped_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sinan {
namespace {

TEST(MappedFile, MapsTheWholeFile) {
    const std::string p = std::filesystem::temp_directory_path() / ("sinan-map-" + std::to_string(::getpid()));
    std::ofstream(p, std::ios::binary) << "hello mmap";
    Result<MappedFile> m = MappedFile::open(p);
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_EQ(m->size(), 10u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), "hello mmap");
    MappedFile moved = std::move(m).value();
    EXPECT_EQ(moved.size(), 10u);
    EXPECT_EQ(moved.data()[0], 'h');
    std::remove(p.c_str());
}

TEST(MappedFile, EmptyFileMapsToNothing) {
    const std::string p = std::filesystem::temp_directory_path() / ("sinan-empty-" + std::to_string(::getpid()));
    std::ofstream(p).close();
    Result<MappedFile> m = MappedFile::open(p);
    ASSERT_TRUE(m.ok()) << m.message();
    EXPECT_EQ(m->size(), 0u);
    std::remove(p.c_str());
}

TEST(MappedFile, ErrorsNameThePathAndTheReason) {
    Result<MappedFile> m = MappedFile::open("/no/such/file.gguf");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("/no/such/file.gguf"), std::string::npos);
    EXPECT_NE(m.message().find("No such file"), std::string::npos);
    Result<MappedFile> d = MappedFile::open("/tmp");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace sinan
