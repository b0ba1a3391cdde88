// Query latency of the knowledge Retriever (src/knowledge/retriever.h) at scale: lexical (BM25),
// dense (HNSW) and hybrid (both, fused by RRF) over N synthetic chunks, P50 and P99 per mode, plus
// the index build time, the process's peak resident memory and the dense recall@10 of the graph
// against an exact scan. The target it is measured against (issue 7): P99 under 50 ms for hybrid
// (lexical + dense) at 100k chunks on 2 cores.
//
// Corpus: a vocabulary of V generated words (3..10 random letters) drawn with Zipf frequencies
// (p(rank r) ~ 1/r, like words of natural text), chunks of L words; each chunk gets a random
// normalised D-dimensional vector (random vectors are the hard case for HNSW: no clusters to
// follow). With --clusters C the vectors are instead drawn around C random centres (centre +
// Gaussian noise of the same total length, then normalised), closer to real embeddings, which
// gather by topic; queries are drawn the same way. Queries: Q words drawn from the same Zipf distribution, and a random
// vector. Each query runs alone on one thread (the latency a user sees); timings include query analysis.
//
// bench_query_latency [--chunks N] [--dim D] [--words-per-chunk L] [--vocab V] [--queries Q]
//                     [--query-words W] [--ef-search E] [--clusters C] [--seed S]
// Defaults: 100000 chunks, 384 dims, 150 words per chunk, 50000 words, 1000 queries, 4 words.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "knowledge/retriever.h"

namespace {

using namespace sinan::knowledge;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Options {
    size_t n_chunks = 100000;
    size_t dim = 384;
    size_t words_per_chunk = 150;
    size_t n_vocab = 50000;
    size_t n_queries = 1000;
    size_t query_words = 4;
    size_t ef_search = VectorIndexParams{}.ef_search;
    size_t n_clusters = 0;  // 0: uniform random directions
    size_t seed = 7;
};

Options parse(int argc, char** argv) {
    Options o;
    const std::pair<const char*, size_t*> flags[] = {{"--chunks", &o.n_chunks},
                                                     {"--dim", &o.dim},
                                                     {"--words-per-chunk", &o.words_per_chunk},
                                                     {"--vocab", &o.n_vocab},
                                                     {"--queries", &o.n_queries},
                                                     {"--query-words", &o.query_words},
                                                     {"--ef-search", &o.ef_search},
                                                     {"--clusters", &o.n_clusters},
                                                     {"--seed", &o.seed}};
    // Unknown arguments (e.g. --benchmark_* from scripts/run-bench.sh) are skipped.
    for (int i = 1; i + 1 < argc; ++i) {
        for (const auto& [name, value] : flags) {
            if (std::strcmp(argv[i], name) == 0) {
                *value = std::strtoull(argv[++i], nullptr, 10);
                break;
            }
        }
    }
    return o;
}

// "VmHWM" (peak resident) or "VmRSS" of this process in MiB, from /proc/self/status.
double proc_status_mib(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) == 0) return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
    }
    return 0;
}

class Zipf {
  public:
    Zipf(size_t n) : cdf_(n) {
        double sum = 0;
        for (size_t r = 0; r < n; ++r) cdf_[r] = (sum += 1.0 / double(r + 1));
        for (double& c : cdf_) c /= sum;
    }
    size_t operator()(std::mt19937_64& rng) const {
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        return std::min<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin(), cdf_.size() - 1);
    }

  private:
    std::vector<double> cdf_;
};

std::vector<float> random_unit(std::mt19937_64& rng, size_t dim) {
    std::normal_distribution<float> normal;
    std::vector<float> v(dim);
    double n2 = 0;
    for (float& x : v) {
        x = normal(rng);
        n2 += double(x) * x;
    }
    for (float& x : v) x = float(x / std::sqrt(n2));
    return v;
}

// A unit vector: a random direction, or (with centres) a random centre plus noise as long as it.
std::vector<float> draw_vector(std::mt19937_64& rng, size_t dim, const std::vector<std::vector<float>>& centres) {
    std::vector<float> v = random_unit(rng, dim);
    if (centres.empty()) return v;
    const std::vector<float>& c = centres[rng() % centres.size()];
    double n2 = 0;
    for (size_t d = 0; d < dim; ++d) {
        v[d] += c[d];
        n2 += double(v[d]) * v[d];
    }
    for (float& x : v) x = float(x / std::sqrt(n2));
    return v;
}

struct Percentiles {
    double p50_ms, p99_ms, mean_ms;
};

