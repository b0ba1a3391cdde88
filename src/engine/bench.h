// The measurements behind `sinan bench` (llama-bench's tests, and the limit decoding runs into).
//
//   pp<P>: P prompt tokens on a fresh Session (fixed pseudo-random ids in the vocabulary), in
//          batches of n_batch, logits of the last token only, as `sinan run` processes a prompt
//          (with a sliding window the cache holds only window + n_batch cells).
//   tg<N>: one start token, then N tokens one at a time (a fixed id each step, no sampling).
//          Only the N steps are timed.
//   at depth D (llama-bench's -d): the Session first holds D prompt tokens (untimed), then the
//          test runs after them: pp<P> computes P more, tg<N> appends N (each attending to the D).
//   limit: decoding one token reads every weight once, so tokens/s <= read bandwidth / bytes of
//          weights read per token (ARCHITECTURE.md, "Performance model"). Prompt processing
//          reads each weight once per batch and is bound by arithmetic instead: tokens/s <=
//          multiply-adds per second of the matrix kernels' instructions / multiply-adds per token.
//
// Thread-safety: each function runs forward passes or parallel loops on the model's (or the
// given) thread pool: one call at a time per model/pool.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/huge_pages.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/session.h"
#include "gguf/gguf.h"
#include "kernels/matmul_profile.h"
#include "model/model.h"

namespace sinan::engine {

// How the tests run: the KV cache type (Model::check_kv_type must have accepted it), the prompt
// batch, and the tokens already in the context.
struct BenchSetup {
    gguf::TensorType kv_type = gguf::TensorType::F16;
    int64_t n_batch = 512;
    int64_t n_depth = 0;
    // Where set, the timed part's matrix products are recorded in it (kernels/matmul_profile.h).
    kernels::MatmulProfile* profile = nullptr;
};

// A fresh Session of n_ctx tokens holding the first setup.n_depth of the tests' prompt tokens
// (one start token when n_depth is 0): what the timed part of a test runs after. Errors: those
// of forward.
Result<std::unique_ptr<Session>> session_at_depth(model::Model& model, int64_t n_ctx, const BenchSetup& setup);
// Seconds of one pp<n_prompt> run: n_prompt more prompt tokens in batches on session_at_depth.
Result<double> time_prompt(model::Model& model, int64_t n_prompt, const BenchSetup& setup = {});
// Seconds of the n_gen single-token steps of one tg<n_gen> run on session_at_depth.
Result<double> time_generation(model::Model& model, int64_t n_gen, const BenchSetup& setup = {});

struct Summary {
    double mean = 0, stddev = 0, median = 0;  // stddev: sample standard deviation (0 for one value)
};
// values: non-empty.
Summary summarize(std::vector<double> values);

// Bytes of weights one decoded token reads: every tensor's bytes, except that of the token
// embedding only one row is read (a lookup) — unless the model has no output.weight and uses
// the embedding as its output matrix too, in which case all of it is read — and of the routed
// experts of a mixture of experts (*_exps, [.., .., expert_count]) only expert_used_count are read.
uint64_t weight_bytes_per_token(const gguf::File& file);

// Memory read bandwidth, measured as often as a benchmark wants it: the machine may be shared, and
// what a neighbour takes changes from second to second, so each test run is set against probes
// taken just before and after it. The buffer (much larger than the last-level cache, on huge pages
// where the kernel gives them, as the repacked weights) is mapped and touched once, by the threads
// that read it, in create(): on a virtual machine that first touch is the slow part.
class ReadProbe {
  public:
    // Errors: the memory cannot be mapped. `pool` must outlive the probe.
    static Result<ReadProbe> create(ThreadPool& pool, uint64_t bytes);
    // Bytes/s now: every thread of the pool sums its own contiguous part with eight independent
    // 64-bit accumulators per vector lane, best of `passes` passes after a warm-up one. The sum is
    // compiled twice, plain x86-64 (16-byte loads) and, where the CPU has AVX-512, with 64-byte
    // loads (they keep more of the stream in flight); the faster one counts.
    double measure(int passes = 3);
    uint64_t bytes() const { return memory_.size(); }

  private:
    ReadProbe(ThreadPool& pool, HugePageBuffer memory) : pool_(&pool), memory_(std::move(memory)) {}
    ThreadPool* pool_;
    HugePageBuffer memory_;
};

// Multiply-adds per second that every thread of `pool` retires together in the instruction the
// matrix kernels for weights of `weight_type` are built on (independent int8 vpdpbusd, the AMX
// tile unit's TDPBSUD for Q8_0 on the amx level, or float FMAs; kernels/dispatch.h), best of a few
// passes of about 50 ms: the arithmetic limit of prompt
// processing. 0 where the active level has no such probe (scalar, AVX2 integer kernels, the K
// types on the avx-vnni level).
double measure_arithmetic_peak(ThreadPool& pool, gguf::TensorType weight_type);

// Multiply-adds of the weight matrices in one pp<n_prompt> run: every 2-D tensor once per prompt
// token, except the token embedding (a lookup) and the output matrix (only the last token's
// logits are computed), which counts once; of the routed experts of a mixture of experts
// (*_exps, [.., .., expert_count]) expert_used_count per token. Attention is left out (a few
// percent at these lengths).
double prompt_macs(const gguf::File& file, int64_t n_prompt);

// Resident memory of this process from /proc/self/status: VmRSS now and VmHWM, its peak
// (0 where that cannot be read).
struct ResidentMemory {
    uint64_t now_bytes = 0, peak_bytes = 0;
};
ResidentMemory resident_memory();
// Sets the peak (VmHWM) back to what is resident now (/proc/self/clear_refs), so a later
// resident_memory() reports the peak since; false where the kernel does not allow it.
bool reset_peak_memory();

}  // namespace sinan::engine
