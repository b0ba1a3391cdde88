// `sinan rerank -m FILE --query Q [DOC...]`: documents ordered by a cross-encoder reranker's
// relevance to the query (engine::Reranker), as a table or as JSON — for trying a reranker, for
// scripts, for checking scores against another engine.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "api/openai_response.h"
#include "cli/commands.h"
#include "engine/reranker.h"
#include "model/embedding_model.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace sinan::cli {
namespace {

struct RerankArgs {
    std::string model, query, file;
    std::vector<std::string> documents;
    int64_t top_n = 0;
    bool json = false;
    bool truncate = false;
    int threads = 0;
};

// One document per line (empty lines skipped, CRLF accepted).
void read_lines(std::istream& in, std::vector<std::string>* out) {
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) out->push_back(line);
    }
}

void run_rerank(RerankArgs& a) {
    if (a.query.empty()) fail("--query is empty: give the text to rank the documents for");
    if (!a.file.empty()) {
        if (!a.documents.empty()) fail("give documents as arguments or with --file, not both");
        std::ifstream in(a.file);
        if (!in) fail(a.file + ": cannot read the documents file (--file)");
        read_lines(in, &a.documents);
    } else if (a.documents.empty()) {
        read_lines(std::cin, &a.documents);
    }
    if (a.documents.empty())
        fail("no documents to rank: give them as arguments, with --file, or one per line on stdin");
    if (a.top_n < 0) fail("--top-n must be 0 (every document) or more");
    if (text::find_invalid_utf8(a.query) != a.query.size()) fail("the query is not valid UTF-8; convert it first");
    for (size_t i = 0; i < a.documents.size(); ++i)
        if (text::find_invalid_utf8(a.documents[i]) != a.documents[i].size())
            fail("document " + std::to_string(i) + " is not valid UTF-8; convert it to UTF-8 first");

    model::LoadOptions lo;
    lo.n_threads = a.threads;
    Result<std::unique_ptr<model::EmbeddingModel>> m = model::EmbeddingModel::load(a.model, lo);
    if (!m.ok()) fail(m.message());
    if (!model::is_reranker((*m)->hparams()))
        fail(a.model + " is not a cross-encoder reranker (its pooling_type is " +
             std::string(model::pooling_name((*m)->hparams().pooling)) +
             "; a reranker is a bert model with pooling_type rank, e.g. bge-reranker); for vectors use sinan embed");
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) fail(a.model + ": " + tok.message());
    engine::Reranker reranker(**m, std::move(tok).value());
    engine::RerankOptions o;
    o.truncate = a.truncate;
    Result<engine::RerankScores> r = reranker.rerank(a.query, a.documents, o);
    if (!r.ok()) fail(r.message() + (a.truncate ? "" : " (--truncate cuts long documents to the context)"));

    std::vector<size_t> order(a.documents.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return r->scores[x] > r->scores[y]; });
    if (a.top_n > 0 && static_cast<size_t>(a.top_n) < order.size()) order.resize(static_cast<size_t>(a.top_n));

    std::string text;
    if (a.json) {
        nlohmann::ordered_json results = nlohmann::ordered_json::array();
        for (size_t i : order)
            results.push_back({{"index", i},
                               {"relevance_score", api::float_array(&r->scores[i], 1).front()},
                               {"text", a.documents[i]}});
        text = nlohmann::ordered_json{{"model", a.model},
                                      {"query", a.query},
                                      {"results", std::move(results)},
                                      {"n_tokens", r->n_tokens_total()}}
                   .dump() +
               "\n";
    } else {
        text = "rank  index      score  text\n";
        char line[64];
        for (size_t k = 0; k < order.size(); ++k) {
            std::snprintf(line, sizeof line, "%4zu  %5zu  %9.4f  ", k + 1, order[k], r->scores[order[k]]);
            text += line + a.documents[order[k]] + "\n";
        }
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void register_rerank(CLI::App& app) {
    auto a = std::make_shared<RerankArgs>();
    CLI::App* cmd = app.add_subcommand(
        "rerank",
        "Order documents by their relevance to a query with a cross-encoder reranker (bge-reranker and other bert "
        "models with pooling_type rank). Prints rank, index (the document's position in the input), score (the "
        "model's raw logit: higher is more relevant) and text, best first; --json prints {\"model\", \"query\", "
        "\"results\": [{\"index\", \"relevance_score\", \"text\"}], \"n_tokens\"}.\n"
        "Documents come from the arguments, from --file, or one per line on stdin.");
    cmd->add_option("-m,--model", a->model, "GGUF reranker model")->required();
    cmd->add_option("-q,--query", a->query, "The query to rank the documents for")->required();
    cmd->add_option("documents", a->documents, "Documents to rank (default: one per line of stdin)");
    cmd->add_option("-f,--file", a->file, "Read the documents from this file, one per line");
    cmd->add_option("-n,--top-n", a->top_n, "Print only the best N (0 = every document)")->capture_default_str();
    cmd->add_flag("--json", a->json, "Print one JSON object instead of the table");
    cmd->add_flag("--truncate", a->truncate,
                  "Cut documents whose pair with the query is longer than the model's context; default: error");
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    cmd->callback([a] { run_rerank(*a); });
}

}  // namespace sinan::cli
