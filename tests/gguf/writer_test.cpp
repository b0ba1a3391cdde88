// Writer -> reader round trips: every value type, nested arrays, alignment, tensor placement.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace sinan::gguf {
namespace {

Result<File> reparse(const std::vector<uint8_t>& bytes) { return File::parse(bytes.data(), bytes.size(), "mem.gguf"); }

TEST(GgufWriter, EveryScalarTypeRoundTrips) {
    Writer w;
    w.set_u8("u8", 200);
    w.set_i8("i8", -100);
    w.set_u16("u16", 60000);
    w.set_i16("i16", -30000);
    w.set_u32("u32", 4000000000u);
    w.set_i32("i32", -2000000000);
    w.set_u64("u64", 18000000000000000000ull);
    w.set_i64("i64", -9000000000000000000ll);
    w.set_f32("f32", 1.5f);
    w.set_f64("f64", -2.25e100);
    w.set_bool("t", true);
    w.set_bool("f", false);
    w.set_string("s", "héllo\nworld");
    std::vector<uint8_t> bytes = w.to_bytes();
    Result<File> f = reparse(bytes);
    ASSERT_TRUE(f.ok()) << f.message();
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->metadata().size(), 13u);
    EXPECT_EQ(f->find("u8")->type, ValueType::UINT8);
    EXPECT_EQ(*f->get_uint("u8"), 200u);
    EXPECT_EQ(*f->get_int("i8"), -100);
    EXPECT_EQ(*f->get_uint("u16"), 60000u);
    EXPECT_EQ(*f->get_int("i16"), -30000);
    EXPECT_EQ(*f->get_uint("u32"), 4000000000u);
    EXPECT_EQ(*f->get_int("i32"), -2000000000);
    EXPECT_EQ(*f->get_uint("u64"), 18000000000000000000ull);
    EXPECT_FALSE(f->get_int("u64").has_value()) << "does not fit in int64";
    EXPECT_EQ(*f->get_int("i64"), -9000000000000000000ll);
    EXPECT_FALSE(f->get_uint("i64").has_value()) << "negative";
    EXPECT_EQ(*f->get_float("f32"), 1.5);
    EXPECT_EQ(*f->get_float("f64"), -2.25e100);
    EXPECT_EQ(*f->get_float("u32"), 4000000000.0) << "integers read as floats";
    EXPECT_TRUE(*f->get_bool("t"));
    EXPECT_FALSE(*f->get_bool("f"));
    EXPECT_EQ(*f->get_string("s"), "héllo\nworld");
    EXPECT_FALSE(f->get_string("u8").has_value()) << "wrong kind is nullopt";
    EXPECT_EQ(f->find("missing"), nullptr);
    // insertion order is kept
    EXPECT_EQ(f->metadata()[0].key, "u8");
    EXPECT_EQ(f->metadata()[12].key, "s");
}

TEST(GgufWriter, ArraysAndNestedArraysRoundTrip) {
    Writer inner_src;
    inner_src.set_i32s("a", {1, 2, 3});
    inner_src.set_strings("b", {"x", "", "zz"});
    std::vector<uint8_t> inner_bytes = inner_src.to_bytes();
    Result<File> inner = reparse(inner_bytes);
    ASSERT_TRUE(inner.ok()) << inner.message();

    // Build an array of arrays by hand: [[1,2,3], ["x","","zz"]]
    Value nested;
    nested.type = ValueType::ARRAY;
    auto arr = std::make_shared<Array>();
    arr->elem_type = ValueType::ARRAY;
    arr->n = 2;
    arr->arrays = {*inner->find("a"), *inner->find("b")};
    nested.arr = arr;

    Writer w;
    w.set_f32s("floats", {0.5f, -1.0f});
    w.set_u32s("u32s", {7, 4000000000u});
    w.set_strings("empty", {});
    w.set_value("nested", nested);
    w.set_value("copied", *inner->find("b"));
    std::vector<uint8_t> bytes = w.to_bytes();
    Result<File> f = reparse(bytes);
    ASSERT_TRUE(f.ok()) << f.message();

    const Array* fl = f->get_array("floats");
    ASSERT_NE(fl, nullptr);
    EXPECT_EQ(fl->elem_type, ValueType::FLOAT32);
    ASSERT_EQ(fl->size(), 2u);
    EXPECT_EQ(fl->get_f32(1), -1.0f);
    EXPECT_EQ(f->get_array("u32s")->get_i64(1), 4000000000ll);
    EXPECT_EQ(f->get_array("empty")->size(), 0u);
    const Array* n = f->get_array("nested");
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->size(), 2u);
    EXPECT_EQ(n->arrays[0].arr->get_i32(2), 3);
    EXPECT_EQ(n->arrays[1].arr->strings[2], "zz");
    EXPECT_EQ(f->get_array("copied")->strings[0], "x");
    EXPECT_EQ(f->find("nested")->to_display(), "[[1, 2, 3], [\"x\", \"\", \"zz\"]]");
}

