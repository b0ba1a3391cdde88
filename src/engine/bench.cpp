#include "engine/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "base/check.h"
#include "base/cpu.h"
#include "base/huge_pages.h"
#include "engine/session.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/matmul_profile.h"

namespace sinan::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A token id every run uses, inside the vocabulary (the embedding lookup is then a real row).
constexpr int32_t kGenerationToken = 1;

// The tests' prompt tokens: the same pseudo-random ids in every run and every repetition.
std::vector<int32_t> prompt_tokens(const model::Model& model, int64_t n) {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(model.hparams().n_vocab - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = id(rng);
    return tokens;
}

// Words are summed in groups of 32 (256 bytes): each thread's range is whole groups.
constexpr uint64_t kGroupWords = 32;

// A mixture of experts' routing: expert_count experts per MoE layer, expert_used_count used per token.
struct Experts {
    uint64_t n_expert = 0, n_used = 0;

    explicit Experts(const gguf::File& file) {
        const std::string arch(file.architecture());
        n_expert = static_cast<uint64_t>(std::max<int64_t>(0, file.get_int(arch + ".expert_count").value_or(0)));
        n_used = static_cast<uint64_t>(std::max<int64_t>(0, file.get_int(arch + ".expert_used_count").value_or(0)));
    }
    // The routed experts of one layer (*_exps, [.., .., expert_count]): a token uses n_used of them.
    bool routed(const gguf::TensorInfo& t) const {
        return t.name.ends_with("_exps.weight") && t.shape.size() == 3 && n_expert > 0 && n_used > 0 &&
               t.shape[2] == n_expert;
    }
};

// Records the matrix products into `profile` (where not null) while in scope.
class ProfileScope {
  public:
    explicit ProfileScope(kernels::MatmulProfile* profile) : on_(profile != nullptr) {
        if (on_) kernels::set_matmul_profile(profile);
    }
    ~ProfileScope() {
        if (on_) kernels::set_matmul_profile(nullptr);
    }
    ProfileScope(const ProfileScope&) = delete;
    ProfileScope& operator=(const ProfileScope&) = delete;

  private:
    bool on_;
};

}  // namespace

Result<std::unique_ptr<Session>> session_at_depth(model::Model& model, int64_t n_ctx, const BenchSetup& setup) {
    auto session = std::make_unique<Session>(model, n_ctx, setup.n_batch, setup.kv_type);
    const std::vector<int32_t> tokens =
        setup.n_depth > 0 ? prompt_tokens(model, setup.n_depth) : std::vector<int32_t>{kGenerationToken};
    SINAN_RETURN_IF_ERROR(session->set_prompt(tokens));
    return session;
}

Result<double> time_prompt(model::Model& model, int64_t n_prompt, const BenchSetup& setup) {
    const int64_t n_tokens = setup.n_depth + n_prompt;
    const std::vector<int32_t> tokens = prompt_tokens(model, n_tokens);
    std::unique_ptr<Session> session;
    if (setup.n_depth > 0) {
        Result<std::unique_ptr<Session>> s = session_at_depth(model, n_tokens, setup);
        if (!s.ok()) return s.status();
        session = std::move(s).value();
    } else {
        session = std::make_unique<Session>(model, n_tokens, setup.n_batch, setup.kv_type);
    }
    const ProfileScope profiled(setup.profile);
    const Clock::time_point start = Clock::now();
    SINAN_RETURN_IF_ERROR(session->set_prompt(tokens));  // keeps the depth, computes the rest
    return seconds_since(start);
}

Result<double> time_generation(model::Model& model, int64_t n_gen, const BenchSetup& setup) {
    Result<std::unique_ptr<Session>> session =
        session_at_depth(model, std::max<int64_t>(setup.n_depth, 1) + n_gen, setup);
    if (!session.ok()) return session.status();
    const ProfileScope profiled(setup.profile);
    const Clock::time_point start = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) SINAN_RETURN_IF_ERROR((*session)->append(kGenerationToken));
    return seconds_since(start);
}

Summary summarize(std::vector<double> values) {
    SINAN_CHECK(!values.empty(), "summarize of no values");
    Summary s;
    const double n = static_cast<double>(values.size());
    for (double v : values) s.mean += v / n;
    if (values.size() > 1) {
        double sq = 0;
        for (double v : values) sq += (v - s.mean) * (v - s.mean);
        s.stddev = std::sqrt(sq / (n - 1));
    }
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    s.median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    return s;
}

uint64_t weight_bytes_per_token(const gguf::File& file) {
    const bool embedding_is_output = file.find_tensor("output.weight") == nullptr;
    const Experts experts(file);
    uint64_t bytes = 0;
    for (const gguf::TensorInfo& t : file.tensors()) {
        if (t.name == "token_embd.weight" && !embedding_is_output && t.n_rows() > 0)
            bytes += t.n_bytes / t.n_rows();
        else if (experts.routed(t))
            bytes += t.n_bytes / experts.n_expert * experts.n_used;
        else
            bytes += t.n_bytes;
    }
    return bytes;
}

