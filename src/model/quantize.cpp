#include "model/quantize.h"

#include <memory>

#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "kernels/kernels.h"

namespace sinan::model {

namespace {

using gguf::TensorType;

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// What the mix's choices depend on, from the file's metadata.
MixModel mix_model(const gguf::File& file) {
    MixModel m;
    m.arch = std::string(file.architecture());
    const std::string a = m.arch + ".";
    m.n_layer = static_cast<uint32_t>(file.get_uint(a + "block_count").value_or(0));
    m.n_head = static_cast<uint32_t>(file.get_uint(a + "attention.head_count").value_or(0));
    m.n_head_kv = static_cast<uint32_t>(file.get_uint(a + "attention.head_count_kv").value_or(m.n_head));
    m.n_expert = static_cast<uint32_t>(file.get_uint(a + "expert_count").value_or(0));
    m.has_output = file.find_tensor("output.weight") != nullptr;
    return m;
}

}  // namespace

Result<QuantizeReport> quantize_model(const std::string& in_path, const std::string& out_path,
                                      const QuantizeOptions& options,
                                      const std::function<void(uint64_t, uint64_t)>& progress) {
    if (!kernels::is_convertible(options.type.base))
        return Status::error("cannot quantize to " + type_mix_name(options.type));
    Result<gguf::File> opened = gguf::File::open(in_path);
    if (!opened.ok()) return opened.status();
    auto in = std::make_shared<gguf::File>(std::move(opened).value());
    const MixModel model = mix_model(*in);

    QuantizeReport report;
    gguf::Writer w(in->alignment());
    for (const gguf::KeyValue& kv : in->metadata())
        if (kv.key != "general.alignment") w.set_value(kv.key, kv.value);
    w.set_u32("general.file_type", mix_file_type(options.type));
    w.set_u32("general.quantization_version", 2);

    auto pool = std::make_shared<ThreadPool>(options.n_threads);
    for (const gguf::TensorInfo& t : in->tensors()) {
        report.bytes_in += t.n_bytes;
        const TensorType dst_type =
            is_quantized_matrix(t.name, t.shape.size()) ? matrix_type(options.type, model, t.name, t.shape[0]) : t.type;
        if (dst_type == t.type) {
            w.add_tensor(t.name, t.type, t.shape, {t.data, t.n_bytes});
            report.bytes_out += t.n_bytes;
            continue;
        }
        if (!is_float_type(t.type))
            return Status::error(in_path + ": tensor '" + std::string(t.name) + "' is already " + gguf::type_name(t.type) +
                                 "; quantize from an F32, F16 or BF16 file");
        if (!kernels::is_convertible(dst_type))
            return Status::error("cannot quantize tensor '" + std::string(t.name) + "' to " +
                                 gguf::type_name(dst_type));
        if (t.shape[0] % gguf::type_traits(dst_type).block_size != 0) {
            report.kept.emplace_back(t.name);
            w.add_tensor(t.name, t.type, t.shape, {t.data, t.n_bytes});
            report.bytes_out += t.n_bytes;
            continue;
        }
        const int64_t row = static_cast<int64_t>(t.shape[0]);
        const int64_t n_rows = static_cast<int64_t>(t.n_rows());
        const uint64_t in_row_bytes = gguf::row_bytes(t.type, static_cast<uint64_t>(row));
        const uint64_t out_row_bytes = gguf::row_bytes(dst_type, static_cast<uint64_t>(row));
        const TensorType src_type = t.type;
        const uint8_t* src = t.data;
        report.bytes_out += out_row_bytes * static_cast<uint64_t>(n_rows);
        ++report.n_quantized;
        ++report.n_of_type[dst_type];
        // `in` is captured so the source mapping outlives the writer's deferred fill.
        w.add_tensor_fill(t.name, dst_type, t.shape, [=](uint8_t* dst, uint64_t) {
            pool->parallel_for(n_rows, [&](int64_t r0, int64_t r1, int) {
                std::vector<float> values(static_cast<size_t>(row));
                for (int64_t r = r0; r < r1; ++r) {
                    kernels::dequantize_row(src_type, src + static_cast<uint64_t>(r) * in_row_bytes, values.data(), row);
                    kernels::quantize_row(dst_type, values.data(), dst + static_cast<uint64_t>(r) * out_row_bytes, row);
                }
            });
            (void)in;
        });
    }
    SINAN_RETURN_IF_ERROR(w.write(out_path, progress));
    return report;
}

}  // namespace sinan::model
