// `sinan bench`: prompt-processing and generation speed of a model (llama-bench's pp<P> and
// tg<N> tests, engine/bench.h), printed beside the limit generation runs into on this machine:
// memory read bandwidth / bytes of weights read per token. --synthetic benchmarks a full-size
// model shape with random weights, written once to a cache file and reused.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/ascii.h"
#include "base/cpu.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/kv_type_option.h"
#include "cli/progress.h"
#include "engine/bench.h"
#include "engine/session.h"
#include "kernels/kernels.h"
#include "kernels/matmul_profile.h"
#include "model/model.h"
#include "model/synth.h"

namespace sinan::cli {

namespace {

namespace fs = std::filesystem;

// 1 GiB: several times any last-level cache, so the sum streams from memory.
constexpr uint64_t kBandwidthBufferBytes = uint64_t{1} << 30;

struct BenchArgs {
    std::string model, synthetic, cache_dir;
    // Lists, as llama-bench's: one test per value (and per depth).
    std::vector<int64_t> n_prompt{128};
    std::vector<int64_t> n_gen{32};
    std::vector<int> threads{0};  // 0: the physical cores; a list runs every test with each
    int repetitions = 5;
    int warmup = 1;
    int64_t n_batch = 512;
    std::vector<int64_t> n_depth{0};  // tokens in the context before each test
    int64_t swa_window = -1;  // -1: the model's own
    gguf::TensorType kv_type = gguf::TensorType::F16;
    bool json = false;
    bool profile = false;  // time every matrix product of the timed runs (kernels/matmul_profile.h)
};

// "q8_0" for Q8_0, "q4_k_m" for Q4_K_M: the spelling people use on the command line and in file names.
std::string lower_type_name(gguf::TensorType type) { return ascii_lower(gguf::type_name(type)); }

// The type or mix of --synthetic SHAPE:TYPE.
model::TypeMix synthetic_type(const BenchArgs& a) {
    const std::string name = a.synthetic.substr(a.synthetic.find(':') + 1);
    std::optional<model::TypeMix> type = model::type_mix_from_name(name);
    if (!type) fail("unknown type '" + name + "' in --synthetic (use one of: " + model::type_mix_names() + ")");
    return *type;
}

fs::path default_cache_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') return fs::path(xdg) / "sinan";
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
        return fs::path(home) / ".cache" / "sinan";
    fail("no cache directory for --synthetic: set XDG_CACHE_HOME or HOME, or give --cache-dir");
}

// The path of the synthetic model SHAPE:TYPE, written there first when it is not there yet.
// Files are written atomically (gguf::Writer), so one that exists is complete.
std::string synthetic_model(const BenchArgs& a) {
    const size_t colon = a.synthetic.find(':');
    if (colon == std::string::npos) fail("--synthetic takes SHAPE:TYPE, e.g. r1-distill-qwen-1.5b:q8_0");
    model::SynthOptions o;
    o.shape = a.synthetic.substr(0, colon);
    if (model::find_synth_shape(o.shape) == nullptr) {
        std::string shapes;
        for (const model::SynthShape& s : model::synth_shapes()) shapes += (shapes.empty() ? "" : ", ") + s.name;
        fail("unknown shape '" + o.shape + "' in --synthetic (use one of: " + shapes + ")");
    }
    o.type = synthetic_type(a);
    o.n_threads = *std::max_element(a.threads.begin(), a.threads.end());  // run_bench checked the list
    Result<uint64_t> bytes = model::synth_tensor_bytes(o);
    if (!bytes.ok()) fail(bytes.message());
    const fs::path dir = a.cache_dir.empty() ? default_cache_dir() : fs::path(a.cache_dir);
    const fs::path path = dir / ("synth-" + o.shape + "-" + ascii_lower(model::type_mix_name(o.type)) + ".gguf");
    if (fs::exists(path)) return path.string();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        fail(dir.string() + ": cannot create the cache directory (" + ec.message() +
             "); give another with --cache-dir");
    ProgressBar bar("writing " + path.string());
    Status s = model::synth_model(o, path.string(), [&](uint64_t done, uint64_t total) { bar.update(done, total); });
    if (!s.is_ok()) fail(s.message());
    bar.finish(o.shape + ", " + model::type_mix_name(o.type) + ", " + format_bytes(*bytes) + " of weights");
    return path.string();
}

// The type holding most of the weight bytes: what people call the model's type ("q8_0").
gguf::TensorType main_type(const gguf::File& file) {
    std::map<gguf::TensorType, uint64_t> bytes;
    for (const gguf::TensorInfo& t : file.tensors()) bytes[t.type] += t.n_bytes;
    auto best = bytes.begin();
    for (auto it = bytes.begin(); it != bytes.end(); ++it)
        if (it->second > best->second) best = it;
    return best == bytes.end() ? gguf::TensorType::F32 : best->first;
}

// The machine's limits, probed beside the runs: on a shared machine what a neighbour takes changes
// from second to second, so each run is set against probes taken just before and after it. Every
// probe is kept for the report's median and range.
struct Limits {
    engine::ReadProbe* read = nullptr;  // null: no memory for the probe
    ThreadPool* pool = nullptr;
    gguf::TensorType weight_type = gguf::TensorType::F32;
    std::vector<double> bandwidths;  // bytes/s, every read probe
    std::vector<double> peaks;       // multiply-adds/s, every arithmetic probe (none: no probe on this path)

