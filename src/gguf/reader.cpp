// GGUF reader. Layout (docs/formats/gguf.md):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv | kv[n_kv] | tensor_info[n_tensors]
//   | padding to alignment | tensor data
// Every read goes through Parser, which checks bounds before touching a byte.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "base/checked_math.h"
#include "gguf/gguf.h"

namespace sinan::gguf {

namespace {

constexpr uint32_t kMaxArrayDepth = 8;       // nested arrays deeper than this are refused
constexpr uint64_t kMaxKeyBytes = 65535;     // the spec's limit on key length
constexpr uint32_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr uint32_t kMaxAlignment = 1u << 20;

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

}  // namespace

// Reads the file front to back; every accessor fails cleanly at the end of the buffer.
class Parser {
public:
    Parser(const uint8_t* data, uint64_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

    Status parse(File* f) {
        f->path_ = name_;
        f->size_ = size_;
        uint8_t magic[4];
        if (size_ < 4) return error("file is too small to be GGUF (" + std::to_string(size_) + " bytes)", 0);
        std::memcpy(magic, data_, 4);
        if (std::memcmp(magic, "GGUF", 4) != 0)
            return error("not a GGUF file (magic is not \"GGUF\"); is this a model file in another format?", 0);
        pos_ = 4;
        uint32_t version = 0;
        SINAN_RETURN_IF_ERROR(read(&version, "version"));
        if (version == 0x02000000 || version == 0x03000000)
            return error("big-endian GGUF is not supported; convert the model on a little-endian machine", 4);
        if (version == 1) return error("GGUF version 1 is obsolete; re-convert the model with a current tool", 4);
        if (version != 2 && version != 3)
            return error("unsupported GGUF version " + std::to_string(version) + " (sinan reads versions 2 and 3)", 4);
        f->version_ = version;

        uint64_t n_tensors = 0, n_kv = 0;
        SINAN_RETURN_IF_ERROR(read(&n_tensors, "tensor count"));
        SINAN_RETURN_IF_ERROR(read(&n_kv, "metadata count"));
        // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes, each tensor info
        // at least 8 + 4 + 8 + 4 + 8: counts larger than the file allows are refused up front.
        if (n_kv > remaining() / 13)
            return error("metadata count " + std::to_string(n_kv) + " is larger than the file can hold", 16);
        if (n_tensors > remaining() / 32)
            return error("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold", 8);

        f->kv_.reserve(n_kv);
        std::unordered_set<std::string_view> keys;
        for (uint64_t i = 0; i < n_kv; ++i) {
            uint64_t at = pos_;
            KeyValue kv;
            SINAN_RETURN_IF_ERROR(read_string(&kv.key, "metadata key", kMaxKeyBytes));
            if (kv.key.empty()) return error("empty metadata key", at);
            if (!keys.insert(kv.key).second) return error("duplicate metadata key '" + std::string(kv.key) + "'", at);
            uint32_t type = 0;
            SINAN_RETURN_IF_ERROR(read(&type, "metadata value type"));
            SINAN_RETURN_IF_ERROR(read_value(type, &kv.value, 0, kv.key));
            f->kv_.push_back(std::move(kv));
        }

        if (const Value* a = f->find("general.alignment")) {
            if (a->type != ValueType::UINT32 || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > kMaxAlignment)
                return error("general.alignment must be a uint32 power of two up to " + std::to_string(kMaxAlignment), 0);
            f->alignment_ = static_cast<uint32_t>(a->u);
        }

        f->tensors_.reserve(n_tensors);
        std::unordered_set<std::string_view> names;
        for (uint64_t i = 0; i < n_tensors; ++i) {
            uint64_t at = pos_;
            TensorInfo t;
            SINAN_RETURN_IF_ERROR(read_tensor_info(&t));
            if (!names.insert(t.name).second) return error("duplicate tensor name '" + std::string(t.name) + "'", at);
            f->tensors_.push_back(std::move(t));
        }

        uint64_t data_offset = 0;
        if (!checked_align_up(pos_, f->alignment_, &data_offset) || (data_offset > size_ && n_tensors > 0))
            return error("tensor data section starts past the end of the file (truncated?)", pos_);
        f->data_offset_ = data_offset;
        const uint64_t data_size = data_offset <= size_ ? size_ - data_offset : 0;
        for (TensorInfo& t : f->tensors_) {
            uint64_t end = 0;
            if (t.offset % f->alignment_ != 0)
                return error("tensor '" + std::string(t.name) + "' data offset " + std::to_string(t.offset) +
                                 " is not a multiple of the alignment " + std::to_string(f->alignment_),
                             data_offset);
            if (!checked_add(t.offset, t.n_bytes, &end) || end > data_size)
                return error("tensor '" + std::string(t.name) + "' data (" + std::to_string(t.n_bytes) +
                                 " bytes at data offset " + std::to_string(t.offset) +
                                 ") runs past the end of the file: the file is truncated or corrupt",
                             data_offset);
            t.data = data_ + data_offset + t.offset;
        }
        return Status::ok();
    }

private:
    Status error(const std::string& what, uint64_t at) const {
        return Status::error(name_ + ": " + what + " (at byte " + std::to_string(at) + ")");
    }
    uint64_t remaining() const { return size_ - pos_; }

    template <typename T>
    Status read(T* out, const char* what) {
        if (remaining() < sizeof(T))
            return error(std::string("file ends inside the ") + what + ": truncated or not GGUF", pos_);
        *out = load<T>(data_ + pos_);
        pos_ += sizeof(T);
        return Status::ok();
    }

    Status read_string(std::string_view* out, const char* what, uint64_t max_len) {
        uint64_t at = pos_;
        uint64_t len = 0;
        SINAN_RETURN_IF_ERROR(read(&len, what));
        if (len > remaining())
            return error(std::string(what) + " length " + std::to_string(len) + " runs past the end of the file", at);
        if (len > max_len)
            return error(std::string(what) + " length " + std::to_string(len) + " exceeds the limit of " +
                             std::to_string(max_len),
                         at);
        *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
        pos_ += len;
        return Status::ok();
    }

    Status read_value(uint32_t raw_type, Value* v, uint32_t depth, std::string_view key) {
        const uint64_t at = pos_;
        if (raw_type > static_cast<uint32_t>(ValueType::FLOAT64))
            return error("metadata '" + std::string(key) + "' has unknown value type " + std::to_string(raw_type), at);
        v->type = static_cast<ValueType>(raw_type);
        switch (v->type) {
            case ValueType::UINT8: { uint8_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->u = x; break; }
            case ValueType::INT8: { int8_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->i = x; break; }
            case ValueType::UINT16: { uint16_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->u = x; break; }
            case ValueType::INT16: { int16_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->i = x; break; }
            case ValueType::UINT32: { uint32_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->u = x; break; }
            case ValueType::INT32: { int32_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->i = x; break; }
            case ValueType::UINT64: { uint64_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->u = x; break; }
            case ValueType::INT64: { int64_t x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->i = x; break; }
            case ValueType::FLOAT32: { float x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->f = x; break; }
            case ValueType::FLOAT64: { double x = 0; SINAN_RETURN_IF_ERROR(read(&x, "value")); v->f = x; break; }
            case ValueType::BOOL: {
                uint8_t x;
                SINAN_RETURN_IF_ERROR(read(&x, "value"));
                if (x > 1) return error("metadata '" + std::string(key) + "' is a bool with value " + std::to_string(x), at);
                v->u = x;
                break;
            }
            case ValueType::STRING:
                SINAN_RETURN_IF_ERROR(read_string(&v->s, "string value", std::numeric_limits<uint64_t>::max()));
                break;
            case ValueType::ARRAY: {
                if (depth >= kMaxArrayDepth)
                    return error("metadata '" + std::string(key) + "' nests arrays deeper than " +
                                     std::to_string(kMaxArrayDepth),
                                 at);
                auto arr = std::make_shared<Array>();
                uint32_t elem = 0;
                SINAN_RETURN_IF_ERROR(read(&elem, "array element type"));
                SINAN_RETURN_IF_ERROR(read(&arr->n, "array length"));
                if (elem > static_cast<uint32_t>(ValueType::FLOAT64))
                    return error("metadata '" + std::string(key) + "' is an array of unknown type " + std::to_string(elem), at);
                arr->elem_type = static_cast<ValueType>(elem);
                const uint32_t esize = value_type_size(arr->elem_type);
                if (esize > 0) {
                    uint64_t bytes = 0;
                    if (!checked_mul(arr->n, esize, &bytes) || bytes > remaining())
                        return error("metadata '" + std::string(key) + "' array of " + std::to_string(arr->n) +
                                         " elements runs past the end of the file",
                                     at);
                    if (arr->elem_type == ValueType::BOOL)
                        for (uint64_t i = 0; i < arr->n; ++i)
                            if (data_[pos_ + i] > 1)
                                return error("metadata '" + std::string(key) + "' bool array holds a value other than 0/1", pos_ + i);
                    arr->raw = data_ + pos_;
                    pos_ += bytes;
                } else if (arr->elem_type == ValueType::STRING) {
                    if (arr->n > remaining() / 8)
                        return error("metadata '" + std::string(key) + "' string array of " + std::to_string(arr->n) +
                                         " elements runs past the end of the file",
                                     at);
                    arr->strings.resize(arr->n);
                    for (uint64_t i = 0; i < arr->n; ++i)
                        SINAN_RETURN_IF_ERROR(read_string(&arr->strings[i], "string array element",
                                                          std::numeric_limits<uint64_t>::max()));
                } else {  // nested arrays: each needs at least 12 bytes
                    if (arr->n > remaining() / 12)
                        return error("metadata '" + std::string(key) + "' array of " + std::to_string(arr->n) +
                                         " arrays runs past the end of the file",
                                     at);
                    arr->arrays.resize(arr->n);
                    for (uint64_t i = 0; i < arr->n; ++i)
                        SINAN_RETURN_IF_ERROR(read_value(static_cast<uint32_t>(ValueType::ARRAY), &arr->arrays[i], depth + 1, key));
                }
                v->arr = std::move(arr);
                break;
            }
        }
        return Status::ok();
    }

    Status read_tensor_info(TensorInfo* t) {
        const uint64_t at = pos_;
        SINAN_RETURN_IF_ERROR(read_string(&t->name, "tensor name", kMaxKeyBytes));
        const std::string name(t->name);
        uint32_t n_dims = 0;
        SINAN_RETURN_IF_ERROR(read(&n_dims, "tensor dimension count"));
        if (n_dims == 0 || n_dims > kMaxDims)
            return error("tensor '" + name + "' has " + std::to_string(n_dims) + " dimensions (1 to " +
                             std::to_string(kMaxDims) + " allowed)",
                         at);
        t->shape.resize(n_dims);
        uint64_t n = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            SINAN_RETURN_IF_ERROR(read(&t->shape[d], "tensor dimension"));
            if (t->shape[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || !checked_mul(n, t->shape[d], &n))
                return error("tensor '" + name + "' dimensions overflow", at);
        }
        t->n_elements = n;
        uint32_t raw_type = 0;
        SINAN_RETURN_IF_ERROR(read(&raw_type, "tensor type"));
        const TypeTraits* tr = find_type_traits(raw_type);
        if (tr == nullptr)
            return error("tensor '" + name + "' has unknown type id " + std::to_string(raw_type), at);
        if (!tr->supported)
            return error("tensor '" + name + "' has type " + tr->name + ", which sinan does not support (supported: " +
                             supported_type_names() + "); re-quantize the model to one of them",
                         at);
        t->type = static_cast<TensorType>(raw_type);
        if (t->shape[0] % tr->block_size != 0)
            return error("tensor '" + name + "' row length " + std::to_string(t->shape[0]) +
                             " is not a multiple of the " + tr->name + " block size " + std::to_string(tr->block_size),
                         at);
        // n / block_size * type_size cannot overflow less than n * type_size would; check the latter.
        if (!checked_mul(n / tr->block_size, tr->type_size, &t->n_bytes))
            return error("tensor '" + name + "' byte size overflows", at);
        SINAN_RETURN_IF_ERROR(read(&t->offset, "tensor data offset"));
        return Status::ok();
    }

    const uint8_t* data_;
    uint64_t size_;
    const std::string& name_;
    uint64_t pos_ = 0;
};

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::UINT8: return "uint8";
        case ValueType::INT8: return "int8";
        case ValueType::UINT16: return "uint16";
        case ValueType::INT16: return "int16";
        case ValueType::UINT32: return "uint32";
        case ValueType::INT32: return "int32";
        case ValueType::FLOAT32: return "float32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "uint64";
        case ValueType::INT64: return "int64";
        case ValueType::FLOAT64: return "float64";
    }
    return "?";
}

