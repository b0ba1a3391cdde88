// Test helper: a copy of an F32 model file with one tensor's values set to NaN, as a corrupt file
// or an overflow gives them, for the tests of what a broken model's numbers do downstream.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace sinan::engine {

// Copies `model` into the temp directory (a name of its own for this process) and sets every value
// of `tensor` (F32) to NaN. Fails the test and returns "" when it cannot.
inline std::filesystem::path copy_with_nan_tensor(const std::filesystem::path& model, const std::string& tensor) {
    namespace fs = std::filesystem;
    const fs::path out =
        fs::temp_directory_path() / ("sinan_nan_" + std::to_string(::getpid()) + "_" + model.filename().string());
    fs::copy_file(model, out, fs::copy_options::overwrite_existing);
    Result<gguf::File> file = gguf::File::open(out.string());
    EXPECT_TRUE(file.ok()) << file.message();
    const gguf::TensorInfo* t = file.ok() ? file->find_tensor(tensor) : nullptr;
    EXPECT_NE(t, nullptr) << tensor;
    if (t == nullptr) return "";
    EXPECT_EQ(t->type, gguf::TensorType::F32) << tensor;
    std::fstream f(out, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(file->data_offset() + t->offset));
    const std::vector<float> nan(t->n_elements, std::numeric_limits<float>::quiet_NaN());
    f.write(reinterpret_cast<const char*>(nan.data()), static_cast<std::streamsize>(t->n_bytes));
    return out;
}

}  // namespace sinan::engine