    double bandwidth() {
        const double b = read != nullptr ? read->measure() : 0;
        if (b > 0) bandwidths.push_back(b);
        return b;
    }
    double peak() {
        const double p = engine::measure_arithmetic_peak(*pool, weight_type);
        if (p > 0) peaks.push_back(p);
        return p;
    }
};

// One test: pp<n> or tg<n>, at a depth.
struct TestSpec {
    bool generation;
    int64_t n, depth;
    std::string name() const {
        return (generation ? "tg" : "pp") + std::to_string(n) + (depth > 0 ? "@d" + std::to_string(depth) : "");
    }
};

struct TestResult {
    TestSpec spec;
    std::vector<double> rates;   // tokens/s of each timed run
    std::vector<double> limits;  // tokens/s the machine allowed around each run: the mean of the
                                 // limits probed before and after it (0: no probe)
    double seconds = 0;          // the timed runs' time, all of them
    std::vector<kernels::MatmulTiming> profile;  // with --profile: their matrix products
    engine::Summary rate() const { return engine::summarize(rates); }
    // The median of the limits, and of the runs' own fractions of theirs; 0 without a limit.
    double limit() const {
        std::vector<double> v;
        for (double l : limits)
            if (l > 0) v.push_back(l);
        return v.empty() ? 0 : engine::summarize(v).median;
    }
    double fraction() const {
        std::vector<double> v;
        for (size_t i = 0; i < rates.size(); ++i)
            if (limits[i] > 0) v.push_back(rates[i] / limits[i]);
        return v.empty() ? 0 : engine::summarize(v).median;
    }
};

// Runs one test; limit_now() probes the limit in tokens/s (0 where there is none).
TestResult run_test(model::Model& model, const BenchArgs& a, const TestSpec& spec,
                    const std::function<double()>& limit_now) {
    const int64_t n = spec.n;
    const bool generation = spec.generation;
    TestResult result{spec, {}, {}, 0, {}};
    kernels::MatmulProfile profile;
    const std::string name = spec.name();
    const engine::BenchSetup setup{.kv_type = a.kv_type, .n_batch = a.n_batch, .n_depth = spec.depth};
    const bool tty = ::isatty(2) != 0;
    double before = 0;                                     // the limit probed before this run
    for (int i = 1 - a.warmup; i <= a.repetitions; ++i) {  // runs up to 0 are warm-ups
        if (tty) {
            std::fprintf(stderr, "\r%s: %s %d/%d ", name.c_str(), i <= 0 ? "warm-up" : "run", std::max(i, 0),
                         a.repetitions);
            std::fflush(stderr);
        }
        if (i == 1) before = limit_now();
        engine::BenchSetup run_setup = setup;
        if (a.profile && i > 0) run_setup.profile = &profile;
        Result<double> s =
            generation ? engine::time_generation(model, n, run_setup) : engine::time_prompt(model, n, run_setup);
        if (!s.ok()) fail(name + ": " + s.message());
        if (i <= 0) continue;
        result.seconds += *s;
        const double after = limit_now();
        result.rates.push_back(static_cast<double>(n) / *s);
        result.limits.push_back(before > 0 && after > 0 ? (before + after) / 2 : 0);
        before = after;
    }
    if (tty) std::fprintf(stderr, "\r\033[K");
    result.profile = profile.timings();
    return result;
}

// What the report says of the model: the same for every thread count.
struct ModelFacts {
    std::string name, type;
    const char* path_name;
    bool read_ahead;  // kernels::decode_read_ahead of the main type
    uint64_t weight_bytes, bytes_per_token, packed_bytes;
    int64_t n_swa;
};

// Everything measured on one load of the model, with one thread count.
struct Measured {
    int threads;
    std::vector<TestResult> tests;
    uint64_t rss_peak_bytes;  // the process's own, the read probe's buffer left out
    PageUse pages;
    int64_t kv_cells;
    uint64_t kv_bytes;
    uint64_t probe_bytes;                   // 0: no memory for the read probe
    std::vector<double> bandwidths, peaks;  // every probe of the limits
};

// Loads the model on `threads` threads (0: the physical cores) and runs every test on it; fills
// `facts` from the model.
Measured measure(const BenchArgs& a, const std::string& path, const std::vector<TestSpec>& specs, int threads,
                 ModelFacts* facts) {
    model::LoadOptions lo;
    lo.n_threads = threads;
    lo.swa_window = a.swa_window;
    // Each load's own peak: what an earlier thread count's model took is freed and forgotten.
    engine::reset_peak_memory();
    Result<std::unique_ptr<model::Model>> loaded = model::Model::load(path, lo);
    if (!loaded.ok()) fail(loaded.message());
    model::Model& model = **loaded;
    require_kv_type(model, path, a.kv_type);
    const gguf::TensorType weight_type = main_type(model.file());
    *facts = ModelFacts{
        .name = a.synthetic.empty()
                    ? std::string(model.file().get_string("general.name").value_or(fs::path(path).stem().string()))
                    : a.synthetic.substr(0, a.synthetic.find(':')),
        // A synthetic mix by its name ("q4_k_m"); a file by the type most of its bytes are in.
        .type =
            a.synthetic.empty() ? lower_type_name(weight_type) : ascii_lower(model::type_mix_name(synthetic_type(a))),
        .path_name = kernels::matmul_path(weight_type),
        .read_ahead = kernels::decode_read_ahead(weight_type),
        .weight_bytes = model.file().tensor_bytes(),
        .bytes_per_token = engine::weight_bytes_per_token(model.file()),
        .packed_bytes = model.packed_weight_bytes(),
        .n_swa = model.hparams().n_swa};

    // The read probe's buffer is resident during the tests: the peak before it was mapped, and the
    // peak after the tests less the buffer, are the process's own (the weights, the larger test's KV
    // cache, the scratch).
    const engine::ResidentMemory before_probe = engine::resident_memory();
    const bool tty = ::isatty(2) != 0;
    if (tty) std::fprintf(stderr, "mapping the read probe's memory...");
    Result<engine::ReadProbe> read_probe = engine::ReadProbe::create(model.pool(), kBandwidthBufferBytes);
    if (tty) std::fprintf(stderr, "\r\033[K");
    Limits limits{read_probe.ok() ? &read_probe.value() : nullptr, &model.pool(), weight_type, {}, {}};

    Measured m{};
    m.threads = model.pool().n_threads();
    for (const TestSpec& spec : specs) {
        const double macs_per_token = engine::prompt_macs(model.file(), spec.n) / static_cast<double>(spec.n);
        m.tests.push_back(run_test(model, a, spec, [&] {
            return spec.generation ? limits.bandwidth() / static_cast<double>(facts->bytes_per_token)
                                   : limits.peak() / macs_per_token;
        }));
    }
    const engine::ResidentMemory after = engine::resident_memory();
    m.probe_bytes = read_probe.ok() ? read_probe->bytes() : 0;
    m.rss_peak_bytes = std::max(before_probe.peak_bytes, after.peak_bytes - std::min(after.peak_bytes, m.probe_bytes));
    m.pages = model.weight_pages();
    const model::Hparams& h = model.hparams();
    for (const TestSpec& t : specs)  // the largest test's cache
        m.kv_cells =
            std::max(m.kv_cells, engine::Session::cache_cells(
                                     model, (t.generation ? std::max<int64_t>(t.depth, 1) : t.depth) + t.n, a.n_batch));
    m.kv_bytes = static_cast<uint64_t>(m.kv_cells) *
                 model::KvCache::bytes_per_token(h.n_layer, h.n_embd_k_cache(), h.n_embd_v_cache(), a.kv_type);
    // A report always names both limits of the machine: probed once more where no test did.
    if (limits.bandwidths.empty()) limits.bandwidth();
    if (limits.peaks.empty()) limits.peak();
    m.bandwidths = std::move(limits.bandwidths);
    m.peaks = std::move(limits.peaks);
    return m;
}

// "1 thread", "2 threads".
std::string threads_text(int n) { return std::to_string(n) + (n == 1 ? " thread" : " threads"); }

// Median and range of a list of probes (all 0 when empty).
struct ProbeSummary {
    double median = 0, lo = 0, hi = 0;
    explicit ProbeSummary(const std::vector<double>& v) {
        if (v.empty()) return;
        median = engine::summarize(v).median;
        lo = *std::min_element(v.begin(), v.end());
        hi = *std::max_element(v.begin(), v.end());
    }
};

// The time of a test's timed runs spent in matrix products (--profile).
double matmul_seconds(const TestResult& t) {
    double sum = 0;
    for (const kernels::MatmulTiming& p : t.profile) sum += p.seconds;
    return sum;
}

// --profile's table for one test: each matrix and batch size, the longest total time first.
void print_profile(const TestResult& t) {
    std::printf("matrix products in %s's timed runs (--profile): %.1f%% of their %.2f s\n", t.spec.name().c_str(),
                t.seconds > 0 ? 100.0 * matmul_seconds(t) / t.seconds : 0.0, t.seconds);
    std::printf("  %-48s %7s %8s %10s %8s %7s\n", "matrix (type cols x rows)", "tokens", "calls", "ms/call", "GB/s",
                "share");
    for (const kernels::MatmulTiming& p : t.profile)
        std::printf("  %-48s %7lld %8lld %10.4f %8.1f %6.1f%%\n", p.matrix.c_str(), static_cast<long long>(p.n_tokens),
                    static_cast<long long>(p.calls), 1e3 * p.seconds / static_cast<double>(p.calls),
                    p.seconds > 0 ? static_cast<double>(p.bytes) / p.seconds / 1e9 : 0.0,
                    t.seconds > 0 ? 100.0 * p.seconds / t.seconds : 0.0);
}

void print_json(const BenchArgs& a, const ModelFacts& f, const std::vector<Measured>& groups) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const Measured& m : groups) {
        const ProbeSummary bandwidth(m.bandwidths), peak(m.peaks);
        for (const TestResult& t : m.tests) {
            const engine::Summary rate = t.rate();
            nlohmann::ordered_json j = {{"test", t.spec.name()},
                                        {"tokens_per_second", rate.mean},
                                        {"stddev", rate.stddev},
                                        {"median", rate.median}};
            if (t.limit() > 0) {
                j["limit_tokens_per_second"] = t.limit();
                j["fraction_of_limit"] = t.fraction();
            }
            nlohmann::ordered_json runs = nlohmann::ordered_json::array();
            for (size_t i = 0; i < t.rates.size(); ++i) {
                nlohmann::ordered_json run = {{"tokens_per_second", t.rates[i]}};
                if (t.limits[i] > 0) run["limit_tokens_per_second"] = t.limits[i];
                runs.push_back(run);
            }
            j["runs"] = runs;
            if (!m.bandwidths.empty()) {
                j["bandwidth_gb_per_s"] = bandwidth.median / 1e9;
                j["bandwidth_range_gb_per_s"] = {bandwidth.lo / 1e9, bandwidth.hi / 1e9};
            }
            j["bytes_per_token"] = f.bytes_per_token;
            if (!m.peaks.empty()) {
                j["arithmetic_gmacs_per_s"] = peak.median / 1e9;
                j["arithmetic_range_gmacs_per_s"] = {peak.lo / 1e9, peak.hi / 1e9};
            }
            j["model"] = f.name;
            j["type"] = f.type;
            j["threads"] = m.threads;
            j["cpu"] = cpu::describe_processor();
            j["repetitions"] = a.repetitions;
            j["path"] = f.path_name;
            j["decode_read_ahead"] = f.read_ahead;
            j["packed_weights_bytes"] = f.packed_bytes;
            j["rss_peak_bytes"] = m.rss_peak_bytes;
            j["weights_resident_bytes"] = m.pages.resident;
            j["weights_huge_page_bytes"] = m.pages.huge;
            j["weights_bytes"] = f.weight_bytes;
            j["kv_cache_bytes"] = m.kv_bytes;
            j["kv_type"] = lower_type_name(a.kv_type);
            j["batch_size"] = a.n_batch;
            j["n_depth"] = t.spec.depth;
            j["swa_window"] = f.n_swa;
            if (a.profile) {
                nlohmann::ordered_json rows = nlohmann::ordered_json::array();
                for (const kernels::MatmulTiming& p : t.profile)
                    rows.push_back(
                        {{"matrix", p.matrix},
                         {"n_tokens", p.n_tokens},
                         {"calls", p.calls},
                         {"seconds", p.seconds},
                         {"gb_per_s", p.seconds > 0 ? static_cast<double>(p.bytes) / p.seconds / 1e9 : 0.0}});
                j["matmul_seconds_share"] = t.seconds > 0 ? matmul_seconds(t) / t.seconds : 0.0;
                j["matmul_profile"] = rows;
            }
            out.push_back(j);
        }
    }
    std::printf("%s\n", out.dump(2).c_str());
}