uint32_t value_type_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        case ValueType::STRING: case ValueType::ARRAY: return 0;
    }
    return 0;
}

bool Array::is_numeric() const { return value_type_size(elem_type) > 0; }

double Array::get_f64(uint64_t i) const {
    SINAN_CHECK(i < n && raw != nullptr, "Array::get_f64 out of range or not numeric");
    const uint8_t* p = raw + i * value_type_size(elem_type);
    switch (elem_type) {
        case ValueType::FLOAT32: return load<float>(p);
        case ValueType::FLOAT64: return load<double>(p);
        default: return static_cast<double>(get_i64(i));
    }
}

int64_t Array::get_i64(uint64_t i) const {
    SINAN_CHECK(i < n && raw != nullptr, "Array::get_i64 out of range or not numeric");
    const uint8_t* p = raw + i * value_type_size(elem_type);
    switch (elem_type) {
        case ValueType::UINT8: case ValueType::BOOL: return load<uint8_t>(p);
        case ValueType::INT8: return load<int8_t>(p);
        case ValueType::UINT16: return load<uint16_t>(p);
        case ValueType::INT16: return load<int16_t>(p);
        case ValueType::UINT32: return load<uint32_t>(p);
        case ValueType::INT32: return load<int32_t>(p);
        case ValueType::UINT64: return static_cast<int64_t>(load<uint64_t>(p));
        case ValueType::INT64: return load<int64_t>(p);
        case ValueType::FLOAT32: return static_cast<int64_t>(load<float>(p));
        case ValueType::FLOAT64: return static_cast<int64_t>(load<double>(p));
        default: return 0;
    }
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
        case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
            return true;
        default: return false;
    }
}

