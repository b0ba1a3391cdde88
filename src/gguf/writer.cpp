#include "gguf/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/check.h"

namespace sinan::gguf {

namespace {

// resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) on small inserts.
void append_bytes(std::vector<uint8_t>* out, const void* p, size_t n) {
    if (n == 0) return;
    size_t at = out->size();
    out->resize(at + n);
    std::memcpy(out->data() + at, p, n);
}

template <typename T>
void append(std::vector<uint8_t>* out, T v) {
    append_bytes(out, &v, sizeof(T));
}

void append_string(std::vector<uint8_t>* out, std::string_view s) {
    append<uint64_t>(out, s.size());
    append_bytes(out, s.data(), s.size());
}

template <typename T>
std::vector<uint8_t> scalar(ValueType type, T v) {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, static_cast<uint32_t>(type));
    append<T>(&out, v);
    return out;
}

template <typename T>
std::vector<uint8_t> numeric_array(ValueType elem, const std::vector<T>& v) {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, static_cast<uint32_t>(ValueType::ARRAY));
    append<uint32_t>(&out, static_cast<uint32_t>(elem));
    append<uint64_t>(&out, v.size());
    append_bytes(&out, v.data(), v.size() * sizeof(T));
    return out;
}

// Appends a value's payload (without its type id) as the file stores it.
void append_payload(std::vector<uint8_t>* out, const Value& v) {
    switch (v.type) {
        case ValueType::UINT8: append<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
        case ValueType::INT8: append<int8_t>(out, static_cast<int8_t>(v.i)); break;
        case ValueType::UINT16: append<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
        case ValueType::INT16: append<int16_t>(out, static_cast<int16_t>(v.i)); break;
        case ValueType::UINT32: append<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
        case ValueType::INT32: append<int32_t>(out, static_cast<int32_t>(v.i)); break;
        case ValueType::UINT64: append<uint64_t>(out, v.u); break;
        case ValueType::INT64: append<int64_t>(out, v.i); break;
        case ValueType::FLOAT32: append<float>(out, static_cast<float>(v.f)); break;
        case ValueType::FLOAT64: append<double>(out, v.f); break;
        case ValueType::BOOL: append<uint8_t>(out, v.u ? 1 : 0); break;
        case ValueType::STRING: append_string(out, v.s); break;
        case ValueType::ARRAY: {
            const Array& a = *v.arr;
            append<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
            append<uint64_t>(out, a.n);
            if (a.elem_type == ValueType::STRING) {
                for (std::string_view s : a.strings) append_string(out, s);
            } else if (a.elem_type == ValueType::ARRAY) {
                for (const Value& e : a.arrays) append_payload(out, e);
            } else {
                append_bytes(out, a.raw, a.n * value_type_size(a.elem_type));
            }
            break;
        }
    }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

Writer::Writer(uint32_t alignment) : alignment_(alignment) {
    SINAN_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0, "alignment must be a power of two");
    if (alignment != 32) set_u32("general.alignment", alignment);
}

void Writer::put(std::string_view key, std::vector<uint8_t> encoded) {
    for (Entry& e : kv_) {
        if (e.key == key) {
            e.encoded = std::move(encoded);
            return;
        }
    }
    kv_.push_back({std::string(key), std::move(encoded)});
}

void Writer::set_u8(std::string_view k, uint8_t v) { put(k, scalar(ValueType::UINT8, v)); }
void Writer::set_i8(std::string_view k, int8_t v) { put(k, scalar(ValueType::INT8, v)); }
void Writer::set_u16(std::string_view k, uint16_t v) { put(k, scalar(ValueType::UINT16, v)); }
void Writer::set_i16(std::string_view k, int16_t v) { put(k, scalar(ValueType::INT16, v)); }
void Writer::set_u32(std::string_view k, uint32_t v) { put(k, scalar(ValueType::UINT32, v)); }
void Writer::set_i32(std::string_view k, int32_t v) { put(k, scalar(ValueType::INT32, v)); }
void Writer::set_u64(std::string_view k, uint64_t v) { put(k, scalar(ValueType::UINT64, v)); }
void Writer::set_i64(std::string_view k, int64_t v) { put(k, scalar(ValueType::INT64, v)); }
void Writer::set_f32(std::string_view k, float v) { put(k, scalar(ValueType::FLOAT32, v)); }
void Writer::set_f64(std::string_view k, double v) { put(k, scalar(ValueType::FLOAT64, v)); }
void Writer::set_bool(std::string_view k, bool v) { put(k, scalar<uint8_t>(ValueType::BOOL, v ? 1 : 0)); }

void Writer::set_string(std::string_view k, std::string_view v) {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, static_cast<uint32_t>(ValueType::STRING));
    append_string(&out, v);
    put(k, std::move(out));
}

void Writer::set_strings(std::string_view k, const std::vector<std::string>& v) {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, static_cast<uint32_t>(ValueType::ARRAY));
    append<uint32_t>(&out, static_cast<uint32_t>(ValueType::STRING));
    append<uint64_t>(&out, v.size());
    for (const std::string& s : v) append_string(&out, s);
    put(k, std::move(out));
}