void print_text(const BenchArgs& a, const ModelFacts& f, const std::vector<TestSpec>& specs,
                const std::vector<Measured>& groups) {
    std::string threads;  // "2 threads", "1,2 threads"
    for (const Measured& m : groups) threads += (threads.empty() ? "" : ",") + std::to_string(m.threads);
    threads += groups.size() == 1 && groups[0].threads == 1 ? " thread" : " threads";
    std::printf("model: %s (%s), %s of weights, %s read per generated token; %s; kernels: %s\n", f.name.c_str(),
                f.type.c_str(), format_bytes(f.weight_bytes).c_str(), format_bytes(f.bytes_per_token).c_str(),
                threads.c_str(), f.path_name);
    std::printf("cpu: %s; decode read-ahead %s (SINAN_READ_AHEAD=on|off)\n", cpu::describe_processor().c_str(),
                f.read_ahead ? "on" : "off");
    if (f.packed_bytes > 0)
        std::printf("weights: %s repacked at load for the matrix kernel (SINAN_PACK_WEIGHTS=0 uses them in place)\n",
                    format_bytes(f.packed_bytes).c_str());
    if (f.n_swa > 0)
        std::printf("sliding window: %lld positions; the KV cache holds %lld cells (window + batch of %lld)\n",
                    static_cast<long long>(f.n_swa), static_cast<long long>(groups[0].kv_cells),
                    static_cast<long long>(a.n_batch));
    if (std::any_of(specs.begin(), specs.end(), [](const TestSpec& t) { return t.depth > 0; }))
        std::printf("context depth: a test named @dN ran after N tokens in the cache (computed untimed)\n");
    for (const Measured& m : groups) {
        if (groups.size() > 1) std::printf("\n== %s\n", threads_text(m.threads).c_str());
        const ProbeSummary bandwidth(m.bandwidths), peak(m.peaks);
        if (!m.bandwidths.empty())
            std::printf(
                "read bandwidth: %.2f GB/s (median of %zu probes, %.1f-%.1f; %s summed by %s, best of 3 passes "
                "each)\n",
                bandwidth.median / 1e9, m.bandwidths.size(), bandwidth.lo / 1e9, bandwidth.hi / 1e9,
                format_bytes(m.probe_bytes).c_str(), threads_text(m.threads).c_str());
        else
            std::printf("read bandwidth: not measured (no memory for the probe's %s)\n",
                        format_bytes(kBandwidthBufferBytes).c_str());
        if (!m.peaks.empty())
            std::printf(
                "arithmetic peak: %.1f G multiply-adds/s (median of %zu probes, %.1f-%.1f; %s kernels' "
                "instruction, %s)\n",
                peak.median / 1e9, m.peaks.size(), peak.lo / 1e9, peak.hi / 1e9, f.path_name,
                threads_text(m.threads).c_str());
        std::printf("%-14s %12s %10s %12s %14s %10s\n", "test", "tokens/s", "+/- sd", "median", "limit tok/s",
                    "of limit");
        for (const TestResult& t : m.tests) {
            const engine::Summary rate = t.rate();
            const std::string name = t.spec.name();
            if (t.limit() > 0)
                std::printf("%-14s %12.2f %10.2f %12.2f %14.2f %9.1f%%\n", name.c_str(), rate.mean, rate.stddev,
                            rate.median, t.limit(), 100.0 * t.fraction());
            else
                std::printf("%-14s %12.2f %10.2f %12.2f %14s %10s\n", name.c_str(), rate.mean, rate.stddev, rate.median,
                            "-", "-");
        }
        const uint64_t budget = f.weight_bytes + m.kv_bytes;
        std::printf("resident memory: peak %s; weights %s + KV cache (%s) %s = %s (%.1f%% of it; limit 110%%)\n",
                    format_bytes(m.rss_peak_bytes).c_str(), format_bytes(f.weight_bytes).c_str(),
                    lower_type_name(a.kv_type).c_str(), format_bytes(m.kv_bytes).c_str(), format_bytes(budget).c_str(),
                    100.0 * static_cast<double>(m.rss_peak_bytes) / static_cast<double>(budget));
        if (m.pages.resident > 0)
            std::printf(
                "weights on 2 MiB pages: %.0f%% of the %s resident (a file's pages cached before it was mapped "
                "keep their size)\n",
                100.0 * static_cast<double>(m.pages.huge) / static_cast<double>(m.pages.resident),
                format_bytes(m.pages.resident).c_str());
        if (a.profile)
            for (const TestResult& t : m.tests) print_profile(t);
    }
    std::printf(
        "(%d runs after %d warm-up; pp in batches of %lld; limits: tg = read bandwidth / bytes per token, "
        "pp = arithmetic peak / multiply-adds per token, each probed before and after every run; \"of limit\": the "
        "median of the runs' own fractions of their limit)\n",
        a.repetitions, a.warmup, static_cast<long long>(a.n_batch));
}

