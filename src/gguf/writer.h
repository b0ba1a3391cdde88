// gguf::Writer: builds a GGUF v3 file (metadata, then tensor infos, then aligned tensor data).
// Used by tests, `sinan model synth` and `sinan quantize`.
//
// Metadata keeps insertion order; setting a key again replaces its value in place. Tensor data
// is either copied in (add_tensor) or produced at write time by a callback (add_tensor_fill),
// so multi-gigabyte models are written without holding them in memory.
// write() goes to "<path>.tmp", flushes it to disk, then renames it over `path`: a crash never
// leaves a half-written file under the real name.
// Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace sinan::gguf {

class Writer {
public:
    // Fills `dst` (exactly the tensor's n_bytes) with the tensor's data.
    using FillFn = std::function<void(uint8_t* dst, uint64_t n_bytes)>;

    explicit Writer(uint32_t alignment = 32);

    void set_u8(std::string_view key, uint8_t v);
    void set_i8(std::string_view key, int8_t v);
    void set_u16(std::string_view key, uint16_t v);
    void set_i16(std::string_view key, int16_t v);
    void set_u32(std::string_view key, uint32_t v);
    void set_i32(std::string_view key, int32_t v);
    void set_u64(std::string_view key, uint64_t v);
    void set_i64(std::string_view key, int64_t v);
    void set_f32(std::string_view key, float v);
    void set_f64(std::string_view key, double v);
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);
    void set_strings(std::string_view key, const std::vector<std::string>& v);
    void set_i32s(std::string_view key, const std::vector<int32_t>& v);
    void set_u32s(std::string_view key, const std::vector<uint32_t>& v);
    void set_f32s(std::string_view key, const std::vector<float>& v);
    // Copies a value read from another file (any type, nested arrays included).
    void set_value(std::string_view key, const Value& v);
    void remove(std::string_view key);

    // shape in GGML order (shape[0] contiguous); shape[0] must be a multiple of the type's block
    // size and data.size() must equal the tensor's byte size (checked: programmer errors).
    void add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> shape,
                    std::span<const uint8_t> data);
    void add_tensor_fill(std::string_view name, TensorType type, std::vector<uint64_t> shape, FillFn fill);

    // Writes the file atomically (see above). `progress(done_bytes, total_bytes)` is called as
    // tensor data is written, when given.
    Status write(const std::string& path,
                 const std::function<void(uint64_t, uint64_t)>& progress = nullptr) const;

    // Serializes everything into memory (tests, fuzz seeds).
    std::vector<uint8_t> to_bytes() const;

private:
    struct Entry {
        std::string key;
        std::vector<uint8_t> encoded;  // type id + payload, as in the file
    };
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<uint64_t> shape;
        uint64_t n_bytes;
        std::vector<uint8_t> data;  // when copied in
        FillFn fill;                // otherwise
    };
    void put(std::string_view key, std::vector<uint8_t> encoded);
    void add(Tensor t);
    std::vector<uint8_t> header_bytes(uint64_t* data_size) const;

    uint32_t alignment_;
    std::vector<Entry> kv_;
    std::vector<Tensor> tensors_;
};

}  // namespace sinan::gguf
