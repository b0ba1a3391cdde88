// Ingestion throughput: extraction + chunking in MB/s of input, for plain text and for PDFs with a
// text layer (written by cairo), median of 5 runs. One thread; OCR is not measured (it is
// seconds per page and depends on the scan).
//
//   build/release/bench/bench_ingest [text_mb=16] [pdf_pages=200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "doc_fixtures.h"
#include "knowledge/chunker.h"
#include "knowledge/extract.h"

namespace {

using sinan::knowledge::chunk_document;
using sinan::knowledge::extract_bytes;

// Sentences of English-like words (fixed seed), in paragraphs, with a heading every 20 paragraphs.
std::string make_words(std::mt19937& rng, int n_words) {
    static const char* kWords[] = {"the",     "index",  "stores", "documents", "retrieval", "of",   "answers",
                                   "model",   "server", "query",  "chunk",     "sentence",  "with", "private",
                                   "storage", "page",   "token",  "budget",    "overlap",   "and"};
    std::string s;
    for (int i = 0; i < n_words; ++i) {
        if (i > 0) s += ' ';
        s += kWords[rng() % 20];
    }
    return s;
}

std::string make_markdown(size_t bytes) {
    std::mt19937 rng(42);
    std::string out;
    for (int para = 0; out.size() < bytes; ++para) {
        if (para % 20 == 0) out += "## Section " + std::to_string(para / 20) + "\n\n";
        for (int s = 0; s < 5; ++s) out += make_words(rng, 8 + static_cast<int>(rng() % 12)) + ". ";
        out += "\n\n";
    }
    return out;
}

template <typename F>
double median_seconds(F&& f) {
    std::vector<double> runs;
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(runs.begin(), runs.end());
    return runs[2];
}

size_t ingest(const std::string& name, const std::string& bytes) {
    auto doc = extract_bytes(name, bytes);
    if (!doc.ok()) {
        std::fprintf(stderr, "bench_ingest: error: %s\n", doc.message().c_str());
        std::exit(2);
    }
    return chunk_document(*doc).size();
}

}  // namespace

int main(int argc, char** argv) {
    const double text_mb = argc > 1 ? std::atof(argv[1]) : 16;
    const int pdf_pages = argc > 2 ? std::atoi(argv[2]) : 200;

    const std::string md = make_markdown(static_cast<size_t>(text_mb * 1e6));
    size_t n_chunks = 0;
    const double t_md = median_seconds([&] { n_chunks = ingest("bench.md", md); });
    std::printf("markdown  %8.1f MB  %7zu chunks  median %.3f s  %7.1f MB/s\n", md.size() / 1e6, n_chunks, t_md,
                md.size() / 1e6 / t_md);

    std::mt19937 rng(7);
    std::vector<std::vector<std::string>> pages(static_cast<size_t>(pdf_pages));
    size_t text_bytes = 0;
    for (auto& lines : pages) {
        for (int l = 0; l < 45; ++l) {
            lines.push_back(make_words(rng, 12) + ".");
            text_bytes += lines.back().size() + 1;
        }
    }
    const std::string pdf = sinan::knowledge::fixtures::make_text_pdf(pages, "bench");
    const double t_pdf = median_seconds([&] { n_chunks = ingest("bench.pdf", pdf); });
    std::printf(
        "pdf       %8.1f MB  %7zu chunks  median %.3f s  %7.1f MB/s of PDF  %6.1f MB/s of text  %6.0f pages/s\n",
        pdf.size() / 1e6, n_chunks, t_pdf, pdf.size() / 1e6 / t_pdf, text_bytes / 1e6 / t_pdf, pdf_pages / t_pdf);
    return 0;
}