Result<ReadProbe> ReadProbe::create(ThreadPool& pool, uint64_t bytes) {
    const uint64_t n_groups = std::max<uint64_t>(1, bytes / (kGroupWords * sizeof(uint64_t)));
    Result<HugePageBuffer> memory = HugePageBuffer::allocate(n_groups * kGroupWords * sizeof(uint64_t));
    if (!memory.ok()) return memory.status();
    auto* const buf = static_cast<uint64_t*>(memory.value().data());  // uninitialised: pages touched below
    // Each thread first touches the part it will read (its memory node, where that matters).
    pool.parallel_for(static_cast<int64_t>(n_groups), [&](int64_t b, int64_t e, int) {
        for (uint64_t i = static_cast<uint64_t>(b) * kGroupWords; i < static_cast<uint64_t>(e) * kGroupWords; ++i)
            buf[i] = i;
    });
    return ReadProbe(pool, std::move(memory).value());
}

double ReadProbe::measure(int passes) {
    const auto* const buf = static_cast<const uint64_t*>(memory_.data());
    const uint64_t n_groups = memory_.size() / (kGroupWords * sizeof(uint64_t));
    std::atomic<uint64_t> sink{0};  // keeps the sums live
    auto pass = [&](uint64_t (*sum)(const uint64_t*, uint64_t)) {
        const Clock::time_point start = Clock::now();
        pool_->parallel_for(static_cast<int64_t>(n_groups), [&](int64_t b, int64_t e, int) {
            sink.fetch_add(sum(buf + b * static_cast<int64_t>(kGroupWords), static_cast<uint64_t>(e - b) * kGroupWords),
                           std::memory_order_relaxed);
        });
        return static_cast<double>(memory_.size()) / seconds_since(start);
    };
    double best = 0;
    const kernels::SumWordsFn plain = kernels::kernel_table(cpu::Level::kScalar).sum_words;
    pass(plain);  // warm-up: the caches of whatever ran before, thread wake-up
    for (int i = 0; i < passes; ++i) best = std::max(best, pass(plain));
    // And at the width the kernels run (the amx level's is AVX-512's).
    if (const kernels::SumWordsFn wide = kernels::active_table().sum_words; wide != plain) {
        for (int i = 0; i < passes; ++i) best = std::max(best, pass(wide));
    }
    return best;
}

double measure_arithmetic_peak(ThreadPool& pool, gguf::TensorType weight_type) {
    const bool convertible = kernels::is_convertible(weight_type);
    const gguf::TensorType dot = convertible ? kernels::vec_dot_type(weight_type) : weight_type;
    const bool integer = convertible && (dot == gguf::TensorType::Q8_0 || dot == gguf::TensorType::Q8_K);
    // The probe of what the prompt kernels run: on the amx level the tile unit for Q8_0 only, the
    // other types' kernels are AVX-512's; on the avx-vnni level vpdpbusd for Q8_0 only: the K
    // types' kernels there take vpdpbusd with an int32 multiply per group besides, so they are
    // given no limit (as on the avx2 level, which has no integer probe).
    const cpu::Level level = cpu::best_level();
    const bool q8_0_only = level == cpu::Level::kAmx || level == cpu::Level::kAvxVnni;
    const kernels::KernelTable& table =
        q8_0_only && dot != gguf::TensorType::Q8_0
            ? kernels::kernel_table(level == cpu::Level::kAmx ? cpu::Level::kAvx512 : cpu::Level::kAvx2)
            : kernels::active_table();
    const kernels::PeakFn probe = integer ? table.peak_int8_macs : table.peak_f32_macs;
    if (probe == nullptr) return 0;
    // Rounds for about 50 ms on one thread, from a short calibration run.
    uint64_t rounds = 1 << 16;
    Clock::time_point start = Clock::now();
    probe(rounds);
    const double calib = seconds_since(start);
    rounds =
        std::max<uint64_t>(rounds, static_cast<uint64_t>(static_cast<double>(rounds) * 0.05 / std::max(calib, 1e-6)));
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
        std::atomic<uint64_t> macs{0};
        start = Clock::now();
        pool.parallel_for(pool.n_threads(), [&](int64_t b, int64_t e, int) {
            for (int64_t i = b; i < e; ++i) macs.fetch_add(probe(rounds), std::memory_order_relaxed);
        });
        best = std::max(best, static_cast<double>(macs.load()) / seconds_since(start));
    }
    return best;
}

double prompt_macs(const gguf::File& file, int64_t n_prompt) {
    const bool embedding_is_output = file.find_tensor("output.weight") == nullptr;
    const Experts experts(file);
    double macs = 0;
    for (const gguf::TensorInfo& t : file.tensors()) {
        const auto n = static_cast<double>(t.n_elements);
        if (experts.routed(t)) {
            macs += n / static_cast<double>(experts.n_expert) * static_cast<double>(experts.n_used) *
                    static_cast<double>(n_prompt);
            continue;
        }
        if (t.shape.size() != 2) continue;
        if (t.name == "token_embd.weight")
            macs += embedding_is_output ? n : 0;
        else if (t.name == "output.weight")
            macs += n;
        else
            macs += n * static_cast<double>(n_prompt);
    }
    return macs;
}

ResidentMemory resident_memory() {
    ResidentMemory m;
    std::ifstream in("/proc/self/status");
    std::string line;
    auto kib = [](const std::string& l) { return std::strtoull(l.c_str() + l.find(':') + 1, nullptr, 10) * 1024; };
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            m.now_bytes = kib(line);
        else if (line.rfind("VmHWM:", 0) == 0)
            m.peak_bytes = kib(line);
    }
    return m;
}

bool reset_peak_memory() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace sinan::engine