namespace {
bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
// Shortest text that reads back as the same value of the stored width.
std::string number_text(double f, bool is_f32) {
    char buf[64];
    std::snprintf(buf, sizeof buf, is_f32 ? "%.7g" : "%.17g", f);
    if (!is_f32) {
        for (int prec = 1; prec <= 17; ++prec) {
            std::snprintf(buf, sizeof buf, "%.*g", prec, f);
            if (std::strtod(buf, nullptr) == f) break;
        }
    }
    return buf;
}
}  // namespace

std::string Value::to_display(size_t max_items) const {
    switch (type) {
        case ValueType::BOOL: return u ? "true" : "false";
        case ValueType::STRING: {
            std::string out = "\"";
            size_t limit = 200;
            for (size_t k = 0; k < s.size() && k < limit; ++k) {
                char c = s[k];
                if (c == '\n') out += "\\n";
                else if (c == '"') out += "\\\"";
                else out += c;
            }
            if (s.size() > limit) out += "...(" + std::to_string(s.size()) + " bytes)";
            return out + "\"";
        }
        case ValueType::ARRAY: {
            std::string out = "[";
            const Array& a = *arr;
            for (uint64_t k = 0; k < a.n && k < max_items; ++k) {
                if (k) out += ", ";
                if (a.elem_type == ValueType::STRING) {
                    Value e;
                    e.type = ValueType::STRING;
                    e.s = a.strings[k];
                    out += e.to_display();
                } else if (a.elem_type == ValueType::ARRAY) {
                    out += a.arrays[k].to_display(max_items);
                } else if (a.elem_type == ValueType::FLOAT32 || a.elem_type == ValueType::FLOAT64) {
                    out += number_text(a.get_f64(k), a.elem_type == ValueType::FLOAT32);
                } else if (a.elem_type == ValueType::UINT64) {
                    out += std::to_string(static_cast<uint64_t>(a.get_i64(k)));
                } else {
                    out += std::to_string(a.get_i64(k));
                }
            }
            if (a.n > max_items) out += ", ... (" + std::to_string(a.n) + " items)";
            return out + "]";
        }
        case ValueType::FLOAT32: case ValueType::FLOAT64: return number_text(f, type == ValueType::FLOAT32);
        default: return is_unsigned(type) ? std::to_string(u) : std::to_string(i);
    }
}

