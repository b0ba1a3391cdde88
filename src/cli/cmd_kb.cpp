// `sinan kb eval`: measures the lexical retriever (src/knowledge/) on a BEIR-format data set (or a
// SQuAD-format file read as one, knowledge/squad.h) and prints nDCG@10 and Recall@100 (the figures
// of the BEIR paper's tables) and MRR@10.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "knowledge/beir.h"
#include "knowledge/beir_eval.h"
#include "knowledge/squad.h"

namespace sinan::cli {

namespace {

struct KbEvalArgs {
    std::string beir_dir, squad_file, split = "test";
    knowledge::Bm25Params bm25;
    bool json = false, no_stem = false, no_stop_words = false;
};

void run_eval(const KbEvalArgs& a) {
    const bool squad = !a.squad_file.empty();
    Result<knowledge::BeirDataset> data =
        squad ? knowledge::load_squad(a.squad_file) : knowledge::load_beir(a.beir_dir, a.split);
    if (!data.ok()) fail(data.message());
    if (data->queries.empty())
        fail((squad ? a.squad_file + ": no questions" : a.beir_dir + "/qrels/" + a.split + ".tsv: no judged queries") +
             "; nothing to evaluate");
    knowledge::AnalyzerOptions analysis;
    analysis.stem = !a.no_stem;
    analysis.stop_words = !a.no_stop_words;
    ProgressBar bar("indexing");
    const knowledge::EvalResult r = knowledge::evaluate_lexical(
        *data, a.bm25, analysis, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
    bar.finish(std::to_string(r.n_docs) + " documents (" + std::to_string(r.n_terms) + " terms) indexed, " +
               std::to_string(r.n_queries) + " queries searched");
    if (a.json) {
        const nlohmann::json out = {{"ndcg@10", r.ndcg_at_10},
                                    {"recall@100", r.recall_at_100},
                                    {"mrr@10", r.mrr_at_10},
                                    {"queries", r.n_queries}};
        std::printf("%s\n", out.dump().c_str());
        return;
    }
    std::printf("BM25 k1=%g b=%g, %s, %zu queries, %zu documents\n", a.bm25.k1, a.bm25.b,
                squad ? "questions against their paragraphs" : ("split " + a.split).c_str(), r.n_queries, r.n_docs);
    std::printf("nDCG@10     %.4f\nRecall@100  %.4f\nMRR@10      %.4f\n", r.ndcg_at_10, r.recall_at_100, r.mrr_at_10);
}

}  // namespace

void register_kb(CLI::App& app) {
    auto a = std::make_shared<KbEvalArgs>();
    CLI::App* kb = app.add_subcommand("kb", "Knowledge bases: create, add documents, search, evaluate retrieval");
    kb->require_subcommand(1);
    register_kb_manage(*kb);

    CLI::App* eval = kb->add_subcommand(
        "eval",
        "Measure BM25 retrieval on a BEIR data set (or a SQuAD file): nDCG@10, Recall@100 and MRR@10 over the judged "
        "queries");
    CLI::Option* beir = eval->add_option(
        "--beir", a->beir_dir, "BEIR data set directory: corpus.jsonl (or corpus.part*.jsonl), queries.jsonl, qrels/SPLIT.tsv");
    CLI::Option* squad = eval->add_option("--squad", a->squad_file,
                                          "A SQuAD-format file (CMRC 2018, DRCD ...): paragraphs are the documents, "
                                          "each question's own paragraph its one relevant document");
    beir->excludes(squad);
    eval->add_option("--split", a->split, "With --beir, which judgements to use: qrels/SPLIT.tsv (default test)");
    eval->add_flag("--json", a->json,
                   "Print {\"ndcg@10\": ..., \"recall@100\": ..., \"mrr@10\": ..., \"queries\": N}");
    eval->add_option("--k1", a->bm25.k1, "BM25 term-frequency saturation (default 1.2)")->check(CLI::Range(0.0, 100.0));
    eval->add_option("--b", a->bm25.b, "BM25 length normalisation, 0..1 (default 0.75)")->check(CLI::Range(0.0, 1.0));
    eval->add_flag("--no-stem", a->no_stem, "Do not stem English words (for comparison)");
    eval->add_flag("--no-stopwords", a->no_stop_words, "Keep English stop words (for comparison)");
    eval->callback([a] {
        if (a->beir_dir.empty() && a->squad_file.empty()) fail("kb eval needs --beir DIR or --squad FILE");
        run_eval(*a);
    });
}

}  // namespace sinan::cli
