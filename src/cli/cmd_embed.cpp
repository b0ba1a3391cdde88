// `sinan embed -m FILE [TEXT...]`: vectors of texts with an embedding model (bert, nomic-bert), as JSON on
// stdout — for scripts, for checking a model against another engine, for building indexes.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/openai_response.h"
#include "cli/commands.h"
#include "engine/embedder.h"
#include "model/embedding_model.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace sinan::cli {
namespace {

struct EmbedArgs {
    std::string model;
    std::vector<std::string> texts;
    bool raw = false;
    bool truncate = false;
    std::string pooling;
    int threads = 0;
};

void run_embed(EmbedArgs& a) {
    if (a.texts.empty()) {
        // One text per line of stdin (empty lines skipped).
        for (std::string line; std::getline(std::cin, line);) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty()) a.texts.push_back(line);
        }
        if (a.texts.empty()) fail("no text to embed: give texts as arguments or one per line on stdin");
    }
    for (size_t i = 0; i < a.texts.size(); ++i)
        if (text::find_invalid_utf8(a.texts[i]) != a.texts[i].size())
            fail("text " + std::to_string(i) + " is not valid UTF-8; convert it to UTF-8 first");
    model::LoadOptions lo;
    lo.n_threads = a.threads;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(a.model, lo);
    if (!m.ok()) fail(m.message());
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) fail(a.model + ": " + tok.message());
    engine::Embedder embedder(**m, std::move(tok).value());
    engine::EmbedOptions o;
    o.normalize = !a.raw;
    o.truncate = a.truncate;
    if (!a.pooling.empty()) {
        Result<model::Pooling> p = model::parse_pooling(a.pooling);
        if (!p.ok()) fail("--pooling: " + p.message());
        o.pooling = *p;
    }
    Result<engine::Embeddings> e = embedder.embed_texts(a.texts, o);
    if (!e.ok()) fail(e.message() + (a.truncate ? "" : " (--truncate cuts long texts to the context)"));
    nlohmann::ordered_json embeddings = nlohmann::ordered_json::array();
    for (size_t i = 0; i < a.texts.size(); ++i)
        embeddings.push_back(api::float_array(e->values.data() + i * static_cast<size_t>(e->n_embd), e->n_embd));
    const nlohmann::ordered_json out = {{"model", (*m)->file().path()},
                                        {"n_embd", e->n_embd},
                                        {"pooling", model::pooling_name(o.pooling.value_or((*m)->hparams().pooling))},
                                        {"normalized", !a.raw},
                                        {"n_tokens", e->n_tokens},
                                        {"embeddings", std::move(embeddings)}};
    const std::string text = out.dump() + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void register_embed(CLI::App& app) {
    auto a = std::make_shared<EmbedArgs>();
    CLI::App* cmd = app.add_subcommand(
        "embed",
        "Print the vectors of texts with an embedding model (bert or nomic-bert architecture) as one JSON object:\n"
        "{\"model\", \"n_embd\", \"pooling\", \"normalized\", \"n_tokens\": [per text], \"embeddings\": [[...], "
        "...]}.\n"
        "Texts come from the arguments, or one per line on stdin. Vectors are L2-normalised unless --raw.");
    cmd->add_option("-m,--model", a->model, "GGUF embedding model")->required();
    cmd->add_option("texts", a->texts, "Texts to embed (default: one per line of stdin)");
    cmd->add_flag("--raw", a->raw, "Print the pooled vectors as the model gives them, not L2-normalised");
    cmd->add_flag("--truncate", a->truncate,
                  "Cut texts longer than the model's context to it (keeping the final [SEP]); default: error");
    cmd->add_option("--pooling", a->pooling, "mean, cls or last (default: the model's pooling_type)");
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    cmd->callback([a] { run_embed(*a); });
}

}  // namespace sinan::cli
