// `sinan model synth`: write a GGUF with a known model's shapes and random weights.
#include <sys/statvfs.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "model/synth.h"

namespace sinan::cli {

namespace {

struct SynthArgs {
    std::string arch, shape = "tiny", type = "f32", vocab, out;
    uint64_t seed = 42;
    float std = 0.02f;
    int threads = 0;
};

void check_disk_space(const std::string& out, uint64_t need) {
    std::filesystem::path dir = std::filesystem::absolute(out).parent_path();
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return;  // the write itself will report the problem
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (free_bytes < need + need / 50)
        fail(out + ": needs about " + format_bytes(need) + " but " + dir.string() + " has " + format_bytes(free_bytes) +
             " free; free space or write elsewhere");
}

void run_synth(const SynthArgs& a) {
    model::SynthOptions o;
    o.arch = a.arch;
    o.shape = a.shape;
    o.vocab_path = a.vocab;
    o.seed = a.seed;
    o.weight_std = a.std;
    o.n_threads = a.threads;
    std::optional<model::TypeMix> type = model::type_mix_from_name(a.type);
    if (!type) fail("unknown --type '" + a.type + "' (use one of: " + model::type_mix_names() + ")");
    o.type = *type;
    Result<uint64_t> bytes = model::synth_tensor_bytes(o);
    if (!bytes.ok()) fail(bytes.message());
    check_disk_space(a.out, *bytes);
    ProgressBar bar("writing " + a.out);
    Status s = model::synth_model(o, a.out, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
    if (!s.is_ok()) fail(s.message());
    bar.finish(a.shape + ", " + model::type_mix_name(o.type) + ", " + format_bytes(*bytes) + " of weights");
}

}  // namespace

void register_model_synth(CLI::App& model) {
    auto a = std::make_shared<SynthArgs>();
    std::string shapes;
    for (const model::SynthShape& s : model::synth_shapes()) shapes += (shapes.empty() ? "" : ", ") + s.name;
    CLI::App* synth = model.add_subcommand(
        "synth",
        "Write a GGUF model with the real shapes and tensor names of a known model and random weights (fixed seed), "
        "for tests and benchmarks without downloads");
    synth->add_option("--arch", a->arch, "Architecture (qwen2, llama, deepseek2); optional, checked against the shape");
    synth->add_option("--shape", a->shape, "Model shape: " + shapes)->capture_default_str();
    synth
        ->add_option(
            "--type", a->type,
            "Type of the weight matrices: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, ..., or a mix as llama.cpp's "
            "quantize makes it: q4_k_m, q5_k_m, q4_k_s, q5_k_s")
        ->capture_default_str();
    synth->add_option("--vocab", a->vocab,
                      "Copy the tokenizer (tokenizer.* keys) from this GGUF; the vocabulary size follows it. "
                      "Default: a synthetic byte-level BPE vocabulary of the model's real size");
    synth->add_option("--seed", a->seed, "Random seed (same seed, same file)")->capture_default_str();
    synth->add_option("--std", a->std, "Standard deviation of the weights")->capture_default_str();
    synth->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    synth->add_option("-o,--output", a->out, "Output .gguf file")->required();
    synth->callback([a] { run_synth(*a); });
}

}  // namespace sinan::cli
