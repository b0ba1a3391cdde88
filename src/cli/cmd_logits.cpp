// `sinan logits -m FILE --tokens ID,ID,...`: the logits at every position, as JSON in the format
// of the reference golden files ({"sequences": [{"tokens": [...], "logits": [[...], ...]}]}), so
// any golden file can be checked from the command line.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "model/model.h"

namespace sinan::cli {

namespace {

struct LogitsArgs {
    std::string model;
    std::vector<std::string> tokens;
    int threads = 0;
};

std::vector<int32_t> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            size_t used = 0;
            long v = std::stol(item, &used);
            if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
            ids.push_back(static_cast<int32_t>(v));
        } catch (const std::exception&) {
            fail("--tokens: '" + item + "' is not a token id (expected comma-separated non-negative integers)");
        }
    }
    if (ids.empty()) fail("--tokens: no token ids given");
    return ids;
}

void run_logits(const LogitsArgs& a) {
    std::vector<std::vector<int32_t>> seqs;
    for (const std::string& t : a.tokens) seqs.push_back(parse_ids(t));
    model::LoadOptions lo;
    lo.n_threads = a.threads;
    Result<std::unique_ptr<model::Model>> m = model::Model::load(a.model, lo);
    if (!m.ok()) fail(m.message());
    model::Model& mdl = **m;
    const int64_t n_vocab = mdl.hparams().n_vocab;
    std::string out = "{\"sequences\": [";
    std::vector<float> logits;
    char num[32];
    for (size_t s = 0; s < seqs.size(); ++s) {
        model::KvCache cache = mdl.make_cache(static_cast<int64_t>(seqs[s].size()));
        model::Batch batch;
        for (size_t i = 0; i < seqs[s].size(); ++i) batch.add(seqs[s][i], static_cast<int32_t>(i), 0, true);
        Status st = mdl.forward(batch, cache, &logits);
        if (!st.is_ok()) fail(a.model + ": " + st.message());
        out += s ? ", " : "";
        out += "{\"tokens\": [";
        for (size_t i = 0; i < seqs[s].size(); ++i) out += (i ? ", " : "") + std::to_string(seqs[s][i]);
        out += "], \"logits\": [";
        for (size_t i = 0; i < seqs[s].size(); ++i) {
            out += i ? ", [" : "[";
            for (int64_t v = 0; v < n_vocab; ++v) {
                std::snprintf(num, sizeof num, "%.9g", logits[i * static_cast<size_t>(n_vocab) + static_cast<size_t>(v)]);
                out += (v ? ", " : "");
                out += num;
            }
            out += "]";
        }
        out += "]}";
    }
    out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_logits(CLI::App& app) {
    auto a = std::make_shared<LogitsArgs>();
    CLI::App* cmd = app.add_subcommand(
        "logits", "Print the logits at every position of token sequences as JSON (the golden files' format)");
    cmd->add_option("-m,--model", a->model, "The .gguf model")->required();
    cmd->add_option("--tokens", a->tokens, "Comma-separated token ids; repeat for several sequences")->required();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    cmd->callback([a] { run_logits(*a); });
}

}  // namespace sinan::cli