void run_bench(const BenchArgs& a) {
    if (a.model.empty() == a.synthetic.empty())
        fail("give a model with -m FILE or --synthetic SHAPE:TYPE (one of them)");
    std::vector<TestSpec> specs;  // llama-bench's order: at each depth, the pp tests, then the tg tests
    for (int64_t d : a.n_depth) {
        if (d < 0) fail("-d must be 0 (an empty context) or more");
        for (int64_t p : a.n_prompt) {
            if (p < 0) fail("-p must be 0 (no pp test) or more");
            if (p > 0) specs.push_back({false, p, d});
        }
        for (int64_t n : a.n_gen) {
            if (n < 0) fail("-n must be 0 (no tg test) or more");
            if (n > 0) specs.push_back({true, n, d});
        }
    }
    if (specs.empty()) fail("-p and -n are both 0: nothing to measure");
    if (a.repetitions < 1) fail("-r must be at least 1");
    if (a.warmup < 0) fail("--warmup must be at least 0");
    if (a.n_batch < 1) fail("-b must be at least 1");
    if (a.swa_window < -1) fail("--swa-window must be 0 (none), N > 0, or left out (the model's own)");
    if (a.threads.empty()) fail("-t needs a thread count (or leave it out for the physical cores)");
    for (int t : a.threads)
        if (t < 0) fail("-t must be at least 1 (or leave it out for the physical cores)");
    const std::string path = a.model.empty() ? synthetic_model(a) : a.model;

    ModelFacts facts{};
    std::vector<Measured> groups;
    for (int t : a.threads) groups.push_back(measure(a, path, specs, t, &facts));  // one load at a time
    if (a.json)
        print_json(a, facts, groups);
    else
        print_text(a, facts, specs, groups);
}

}  // namespace

