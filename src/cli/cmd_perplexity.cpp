// `sinan perplexity`: how well a model predicts a text (engine/perplexity.h has the method:
// llama.cpp's, chunks of -c tokens on a fresh cache, the second half of each chunk scored).
// A progress line per chunk goes to stderr; the final figure to stdout (or JSON with --json).
// --tokens-file takes token ids instead of text, for tests against reference logits and for
// comparing with another engine on exactly the same ids.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/kv_type_option.h"
#include "engine/perplexity.h"
#include "model/model.h"
#include "text/tokenizer.h"

namespace sinan::cli {

namespace {

struct PerplexityArgs {
    std::string model, text_file, tokens_file;
    int64_t n_ctx = 512;
    int64_t n_batch = 512;
    int threads = 0;
    gguf::TensorType kv_type = gguf::TensorType::F16;
    bool json = false;
};

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path + ": cannot read the " + std::string(what));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Whitespace-separated decimal ids; anything else is a one-line error naming the word.
std::vector<int32_t> parse_token_ids(const std::string& path, const std::string& text) {
    std::vector<int32_t> ids;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(word, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != word.size() || v < 0 || v > INT32_MAX)
            fail(path + ": '" + word + "' is not a token id (the file holds whitespace-separated ids)");
        ids.push_back(static_cast<int32_t>(v));
    }
    return ids;
}

void run_perplexity(const PerplexityArgs& a) {
    if (a.text_file.empty() == a.tokens_file.empty())
        fail("give the text with -f FILE or the ids with --tokens-file FILE (one of them)");
    if (a.n_ctx < 3) fail("-c must be at least 3 (half of each chunk is context, the rest is scored)");
    if (a.n_batch < 1) fail("-b must be at least 1");
    const std::string& input = a.text_file.empty() ? a.tokens_file : a.text_file;
    const std::string content = read_file(input, a.text_file.empty() ? "token ids" : "text");

    model::LoadOptions lo;
    lo.n_threads = a.threads;
    Result<std::unique_ptr<model::Model>> m = model::Model::load(a.model, lo);
    if (!m.ok()) fail(m.message());
    model::Model& model = **m;
    require_kv_type(model, a.model, a.kv_type);

    engine::PerplexityOptions o;
    o.n_ctx = a.n_ctx;
    o.n_batch = a.n_batch;
    o.kv_type = a.kv_type;
    std::vector<int32_t> tokens;
    if (!a.text_file.empty()) {
        Result<text::Tokenizer> tok = text::Tokenizer::from_gguf(model.file());
        if (!tok.ok()) fail(a.model + ": " + tok.message());
        // Plain text: control tokens written in it are text, not ids. The BOS the model's
        // metadata asks for starts every chunk (perplexity.h).
        tokens = tok->encode(content, /*add_special=*/false, /*parse_special=*/false);
        if (tok->add_bos() && tok->bos_id() >= 0) o.bos = tok->bos_id();
    } else {
        tokens = parse_token_ids(input, content);
    }
    if (tokens.empty()) fail(input + ": the " + (a.text_file.empty() ? "file has no token ids" : "text is empty"));

    Result<engine::PerplexityResult> r = engine::perplexity(
        model, tokens, o, [&](int64_t chunk, int64_t n_chunks, const engine::PerplexityResult& so_far) {
            std::fprintf(stderr, "[%lld/%lld] perplexity %.4f +/- %.4f over %lld tokens, %.1f tokens/s\n",
                         static_cast<long long>(chunk + 1), static_cast<long long>(n_chunks), so_far.perplexity,
                         so_far.perplexity_stderr, static_cast<long long>(so_far.n_scored),
                         static_cast<double>((chunk + 1) * o.n_ctx) / so_far.seconds);
        });
    if (!r.ok()) fail(input + ": " + r.message());
    const double tokens_per_second = static_cast<double>(r->n_chunks * o.n_ctx) / r->seconds;
    if (a.json) {
        nlohmann::ordered_json j = {{"perplexity", r->perplexity},
                                    {"perplexity_stderr", r->perplexity_stderr},
                                    {"mean_nll", r->mean_nll},
                                    {"mean_nll_stderr", r->mean_nll_stderr},
                                    {"n_scored", r->n_scored},
                                    {"n_chunks", r->n_chunks},
                                    {"n_ctx", o.n_ctx},
                                    {"tokens_per_second", tokens_per_second},
                                    {"seconds", r->seconds}};
        std::printf("%s\n", j.dump(2).c_str());
        return;
    }
    std::printf(
        "perplexity: %.4f +/- %.4f (mean NLL %.5f nats; %lld tokens scored in %lld chunks of %lld; %.1f tokens/s)\n",
        r->perplexity, r->perplexity_stderr, r->mean_nll, static_cast<long long>(r->n_scored),
        static_cast<long long>(r->n_chunks), static_cast<long long>(o.n_ctx), tokens_per_second);
}

}  // namespace

void register_perplexity(CLI::App& app) {
    auto a = std::make_shared<PerplexityArgs>();
    CLI::App* cmd = app.add_subcommand(
        "perplexity",
        "Perplexity of a model over a text: chunks of -c tokens, each on a fresh cache, the second half of each "
        "chunk scored given the first (as llama.cpp's llama-perplexity)");
    cmd->add_option("-m,--model", a->model, "The .gguf model")->required();
    cmd->add_option("-f,--file", a->text_file,
                    "The text file to score (a BOS starts every chunk when the model's metadata asks for one; a text "
                    "shorter than one chunk is an error that suggests a smaller -c)");
    cmd->add_option("--tokens-file", a->tokens_file,
                    "Testing/advanced: score these whitespace-separated token ids instead of a text (used as "
                    "given: no BOS is added)");
    cmd->add_option("-c,--ctx-size", a->n_ctx, "Tokens per chunk: the first half is context, the rest is scored")
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", a->n_batch, "Tokens per forward pass within a chunk")->capture_default_str();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    add_kv_type_option(cmd, &a->kv_type);
    cmd->add_flag("--json", a->json, "Print the result as a JSON object");
    cmd->callback([a] { run_perplexity(*a); });
}

}  // namespace sinan::cli