Result<File> File::open(const std::string& path) {
    Result<MappedFile> m = MappedFile::open(path);
    if (!m.ok()) return m.status();
    File f;
    f.map_ = std::move(m).value();
    Parser p(f.map_.data(), f.map_.size(), path);
    SINAN_RETURN_IF_ERROR(p.parse(&f));
    return f;
}

Result<File> File::parse(const uint8_t* data, uint64_t size, const std::string& name) {
    File f;
    Parser p(data, size, name);
    SINAN_RETURN_IF_ERROR(p.parse(&f));
    return f;
}

const Value* File::find(std::string_view key) const {
    for (const KeyValue& kv : kv_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

std::optional<std::string_view> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || v->type != ValueType::STRING) return std::nullopt;
    return v->s;
}

std::optional<uint64_t> File::get_uint(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || !v->is_integer()) return std::nullopt;
    if (is_unsigned(v->type)) return v->u;
    if (v->i < 0) return std::nullopt;
    return static_cast<uint64_t>(v->i);
}

std::optional<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || !v->is_integer()) return std::nullopt;
    if (is_unsigned(v->type)) {
        if (v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
        return static_cast<int64_t>(v->u);
    }
    return v->i;
}

std::optional<double> File::get_float(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_float()) return v->f;
    if (v->is_integer()) return is_unsigned(v->type) ? static_cast<double>(v->u) : static_cast<double>(v->i);
    return std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || v->type != ValueType::BOOL) return std::nullopt;
    return v->u != 0;
}

const Array* File::get_array(std::string_view key) const {
    const Value* v = find(key);
    if (v == nullptr || v->type != ValueType::ARRAY) return nullptr;
    return v->arr.get();
}

std::string_view File::architecture() const { return get_string("general.architecture").value_or(""); }

uint64_t File::tensor_bytes() const {
    uint64_t total = 0;
    for (const TensorInfo& t : tensors_) total += t.n_bytes;
    return total;
}

}  // namespace sinan::gguf