void register_bench(CLI::App& app) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand(
        "bench",
        "Prompt processing (pp) and generation (tg) speed in tokens/s, beside the generation limit of this "
        "machine (memory read bandwidth / bytes of weights per token)");
    cmd->footer(
        "Environment: SINAN_PACK_WEIGHTS=0 uses the weights in place instead of repacking them for the matrix "
        "kernel; SINAN_HUGE_PAGES=0 keeps weights and the read probe on small pages (faster to load on a VM whose "
        "host takes free memory back, slower to read; docs/model.md).");
    cmd->add_option("-m,--model", a->model, "The .gguf model");
    cmd->add_option("--synthetic", a->synthetic,
                    "Benchmark a known shape with random weights, SHAPE:TYPE (e.g. r1-distill-qwen-1.5b:q8_0); "
                    "written once to the cache directory");
    cmd->add_option("--cache-dir", a->cache_dir,
                    "Where --synthetic models are kept (default: $XDG_CACHE_HOME/sinan or ~/.cache/sinan)");
    cmd->add_option("-p,--n-prompt", a->n_prompt,
                    "Prompt tokens of the pp test; a list (-p 128,512) runs one test each (0: no pp test)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-n,--n-gen", a->n_gen,
                    "Generated tokens of the tg test; a list (-n 32,128) runs one test each (0: no tg test)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-d,--n-depth", a->n_depth,
                    "Tokens already in the context (computed untimed) before each test, as llama-bench's -d: "
                    "tg32@d16384 is decoding after a 16K-token prompt; a list (-d 0,4096) runs every test at each")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-t,--threads", a->threads,
                    "Threads (default: physical cores); a list (-t 1,2,4) loads the model for each and runs every "
                    "test with it")
        ->delimiter(',');
    add_kv_type_option(cmd, &a->kv_type);
    cmd->add_option("-r,--repetitions", a->repetitions, "Timed runs of each test, after the warm-up")
        ->capture_default_str();
    cmd->add_option("--warmup", a->warmup, "Untimed runs of each test first (0 for long prompts)")
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", a->n_batch, "Prompt tokens per forward pass in the pp test")
        ->capture_default_str();
    cmd->add_option("--swa-window", a->swa_window,
                    "Sliding-window attention over the last N positions, the KV cache keeping only those "
                    "(0 = full attention; default: the model's own)");
    cmd->add_flag("--json", a->json, "Print a JSON array, one object per test");
    cmd->add_flag("--profile", a->profile,
                  "Also time every matrix product of the timed runs: per matrix (type and shape) and batch size, "
                  "its calls, time, share of the test and GB/s of weights read (in --json: matmul_profile)");
    cmd->callback([a] { run_bench(*a); });
}

}  // namespace sinan::cli
