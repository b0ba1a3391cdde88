// `sinan quantize IN.gguf OUT.gguf TYPE`: convert a model's weight matrices to a smaller type.
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "kernels/kernels.h"
#include "model/quantize.h"

namespace sinan::cli {

namespace {

struct QuantizeArgs {
    std::string in, out, type;
    int threads = 0;
};

void run_quantize(const QuantizeArgs& a) {
    std::optional<model::TypeMix> type = model::type_mix_from_name(a.type);
    if (!type || !kernels::is_convertible(type->base))
        fail("unknown type '" + a.type +
             "' (use q8_0, q4_k_m, q5_k_m, q4_k_s, q5_k_s, q6_k, q4_k, q5_k, q4_0, q4_1, q5_0, q5_1, q3_k, q2_k, f16 "
             "or bf16)");
    if (a.in == a.out) fail("the output must be a different file from the input");
    model::QuantizeOptions o;
    o.type = *type;
    o.n_threads = a.threads;
    ProgressBar bar("quantizing to " + a.out);
    Result<model::QuantizeReport> r =
        model::quantize_model(a.in, a.out, o, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
    if (!r.ok()) fail(r.message());
    std::string types;  // "140 Q4_K, 29 Q6_K" for a mix
    if (o.type.mix != model::Mix::kPure)
        for (const auto& [t, n] : r->n_of_type)
            types += (types.empty() ? " (" : ", ") + std::to_string(n) + " " + gguf::type_name(t);
    if (!types.empty()) types += ")";
    bar.finish(std::to_string(r->n_quantized) + " matrices to " + model::type_mix_name(o.type) + types + ", " +
               format_bytes(r->bytes_in) + " -> " + format_bytes(r->bytes_out));
    for (const std::string& k : r->kept)
        std::fprintf(stderr, "sinan: kept '%s' in its type: its rows are not a multiple of the %s block\n", k.c_str(),
                     gguf::type_name(o.type.base));
}

}  // namespace

void register_quantize(CLI::App& app) {
    auto a = std::make_shared<QuantizeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "quantize",
        "Convert the weight matrices of an F32/F16/BF16 model to a smaller type (q8_0, q4_k_m, q4_k, ...). "
        "A plain type is used for every matrix (llama.cpp's --pure); a mix (q4_k_m, q5_k_m, q4_k_s, q5_k_s) gives "
        "the output matrix and some attn_v/ffn_down matrices more bits, as llama.cpp's quantize does");
    cmd->add_option("IN", a->in, "The F32, F16 or BF16 .gguf model")->required();
    cmd->add_option("OUT", a->out, "The .gguf file to write")->required();
    cmd->add_option("TYPE", a->type,
                    "Target type: q8_0 (near lossless), q4_k_m (smaller, the common choice), q5_k_m, q6_k, q4_k, ...")
        ->required();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    cmd->callback([a] { run_quantize(*a); });
}

}  // namespace sinan::cli
