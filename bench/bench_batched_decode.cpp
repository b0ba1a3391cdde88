// Batched decode: tokens/s when 1, 2, 4, 8 (or --sequences) sequences decode together, and the
// ratio to one sequence (to the first count given). Measured two ways:
//   forward:   Model::forward on a batch of one decode token per sequence (the model alone);
//   scheduler: engine::Scheduler running that many requests at once (sampling and streaming
//              included; greedy unless --temperature, with --top-p as R1's defaults 0.6 / 0.95
//              would sample): the tokens decoded after each request's first (which comes
//              from the prompt's logits) over the longest decode period (prompt computed ->
//              finished, GenerateResult::generate_seconds), so the prefill is not counted. The
//              requests start together (see scheduler_rate), so every step of that period decodes
//              all of them, as a forward step does. Beside it, "sampling": the share of the
//              scheduler's forward-pass and sampling time that went to sampling (SchedulerStats;
//              with a large vocabulary and a small model, a third of a step).
// The target it is measured against (issue 4): 8 sequences decoded together reach at least 5x the
// tokens/s of one sequence. Decoding one token reads every weight once, so a batch of n tokens
// costs about the same memory traffic as one: the ratio shows how close the engine gets to that.
//
// Then the serving benchmark's cycle (--cycle P,G; bench/serve sends requests of about 130 prompt
// tokens for 64 answer tokens, each stream one after another; P 0 skips this part), for the same
// counts n of streams:
//   forward:   the cycle as the model alone runs it, one part after the other: n prompts of P
//              tokens in forward passes of at most 512 tokens, the scheduler's batch here
//              (prompt tok/s; their logits give each answer's first token), then G - 1 decode
//              steps of the n sequences (decode tok/s); n * G answer tokens over the two times
//              (answer tok/s);
//   scheduler: n client threads, each sending --cycle-rounds such requests one after another
//              through engine::Scheduler (every prompt different, end of generation banned so each
//              answer is G tokens, sampling as above): answer tokens over the wall time, and its
//              sampling share as above.
// So the served ratio (issue 6's target: 8 streams at least 4x one, bench/serve over HTTP) is set
// beside what the model's own rates allow for the same work, and the scheduler's share of that.
// (Streams started apart, so that prompt chunks ride in other streams' decode steps and share their
// weight reads, were no faster: the prompts are bound by arithmetic; bench/NOTES.md, 2026-12-07.)
//
// bench_batched_decode [--model FILE.gguf] [--steps N] [--repeat R] [--threads T] [--sequences 1,2,4,8]
//                      [--temperature T] [--top-p P] [--cycle P,G] [--cycle-rounds R]
// --steps 0 skips the decode part. Without --model: $SINAN_BENCH_MODEL, else a tiny synthetic Q8_0
// model in the temp directory. Other arguments (--benchmark_* from scripts/run-bench.sh) are ignored.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/bench.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "model/synth.h"
#include "text/tokenizer.h"