void Writer::set_i32s(std::string_view k, const std::vector<int32_t>& v) { put(k, numeric_array(ValueType::INT32, v)); }
void Writer::set_u32s(std::string_view k, const std::vector<uint32_t>& v) { put(k, numeric_array(ValueType::UINT32, v)); }
void Writer::set_f32s(std::string_view k, const std::vector<float>& v) { put(k, numeric_array(ValueType::FLOAT32, v)); }

void Writer::set_value(std::string_view k, const Value& v) {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, static_cast<uint32_t>(v.type));
    append_payload(&out, v);
    put(k, std::move(out));
}

void Writer::remove(std::string_view k) {
    std::erase_if(kv_, [&](const Entry& e) { return e.key == k; });
}

void Writer::add(Tensor t) {
    const TypeTraits& tr = type_traits(t.type);
    SINAN_CHECK(!t.shape.empty() && t.shape.size() <= 4, "tensor '" + t.name + "': 1 to 4 dimensions");
    SINAN_CHECK(t.shape[0] % tr.block_size == 0, "tensor '" + t.name + "': row length not a multiple of the block size");
    uint64_t n = 1;
    for (uint64_t d : t.shape) n *= d;
    t.n_bytes = n / tr.block_size * tr.type_size;
    for (const Tensor& o : tensors_) SINAN_CHECK(o.name != t.name, "duplicate tensor '" + t.name + "'");
    tensors_.push_back(std::move(t));
}

void Writer::add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> shape,
                        std::span<const uint8_t> data) {
    Tensor t{std::string(name), type, std::move(shape), 0, std::vector<uint8_t>(data.begin(), data.end()), nullptr};
    add(std::move(t));
    SINAN_CHECK(tensors_.back().n_bytes == data.size(), "tensor '" + std::string(name) + "': data size does not match shape and type");
}

void Writer::add_tensor_fill(std::string_view name, TensorType type, std::vector<uint64_t> shape, FillFn fill) {
    add(Tensor{std::string(name), type, std::move(shape), 0, {}, std::move(fill)});
}

std::vector<uint8_t> Writer::header_bytes(uint64_t* data_size) const {
    std::vector<uint8_t> out;
    append<uint32_t>(&out, 0x46554747u);  // "GGUF" little-endian
    append<uint32_t>(&out, 3);
    append<uint64_t>(&out, tensors_.size());
    append<uint64_t>(&out, kv_.size());
    for (const Entry& e : kv_) {
        append_string(&out, e.key);
        append_bytes(&out, e.encoded.data(), e.encoded.size());
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        append_string(&out, t.name);
        append<uint32_t>(&out, static_cast<uint32_t>(t.shape.size()));
        for (uint64_t d : t.shape) append<uint64_t>(&out, d);
        append<uint32_t>(&out, static_cast<uint32_t>(t.type));
        append<uint64_t>(&out, offset);
        offset = align_up(offset + t.n_bytes, alignment_);
    }
    out.resize(align_up(out.size(), alignment_), 0);
    *data_size = offset;
    return out;
}

std::vector<uint8_t> Writer::to_bytes() const {
    uint64_t data_size = 0;
    std::vector<uint8_t> out = header_bytes(&data_size);
    for (const Tensor& t : tensors_) {
        size_t at = out.size();
        out.resize(at + t.n_bytes);
        if (t.fill) t.fill(out.data() + at, t.n_bytes);
        else std::memcpy(out.data() + at, t.data.data(), t.n_bytes);
        out.resize(align_up(out.size(), alignment_), 0);
    }
    return out;
}

Status Writer::write(const std::string& path, const std::function<void(uint64_t, uint64_t)>& progress) const {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return Status::error(path + ": cannot create: " + std::strerror(errno));
    auto fail = [&](const char* what) {
        Status s = Status::error(path + ": " + what + ": " + std::strerror(errno));
        std::fclose(f);
        std::remove(tmp.c_str());
        return s;
    };
    uint64_t data_size = 0;
    const std::vector<uint8_t> header = header_bytes(&data_size);
    if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) return fail("write failed");
    std::vector<uint8_t> buf;
    uint64_t done = 0;
    static const uint8_t kZeros[4096] = {};
    for (const Tensor& t : tensors_) {
        const uint8_t* src = t.data.data();
        if (t.fill) {
            buf.resize(t.n_bytes);
            t.fill(buf.data(), t.n_bytes);
            src = buf.data();
        }
        if (std::fwrite(src, 1, t.n_bytes, f) != t.n_bytes) return fail("write failed");
        uint64_t pad = align_up(t.n_bytes, alignment_) - t.n_bytes;
        if (pad > 0 && std::fwrite(kZeros, 1, pad, f) != pad) return fail("write failed");
        done += t.n_bytes + pad;
        if (progress) progress(done, data_size);
    }
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) return fail("flush failed");
    if (std::fclose(f) != 0) {
        std::remove(tmp.c_str());
        return Status::error(path + ": close failed: " + std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = Status::error(path + ": cannot rename the finished file into place: " + std::strerror(errno));
        std::remove(tmp.c_str());
        return s;
    }
    return Status::ok();
}

}  // namespace sinan::gguf