Percentiles percentiles(std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    auto at = [&](double q) {
        return 1000 * seconds[std::min(seconds.size() - 1, size_t(q * double(seconds.size())))];
    };
    double sum = 0;
    for (double s : seconds) sum += s;
    return {at(0.50), at(0.99), 1000 * sum / double(seconds.size())};
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    std::mt19937_64 rng(o.seed);
    std::vector<std::string> vocab(o.n_vocab);
    std::set<std::string> seen;
    for (std::string& w : vocab) {
        do {
            w.clear();
            const size_t len = 3 + rng() % 8;
            for (size_t i = 0; i < len; ++i) w += char('a' + rng() % 26);
        } while (!seen.insert(w).second || Analyzer::is_stop_word(w));
    }
    const Zipf zipf(o.n_vocab);
    std::printf(
        "query_latency: %zu chunks x %zu words (Zipf over %zu words), %zu-d unit vectors (%s), "
        "%zu queries of %zu words, ef_search %zu\n",
        o.n_chunks, o.words_per_chunk, o.n_vocab, o.dim,
        o.n_clusters ? ("around " + std::to_string(o.n_clusters) + " centres").c_str() : "uniform random directions",
        o.n_queries, o.query_words, o.ef_search);

    // The vectors are generated first (kept for the exact recall check), so the resident growth
    // measured around the build is the retriever's own.
    std::vector<float> vectors(o.n_chunks * o.dim);  // [n_chunks, dim]
    std::vector<std::vector<float>> centres(o.n_clusters);
    for (std::vector<float>& c : centres) c = random_unit(rng, o.dim);
    for (size_t c = 0; c < o.n_chunks; ++c) {
        const std::vector<float> v = draw_vector(rng, o.dim, centres);
        std::copy(v.begin(), v.end(), vectors.begin() + std::ptrdiff_t(c * o.dim));
    }
    const double rss_before = proc_status_mib("VmRSS");
    RetrieverOptions ropts;
    ropts.vectors.ef_search = o.ef_search;
    Retriever retriever(ropts);
    const Metadata meta = {{"source", "synthetic"}};
    double text_s = 0, add_s = 0;
    std::string text;
    for (size_t c = 0; c < o.n_chunks; ++c) {
        const auto t0 = Clock::now();
        text.clear();
        for (size_t w = 0; w < o.words_per_chunk; ++w) (text += vocab[zipf(rng)]) += ' ';
        const std::span<const float> v(vectors.data() + c * o.dim, o.dim);
        text_s += seconds_since(t0);
        const auto t1 = Clock::now();
        if (sinan::Status s = retriever.add(int64_t(c), text, v, meta); !s.is_ok()) {
            std::fprintf(stderr, "bench_query_latency: %s\n", s.message().c_str());
            return 1;
        }
        add_s += seconds_since(t1);
        if ((c + 1) % 10000 == 0) std::fprintf(stderr, "  %zu chunks indexed, %.1f s\n", c + 1, add_s);
    }
    const double rss_after = proc_status_mib("VmRSS");
    std::printf(
        "build: %.1f s for %zu chunks (%.0f chunks/s; corpus generation %.1f s not counted), "
        "resident +%.0f MiB (%.0f MiB peak)\n",
        add_s, o.n_chunks, double(o.n_chunks) / add_s, text_s, rss_after - rss_before, proc_status_mib("VmHWM"));

    std::vector<RetrievalQuery> queries(o.n_queries);
    for (RetrievalQuery& q : queries) {
        for (size_t w = 0; w < o.query_words; ++w) (q.text += vocab[zipf(rng)]) += ' ';
        q.embedding = draw_vector(rng, o.dim, centres);
        q.k = 10;
    }
    // Warm-up: one pass of a few queries per mode (page faults, analyser pool).
    for (RetrievalMode mode : {RetrievalMode::kLexical, RetrievalMode::kDense, RetrievalMode::kHybrid}) {
        for (size_t i = 0; i < std::min<size_t>(20, queries.size()); ++i) {
            RetrievalQuery q = queries[i];
            q.mode = mode;
            (void)retriever.search(q);
        }
    }
    for (RetrievalMode mode : {RetrievalMode::kLexical, RetrievalMode::kDense, RetrievalMode::kHybrid}) {
        std::vector<double> times;
        times.reserve(queries.size());
        for (RetrievalQuery q : queries) {
            q.mode = mode;
            const auto t0 = Clock::now();
            auto got = retriever.search(q);
            times.push_back(seconds_since(t0));
            if (!got.ok()) {
                std::fprintf(stderr, "bench_query_latency: %s\n", got.message().c_str());
                return 1;
            }
        }
        const Percentiles p = percentiles(times);
        std::printf("%-8s P50 %7.2f ms  P99 %7.2f ms  mean %7.2f ms%s\n", retrieval_mode_name(mode), p.p50_ms, p.p99_ms,
                    p.mean_ms,
                    mode == RetrievalMode::kHybrid ? "   (target: P99 < 50 ms at 100k chunks, 2 cores)" : "");
    }

    // Dense recall@10 of the graph against an exact scan of the same vectors, on the first 100 queries.
    const size_t n_check = std::min<size_t>(100, queries.size());
    size_t hits = 0;
    for (size_t i = 0; i < n_check; ++i) {
        RetrievalQuery q = queries[i];
        q.mode = RetrievalMode::kDense;
        auto got = retriever.search(q);
        std::vector<std::pair<float, int64_t>> exact(o.n_chunks);  // (-cosine, id)
        for (size_t c = 0; c < o.n_chunks; ++c) {
            float dot = 0;
            for (size_t d = 0; d < o.dim; ++d) dot += q.embedding[d] * vectors[c * o.dim + d];
            exact[c] = {-dot, int64_t(c)};
        }
        std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
        for (const RetrievedChunk& r : *got)
            for (size_t j = 0; j < 10; ++j) hits += exact[j].second == r.chunk_id;
    }
    std::printf("dense recall@10 vs exact scan: %.3f (%zu queries)\n", double(hits) / double(10 * n_check), n_check);
    return 0;
}
