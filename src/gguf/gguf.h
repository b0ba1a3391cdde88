// GGUF model files: reading (gguf::File) and writing (gguf::Writer, in writer.h).
//
// A File maps the whole file read-only and parses the header, the metadata key/values and the
// tensor infos. Strings and tensor data are views into the mapping: they live as long as the
// File (moving a File keeps them valid). Nothing is copied, so opening a 20 GB model costs the
// parse of its header only.
//
// Every count, length, offset and size read from the file is checked against the file size
// with overflow-safe arithmetic before use (malformed files are a security boundary). A bad
// file gives a Status whose message names the file, what is wrong and where (byte offset).
// Supported: GGUF v2 and v3, little-endian; tensor types that TypeTraits::supported marks.
// The format is described in docs/formats/gguf.md.
//
// Thread-safety: a File is immutable after open; read it from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "gguf/tensor_type.h"

namespace sinan::gguf {

// GGUF metadata value types (ids as stored in the file).
enum class ValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

const char* value_type_name(ValueType t);  // "uint32", "string", "array" ...
// Bytes of one element of a fixed-size type; 0 for STRING and ARRAY.
uint32_t value_type_size(ValueType t);

struct Value;

// An array value. Elements of fixed-size types stay in the file (read with the typed getters);
// strings are views; nested arrays are parsed recursively (depth is limited).
struct Array {
    ValueType elem_type = ValueType::UINT8;
    uint64_t n = 0;
    const uint8_t* raw = nullptr;           // fixed-size elements: n * value_type_size(elem_type) bytes
    std::vector<std::string_view> strings;  // elem_type == STRING
    std::vector<Value> arrays;              // elem_type == ARRAY

    uint64_t size() const { return n; }
    // Element i as a number, converting from any numeric or bool element type; requires i < n.
    double get_f64(uint64_t i) const;
    int64_t get_i64(uint64_t i) const;
    float get_f32(uint64_t i) const { return static_cast<float>(get_f64(i)); }
    int32_t get_i32(uint64_t i) const { return static_cast<int32_t>(get_i64(i)); }
    bool is_numeric() const;
};

struct Value {
    ValueType type = ValueType::UINT8;
    uint64_t u = 0;   // UINT*, BOOL
    int64_t i = 0;    // INT*
    double f = 0;     // FLOAT*
    std::string_view s;                 // STRING
    std::shared_ptr<const Array> arr;   // ARRAY

    bool is_integer() const;
    bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
    // The value as text for people: numbers, "string", [a, b, ... (n items)].
    std::string to_display(size_t max_items = 8) const;
};

struct KeyValue {
    std::string_view key;
    Value value;
};

struct TensorInfo {
    std::string_view name;
    TensorType type = TensorType::F32;
    std::vector<uint64_t> shape;  // GGML order: shape[0] is the contiguous (row) dimension
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    uint64_t offset = 0;          // from the start of the data section (aligned)
    const uint8_t* data = nullptr;  // into the mapping; n_bytes long

    uint64_t n_rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
};

class File {
public:
    // Maps and parses `path`. Errors: "<path>: <what> at byte <offset>" and what to do next.
    static Result<File> open(const std::string& path);
    // Parses a buffer the caller keeps alive for the File's lifetime (fuzzing, tests).
    // `name` stands for the path in error messages.
    static Result<File> parse(const uint8_t* data, uint64_t size, const std::string& name);

    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section
    // Whether the data is a read-only map of the file (open), not a caller's buffer (parse).
    bool is_mapped() const { return map_.data() != nullptr; }
    // The start of that map (file_size() bytes; null when parsed from a caller's buffer).
    const uint8_t* mapped_data() const { return map_.data(); }

    const std::vector<KeyValue>& metadata() const { return kv_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }

    const Value* find(std::string_view key) const;
    const TensorInfo* find_tensor(std::string_view name) const;

    // Typed lookups: nullopt when the key is absent or of another kind. get_uint accepts any
    // non-negative integer type, get_int any integer, get_float any float or integer.
    std::optional<std::string_view> get_string(std::string_view key) const;
    std::optional<uint64_t> get_uint(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    const Array* get_array(std::string_view key) const;

    // `general.architecture`, or "" when absent.
    std::string_view architecture() const;
    // Sum of all tensors' bytes.
    uint64_t tensor_bytes() const;

private:
    File() = default;
    friend class Parser;

    MappedFile map_;  // empty when parsed from a caller's buffer
    std::string path_;
    uint64_t size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kv_;
    std::vector<TensorInfo> tensors_;
};

}  // namespace sinan::gguf