namespace {

using namespace sinan;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int32_t kPromptTokens = 16;

// Tokens/s of `steps` forward passes of one decode token for each of n_seq sequences.
double forward_rate(model::Model& m, int32_t n_seq, int32_t steps) {
    model::KvCache cache = m.make_cache(static_cast<int64_t>(n_seq) * (kPromptTokens + steps));
    std::vector<float> logits;
    model::Batch batch;
    for (int32_t s = 0; s < n_seq; ++s)
        for (int32_t p = 0; p < kPromptTokens; ++p)
            batch.add((s * 31 + p * 7) % m.hparams().n_vocab, p, s, p + 1 == kPromptTokens);
    if (!m.forward(batch, cache, &logits).is_ok()) std::abort();
    const Clock::time_point t0 = Clock::now();
    for (int32_t i = 0; i < steps; ++i) {
        batch.clear();
        for (int32_t s = 0; s < n_seq; ++s) batch.add((s + i) % m.hparams().n_vocab, kPromptTokens + i, s, true);
        if (!m.forward(batch, cache, &logits).is_ok()) std::abort();
    }
    return static_cast<double>(n_seq) * steps / seconds_since(t0);
}

// How the measured requests sample (the placeholder is always greedy).
struct Sampling {
    float temperature = 0.0f, top_p = 1.0f;
};

// A request with end-of-generation banned, so it runs to n_predict (-1: until cancelled).
engine::Request bench_request(const text::Tokenizer& tok, std::vector<int32_t> prompt, int64_t n_predict,
                              Sampling sampling = {}) {
    engine::Request r;
    r.prompt = std::move(prompt);
    r.options.n_predict = n_predict;
    r.options.sampling.temperature = sampling.temperature;
    r.options.sampling.top_p = sampling.top_p;
    r.options.sampling.seed = 1;
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
        if (tok.is_eog(id)) r.options.sampling.logit_bias[id] = sampling::kBanBias;
    return r;
}

std::shared_ptr<engine::RequestHandle> submit_or_exit(engine::Scheduler& s, engine::Request r) {
    engine::Scheduler::Submitted sub = s.submit(std::move(r));
    if (!sub.handle) {
        std::fprintf(stderr, "bench_batched_decode: %s\n", sub.message.c_str());
        std::exit(2);
    }
    return sub.handle;
}

// Decoded tokens/s of n_seq requests run together by the scheduler.
// Submitted to an idle scheduler, the first request is admitted at once and its prompt computed
// alone; the others' prompts are computed in the next step, which also decodes the first one, so
// the first request's decode period would include a prefill of n_seq - 1 prompts (at 8 sequences
// on the 1.5B shape, a 1.2 s step among 0.25 s ones). So the requests start together: a
// placeholder request reserves every cache cell, the measured requests queue behind it (first come,
// first served: the head of the queue waits for cells), and cancelling the placeholder frees the
// cells in one step; the next admits the whole queue, one step computes every prompt, and the
// requests decode in lockstep, as in forward_rate.
// A scheduler's tokens/s, and the share of its forward-pass and sampling time spent sampling.
struct SchedulerRate {
    double tokens_per_second = 0, sampling_share = 0;
};

double sampling_share(const engine::SchedulerStats& s) {
    const double busy = s.forward_seconds + s.sampling_seconds;
    return busy > 0 ? s.sampling_seconds / busy : 0.0;
}

SchedulerRate scheduler_rate(model::Model& m, const text::Tokenizer& tok, int32_t n_seq, int32_t steps,
                             Sampling sampling) {
    const int64_t n_held = kPromptTokens + steps - 1;  // cells one request reserves (its last token is never fed)
    const int64_t n_cells = n_seq * n_held;
    engine::Scheduler s(m, tok,
                        {.n_parallel = n_seq, .n_ctx = n_cells, .n_cells = n_cells, .n_batch = 512, .max_queue = 64});
    // One token no measured prompt starts with (those start with i * 31), so nothing of its cells is
    // shared; with no token limit it reserves n_ctx = every cell.
    std::shared_ptr<engine::RequestHandle> placeholder = submit_or_exit(s, bench_request(tok, {1}, -1));
    engine::Event e;
    if (!placeholder->next(&e, std::chrono::minutes(10)) || e.type != engine::Event::Type::kText) std::exit(2);
    std::vector<std::shared_ptr<engine::RequestHandle>> handles;
    for (int32_t i = 0; i < n_seq; ++i) {
        std::vector<int32_t> prompt;
        for (int32_t p = 0; p < kPromptTokens; ++p) prompt.push_back((i * 31 + p * 7) % tok.n_vocab());
        handles.push_back(submit_or_exit(s, bench_request(tok, std::move(prompt), steps, sampling)));
    }
    placeholder->cancel();
    int64_t n_tokens = 0;
    double window = 0;
    for (auto& h : handles) {
        while (h->next(&e, std::chrono::minutes(10)) && e.type == engine::Event::Type::kText) {
        }
        if (e.type != engine::Event::Type::kFinished) std::exit(2);
        n_tokens += e.result.n_generated - 1;
        window = std::max(window, e.result.generate_seconds);
    }
    return {static_cast<double>(n_tokens) / window, sampling_share(s.stats())};
}

// The serving benchmark's request cycle (see the top of the file).
struct Cycle {
    int32_t prompt = 130, answer = 64, rounds = 2;
};

// The tokens of stream s's request r (r -1: the forward part's): different for every (s, r), so
// no prefix is shared.
std::vector<int32_t> cycle_prompt(const Cycle& c, int32_t n_vocab, int32_t s, int32_t r) {
    std::mt19937 rng(static_cast<uint32_t>(1000 * s + r + 1));
    std::vector<int32_t> p(static_cast<size_t>(c.prompt));
    for (int32_t& t : p) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
    return p;
}

struct CycleRates {
    double prompt = 0, decode = 0, answer = 0;  // tok/s: prompt tokens, decoded tokens, answer tokens
};

// The scheduler's batch in both cycles: at most this many tokens a forward pass.
constexpr int32_t kCycleBatch = 512;

// One cycle for n streams through Model::forward alone: n prompts in passes of kCycleBatch tokens,
// as the scheduler takes them (whose logits give each answer's first token; the 8 prompts of 130
// tokens in one pass of 1,040 ran 184-206 tok/s, in passes of 512 about 10% faster:
// bench/NOTES.md, 2026-12-08), then answer - 1 decode steps of n tokens.
CycleRates cycle_forward(model::Model& m, const Cycle& c, int32_t n) {
    model::KvCache cache = m.make_cache(static_cast<int64_t>(n) * (c.prompt + c.answer));
    const int32_t n_vocab = m.hparams().n_vocab;
    std::vector<float> logits;
    std::vector<model::Batch> passes(1);
    for (int32_t s = 0; s < n; ++s) {
        const std::vector<int32_t> p = cycle_prompt(c, n_vocab, s, -1);
        for (int32_t i = 0; i < c.prompt; ++i) {
            if (passes.back().size() == static_cast<size_t>(kCycleBatch)) passes.emplace_back();
            passes.back().add(p[static_cast<size_t>(i)], i, s, i + 1 == c.prompt);
        }
    }
    Clock::time_point t0 = Clock::now();
    for (const model::Batch& pass : passes)
        if (!m.forward(pass, cache, &logits).is_ok()) std::abort();
    const double prompt_seconds = seconds_since(t0);
    model::Batch batch;
    t0 = Clock::now();
    for (int32_t k = 0; k + 1 < c.answer; ++k) {
        batch.clear();
        for (int32_t s = 0; s < n; ++s) batch.add((s * 31 + k * 7) % n_vocab, c.prompt + k, s, true);
        if (!m.forward(batch, cache, &logits).is_ok()) std::abort();
    }
    const double decode_seconds = seconds_since(t0);
    return {static_cast<double>(n) * c.prompt / prompt_seconds,
            c.answer > 1 ? static_cast<double>(n) * (c.answer - 1) / decode_seconds : 0.0,
            static_cast<double>(n) * c.answer / (prompt_seconds + decode_seconds)};
}

// Answer tokens/s of n streams, each sending c.rounds requests one after another through the
// scheduler, as bench/serve's streams do over HTTP.
SchedulerRate cycle_scheduler(model::Model& m, const text::Tokenizer& tok, const Cycle& c, int32_t n,
                              Sampling sampling) {
    engine::Scheduler s(m, tok,
                        {.n_parallel = n, .n_ctx = c.prompt + c.answer, .n_batch = kCycleBatch, .max_queue = 64});
    std::atomic<int64_t> answered{0};
    const Clock::time_point t0 = Clock::now();
    std::vector<std::thread> streams;
    for (int32_t i = 0; i < n; ++i)
        streams.emplace_back([&, i] {
            for (int32_t r = 0; r < c.rounds; ++r) {
                std::shared_ptr<engine::RequestHandle> h =
                    submit_or_exit(s, bench_request(tok, cycle_prompt(c, tok.n_vocab(), i, r), c.answer, sampling));
                engine::Event e;
                while (h->next(&e, std::chrono::minutes(10)) && e.type == engine::Event::Type::kText) {
                }
                if (e.type != engine::Event::Type::kFinished) std::exit(2);
                answered += e.result.n_generated;
            }
        });
    for (std::thread& t : streams) t.join();
    return {static_cast<double>(answered.load()) / seconds_since(t0), sampling_share(s.stats())};
}

}  // namespace