TEST(GgufWriter, SettingAKeyTwiceReplacesItInPlace) {
    Writer w;
    w.set_u32("a", 1);
    w.set_u32("b", 2);
    w.set_string("a", "again");
    w.remove("b");
    std::vector<uint8_t> bytes = w.to_bytes();
    Result<File> f = reparse(bytes);
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_EQ(f->metadata().size(), 1u);
    EXPECT_EQ(*f->get_string("a"), "again");
}

TEST(GgufWriter, TensorsAreAlignedAndDataIsExact) {
    for (uint32_t alignment : {32u, 64u, 256u}) {
        Writer w(alignment);
        std::vector<float> a(33);
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.25f;
        std::vector<uint8_t> q8(34 * 2, 0);  // two Q8_0 blocks
        for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 7);
        w.add_tensor("a", TensorType::F32, {11, 3}, {reinterpret_cast<uint8_t*>(a.data()), a.size() * 4});
        w.add_tensor("q", TensorType::Q8_0, {64}, q8);
        w.add_tensor_fill("filled", TensorType::F16, {5}, [](uint8_t* dst, uint64_t n) {
            for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(0xA0 + i);
        });
        std::vector<uint8_t> bytes = w.to_bytes();
        Result<File> f = reparse(bytes);
        ASSERT_TRUE(f.ok()) << f.message();
        EXPECT_EQ(f->alignment(), alignment);
        EXPECT_EQ(f->data_offset() % alignment, 0u);
        ASSERT_EQ(f->tensors().size(), 3u);
        const TensorInfo* ta = f->find_tensor("a");
        ASSERT_NE(ta, nullptr);
        EXPECT_EQ(ta->shape, (std::vector<uint64_t>{11, 3}));
        EXPECT_EQ(ta->n_elements, 33u);
        EXPECT_EQ(ta->n_rows(), 3u);
        EXPECT_EQ(ta->n_bytes, 132u);
        EXPECT_EQ(std::memcmp(ta->data, a.data(), 132), 0);
        const TensorInfo* tq = f->find_tensor("q");
        EXPECT_EQ(tq->type, TensorType::Q8_0);
        EXPECT_EQ(tq->n_bytes, 68u);
        EXPECT_EQ(tq->offset % alignment, 0u);
        EXPECT_EQ(std::memcmp(tq->data, q8.data(), 68), 0);
        const TensorInfo* tf = f->find_tensor("filled");
        EXPECT_EQ(tf->n_bytes, 10u);
        EXPECT_EQ(tf->data[9], 0xA9);
        EXPECT_EQ(f->tensor_bytes(), 132u + 68u + 10u);
    }
}

TEST(GgufWriter, WriteIsAtomicAndReadableThroughMmap) {
    std::string dir = std::filesystem::temp_directory_path() / ("sinan-gguf-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = dir + "/m.gguf";
    Writer w;
    w.set_string("general.architecture", "llama");
    std::vector<float> x(256, 1.0f);
    w.add_tensor("x", TensorType::F32, {256}, {reinterpret_cast<uint8_t*>(x.data()), 1024});
    uint64_t last_done = 0, last_total = 0;
    Status s = w.write(path, [&](uint64_t done, uint64_t total) {
        last_done = done;
        last_total = total;
    });
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(last_done, last_total);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    Result<File> f = File::open(path);
    ASSERT_TRUE(f.ok()) << f.message();
    EXPECT_EQ(f->architecture(), "llama");
    EXPECT_EQ(f->file_size(), std::filesystem::file_size(path));
    float v;
    std::memcpy(&v, f->find_tensor("x")->data + 1020, 4);
    EXPECT_EQ(v, 1.0f);
    // A File moved elsewhere keeps its views valid.
    File moved = std::move(f).value();
    EXPECT_EQ(moved.architecture(), "llama");
    std::filesystem::remove_all(dir);
}

TEST(GgufWriter, WriteToUnwritablePlaceIsAnError) {
    Writer w;
    Status s = w.write("/nonexistent-dir/x.gguf");
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("/nonexistent-dir/x.gguf"), std::string::npos);
}

}  // namespace
}  // namespace sinan::gguf
