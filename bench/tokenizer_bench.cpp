// Tokenizer throughput: encode MB/s of mixed multilingual text with the DeepSeek-R1-Distill-Qwen
// vocab (byte-level BPE, Qwen2 pre-tokenizer). Text: the contexts of ../shared/data/cmrc2018
// (Chinese) and the abstracts of ../shared/data/beir-scifact (English) when present, else a
// deterministic generated mix of scripts, interleaved into about 2 MB. The limit printed beside
// it: pre-tokenization alone (the PCRE2 regex split that every encode must do first).
// Vocab: SINAN_BENCH_VOCAB, else ../shared/models/ggml-vocab-deepseek-r1-qwen.gguf.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"

namespace {

constexpr size_t kTargetBytes = 2'000'000;

std::vector<std::string> chinese_paragraphs() {
    std::ifstream f(SINAN_SHARED_DIR "/data/cmrc2018/cmrc2018_trial.squad.json");
    if (!f) return {};
    std::vector<std::string> out;
    const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) return {};
    for (const auto& d : j["data"]) {
        for (const auto& p : d["paragraphs"]) out.push_back(p["context"].get<std::string>() + "\n");
    }
    return out;
}

std::vector<std::string> english_paragraphs() {
    std::vector<std::string> out;
    std::ifstream f(SINAN_SHARED_DIR "/data/beir-scifact/corpus.part1.jsonl");
    for (std::string line; std::getline(f, line) && out.size() < 2000;) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded())
            out.push_back(j["title"].get<std::string>() + "\n" + j["text"].get<std::string>() + "\n\n");
    }
    return out;
}

std::vector<std::string> generated_paragraphs() {
    const std::vector<std::string> words = {"the",     "model", "reasoning", "token",    "深度",       "求索",
                                            "模型",    "推理",  "東京",      "カタカナ", "안녕하세요", "мир",
                                            "знание",  "مرحبا", "नमस्ते",      "ภาษาไทย",  "🦙",       "😀",
                                            "x += 1;", "f(x)",  "3.14159",   "2025",     "\t",         "\n"};
    std::mt19937 rng(42);
    std::uniform_int_distribution<size_t> pick(0, words.size() - 1);
    std::vector<std::string> out;
    for (int p = 0; p < 2000; ++p) {
        std::string s;
        for (int w = 0; w < 120; ++w) s += words[pick(rng)] + (w % 3 == 0 ? "" : " ");
        out.push_back(s + "\n");
    }
    return out;
}

const std::string& corpus() {
    static const std::string text = [] {
        std::vector<std::string> zh = chinese_paragraphs(), en = english_paragraphs();
        if (zh.empty() || en.empty()) zh = en = generated_paragraphs();
        std::string t;
        for (size_t i = 0; t.size() < kTargetBytes; ++i) t += zh[i % zh.size()] + en[i % en.size()];
        return t;
    }();
    return text;
}

const sinan::text::Tokenizer* tokenizer() {
    static const sinan::text::Tokenizer* tok = []() -> const sinan::text::Tokenizer* {
        const char* env = std::getenv("SINAN_BENCH_VOCAB");
        const std::string path = env ? env : SINAN_SHARED_DIR "/models/ggml-vocab-deepseek-r1-qwen.gguf";
        sinan::Result<sinan::gguf::File> f = sinan::gguf::File::open(path);
        if (!f.ok()) return nullptr;
        sinan::Result<sinan::text::Tokenizer> t = sinan::text::Tokenizer::from_gguf(*f);
        return t.ok() ? new sinan::text::Tokenizer(std::move(*t)) : nullptr;
    }();
    return tok;
}

void BM_Encode(benchmark::State& state) {
    const sinan::text::Tokenizer* tok = tokenizer();
    if (tok == nullptr) {
        state.SkipWithError("no vocab: set SINAN_BENCH_VOCAB to a GGUF with a tokenizer");
        return;
    }
    const std::string& text = corpus();
    size_t n_tokens = 0;
    for (auto _ : state) {
        const std::vector<int32_t> ids = tok->encode(text, false, true);
        n_tokens = ids.size();
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
    state.counters["tokens"] = static_cast<double>(n_tokens);
    state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(n_tokens);
    state.SetLabel(std::string(tok->kind()));
}

// The limit: splitting alone.
void BM_PreTokenizeOnly(benchmark::State& state) {
    sinan::Result<sinan::text::PreTokenizer> pre = sinan::text::PreTokenizer::create("deepseek-r1-qwen");
    const std::string& text = corpus();
    std::vector<std::string_view> pieces;
    for (auto _ : state) {
        pieces.clear();
        pre->split(text, &pieces);
        benchmark::DoNotOptimize(pieces.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
    state.counters["pieces"] = static_cast<double>(pieces.size());
}

void BM_Decode(benchmark::State& state) {
    const sinan::text::Tokenizer* tok = tokenizer();
    if (tok == nullptr) {
        state.SkipWithError("no vocab");
        return;
    }
    const std::vector<int32_t> ids = tok->encode(corpus(), false, true);
    for (auto _ : state) {
        const std::string text = tok->decode(ids);
        benchmark::DoNotOptimize(text.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}

BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreTokenizeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