int main(int argc, char** argv) {
    std::string path;
    int32_t steps = 32, repeat = 3, threads = 0;
    Sampling sampling;
    Cycle cycle;
    std::vector<int32_t> counts = {1, 2, 4, 8};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc)
            path = argv[++i];
        else if (a == "--steps" && i + 1 < argc)
            steps = std::max(0, std::atoi(argv[++i]));
        else if (a == "--repeat" && i + 1 < argc)
            repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc)
            threads = std::max(0, std::atoi(argv[++i]));
        else if (a == "--sequences" && i + 1 < argc) {
            counts.clear();
            std::istringstream list(argv[++i]);
            for (std::string n; std::getline(list, n, ',');)
                if (std::atoi(n.c_str()) > 0) counts.push_back(std::atoi(n.c_str()));
        } else if (a == "--temperature" && i + 1 < argc) {
            sampling.temperature = static_cast<float>(std::atof(argv[++i]));
        } else if (a == "--top-p" && i + 1 < argc) {
            sampling.top_p = static_cast<float>(std::atof(argv[++i]));
        } else if (a == "--cycle" && i + 1 < argc) {
            const std::string v = argv[++i];
            const size_t comma = v.find(',');
            cycle.prompt = std::max(0, std::atoi(v.c_str()));
            cycle.answer = comma == std::string::npos ? 0 : std::atoi(v.c_str() + comma + 1);
            if (cycle.prompt > 0 && cycle.answer < 1) {
                std::fprintf(stderr, "bench_batched_decode: --cycle needs PROMPT,ANSWER token counts, e.g. 130,64\n");
                return 2;
            }
        } else if (a == "--cycle-rounds" && i + 1 < argc) {
            cycle.rounds = std::max(1, std::atoi(argv[++i]));
        } else if (a.rfind("--benchmark", 0) != 0) {
            std::fprintf(stderr,
                         "usage: bench_batched_decode [--model FILE.gguf] [--steps N] [--repeat R] [--threads T] "
                         "[--sequences 1,2,4,8] [--temperature T] [--top-p P] [--cycle P,G] [--cycle-rounds R]\n");
            return 2;
        }
    }
    if (counts.empty()) {
        std::fprintf(stderr, "bench_batched_decode: --sequences needs a list of counts above 0, e.g. 1,2,4,8\n");
        return 2;
    }
    if (path.empty() && std::getenv("SINAN_BENCH_MODEL")) path = std::getenv("SINAN_BENCH_MODEL");
    if (path.empty()) {
        path = (std::filesystem::temp_directory_path() / "sinan_bench_batched_decode_tiny.gguf").string();
        model::SynthOptions o;
        o.shape = "tiny";
        o.type = gguf::TensorType::Q8_0;
        if (Status st = model::synth_model(o, path); !st.is_ok()) {
            std::fprintf(stderr, "bench_batched_decode: %s\n", st.message().c_str());
            return 2;
        }
    }
    Result<std::unique_ptr<model::Model>> m = model::Model::load(path, {.n_threads = threads});
    if (!m.ok()) {
        std::fprintf(stderr, "bench_batched_decode: %s\n", m.message().c_str());
        return 2;
    }
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) {
        std::fprintf(stderr, "bench_batched_decode: %s\n", tok.message().c_str());
        return 2;
    }
    std::printf("model %s, median of %d runs, %d threads\n", path.c_str(), repeat, (*m)->pool().n_threads());
    if (sampling.temperature > 0)
        std::printf("scheduler's requests sample at temperature %g, top-p %g\n", sampling.temperature, sampling.top_p);
    if (steps > 0) {
        std::printf("decoding: %d steps per run\n", steps);
        std::printf("%8s %14s %10s %16s %10s %9s\n", "n_seq", "forward tok/s", "x first", "scheduler tok/s", "x first",
                    "sampling");
        double forward_one = 0, scheduler_one = 0;
        for (int32_t n : counts) {
            std::vector<double> f, s, share;
            for (int r = 0; r < repeat; ++r) {
                f.push_back(forward_rate(**m, n, steps));
                const SchedulerRate sr = scheduler_rate(**m, *tok, n, steps, sampling);
                s.push_back(sr.tokens_per_second);
                share.push_back(sr.sampling_share);
            }
            const double fm = engine::summarize(f).median, sm = engine::summarize(s).median;
            if (forward_one == 0) {
                forward_one = fm;
                scheduler_one = sm;
            }
            std::printf("%8d %14.1f %9.2fx %16.1f %9.2fx %8.0f%%\n", n, fm, fm / forward_one, sm, sm / scheduler_one,
                        100 * engine::summarize(share).median);
        }
        std::printf("target (issue 4): 8 sequences >= 5x the tokens/s of 1\n");
    }
    if (cycle.prompt > 0) {
        std::printf("served cycle: requests of %d prompt tokens for %d answer tokens, %d a stream one after another\n",
                    cycle.prompt, cycle.answer, cycle.rounds);
        std::printf("%8s %13s %13s %13s %9s %16s %11s %9s %9s\n", "streams", "prompt tok/s", "decode tok/s",
                    "answer tok/s", "x first", "scheduler tok/s", "of forward", "x first", "sampling");
        double forward_one = 0, scheduler_one = 0;
        for (int32_t n : counts) {
            std::vector<double> p, d, a, s, share;
            for (int r = 0; r < repeat; ++r) {
                const CycleRates f = cycle_forward(**m, cycle, n);
                p.push_back(f.prompt);
                d.push_back(f.decode);
                a.push_back(f.answer);
                const SchedulerRate sr = cycle_scheduler(**m, *tok, cycle, n, sampling);
                s.push_back(sr.tokens_per_second);
                share.push_back(sr.sampling_share);
            }
            const double am = engine::summarize(a).median, sm = engine::summarize(s).median;
            if (forward_one == 0) {
                forward_one = am;
                scheduler_one = sm;
            }
            std::printf("%8d %13.1f %13.1f %13.1f %8.2fx %16.1f %10.0f%% %8.2fx %8.0f%%\n", n,
                        engine::summarize(p).median, engine::summarize(d).median, am, am / forward_one, sm,
                        100 * sm / am, sm / scheduler_one, 100 * engine::summarize(share).median);
        }
        std::printf(
            "target (issue 6, bench/serve over HTTP): 8 streams >= 4x the tokens/s of 1; the forward columns are"
            " the model's own rates for the same work\n");
    }
    return 0;
}
