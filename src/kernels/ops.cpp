#include "kernels/ops.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "base/check.h"
#include "kernels/dispatch.h"
#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/matmul_profile.h"
#include "kernels/ref/ref.h"

namespace sinan::kernels {

void round_activations(gguf::TensorType weight_type, const float* x, float* y, int64_t n) {
    const gguf::TensorType dot_type = vec_dot_type(weight_type);
    if (dot_type == gguf::TensorType::F32) {
        std::copy_n(x, n, y);
        return;
    }
    thread_local std::vector<uint8_t> tmp;
    tmp.resize(gguf::row_bytes(dot_type, static_cast<uint64_t>(n)));
    active_table().quantize_activations[static_cast<int>(dot_type)](x, tmp.data(), n);
    if (dot_type == gguf::TensorType::Q8_K) {
        ref::dequantize_q8_k(tmp.data(), y, n);  // Q8_K is no file type: not in dequantize_row
    } else {
        dequantize_row(dot_type, tmp.data(), y, n);
    }
}

uint64_t dot_operand_bytes(gguf::TensorType row_type, int64_t n) {
    return gguf::row_bytes(vec_dot_type(row_type), static_cast<uint64_t>(n));
}

void quantize_dot_operand(gguf::TensorType row_type, const float* x, void* x_dot, int64_t n) {
    active_table().quantize_activations[static_cast<int>(vec_dot_type(row_type))](x, x_dot, n);
}

float dot_row(gguf::TensorType row_type, const void* row, const void* x_dot, int64_t n) {
    return active_table().vec_dot[static_cast<int>(row_type)](row, x_dot, n);
}

namespace {

// The rows of w split over the pool in whole panels of kGemmRows (the kernels' panel height; where a
// packed layout groups its panels, whole groups: GemmKernel::packed_group_rows), each thread running
// the GEMM kernel on its own rows with its own scratch.
constexpr int64_t kGemmRows = 16;

// Panels (or groups) per chunk of a matrix product balanced over the pool
// (ThreadPool::parallel_chunks), so a thread slowed by another process or woken late costs the loop
// a chunk, not half the matrix.
// That needs a cheap call: one token, or a kernel that prepares the tokens once for all its calls
// (GemmKernel::prepare); otherwise one chunk a thread, as the kernel summarises every token on
// every call. One token: about 64 chunks a thread (F16 decoding 5.16-6.01 -> 6.12-6.58 tok/s
// against 8 in alternated `sinan bench` runs), but at least kMinChunkBytes of weights a chunk:
// each chunk is a claim (a locked add) and a kernel call, and the 1.5B's smaller matrices, in
// chunks of one panel (13.8 KB in Q4_K), read 6-14% slower than in chunks of 64 KiB, alternated in
// one process; 256 KiB read 0-2% faster again in fast memory spells, 512 KiB no faster
// (bench/NOTES.md, 2026-12-07). More tokens: about 8. panel_bytes: the weights of one panel (or
// group).
constexpr uint64_t kMinChunkBytes = uint64_t{256} << 10;
int64_t panel_grain(int64_t n_panels, uint64_t panel_bytes, int64_t n_tokens, bool prepared, const ThreadPool& pool) {
    const int64_t per_thread = n_tokens == 1 ? 64 : prepared ? 8 : 1;
    const int64_t chunks = per_thread * pool.n_threads();
    const int64_t grain = std::max<int64_t>(1, (n_panels + chunks - 1) / chunks);
    if (n_tokens != 1) return grain;
    const uint64_t bytes = std::max<uint64_t>(panel_bytes, 1);
    return std::max(grain, static_cast<int64_t>((kMinChunkBytes + bytes - 1) / bytes));
}

// A 64-byte aligned buffer of at least `bytes` kept in `lines`, which only grows, so nothing is
// allocated once the largest batch has been seen.
struct alignas(64) Line {
    uint8_t bytes[64];
};
void* grow(std::vector<Line>& lines, size_t bytes) {
    const size_t n = (bytes + sizeof(Line) - 1) / sizeof(Line);
    if (lines.size() < n) lines.resize(n);
    return lines.data();
}

// This thread's scratch for a GEMM kernel.
void* gemm_scratch(size_t bytes) {
    thread_local std::vector<Line> scratch;
    return grow(scratch, bytes);
}

// fn(t0, t1) over token ranges covering [0, n_tokens): split over the pool for a prompt's batch,
// where quantizing and preparing the activations is worth a hand-off; in the caller otherwise.
template <typename Fn>
void over_tokens(int64_t n_tokens, ThreadPool& pool, const Fn& fn) {
    constexpr int64_t kSplitFrom = 16;
    if (n_tokens < kSplitFrom || pool.n_threads() == 1) {
        fn(int64_t{0}, n_tokens);
        return;
    }
    const Fn* f = &fn;  // one pointer captured: fits std::function's inline storage
    pool.parallel_for(n_tokens, [f](int64_t t0, int64_t t1, int) { (*f)(t0, t1); });
}

// x quantized into the dot format `dot_type`: rows of x_row_bytes in `buffer`.
const uint8_t* quantize_operand(const KernelTable& table, gguf::TensorType dot_type, const float* x, int64_t n_tokens,
                                int64_t n_cols, uint64_t x_row_bytes, std::vector<uint8_t>& buffer, ThreadPool& pool) {
    if (buffer.size() < n_tokens * x_row_bytes) buffer.resize(n_tokens * x_row_bytes);
    const QuantizeFn quantize = table.quantize_activations[static_cast<int>(dot_type)];
    uint8_t* out = buffer.data();
    over_tokens(n_tokens, pool, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) quantize(x + t * n_cols, out + t * x_row_bytes, n_cols);
    });
    return out;
}

// The tokens as `gemm` reads them: prepared into `buffer` where it prepares them, else the rows.
const uint8_t* gemm_operand(const GemmKernel& gemm, const uint8_t* x, uint64_t x_row_bytes, int64_t n_tokens,
                            int64_t n_cols, std::vector<Line>& buffer, ThreadPool& pool) {
    if (gemm.prepare == nullptr) return x;
    void* out = grow(buffer, gemm.prepared_bytes(n_tokens, n_cols));
    over_tokens(n_tokens, pool,
                [&](int64_t t0, int64_t t1) { gemm.prepare(x, x_row_bytes, n_tokens, n_cols, t0, t1, out); });
    return static_cast<const uint8_t*>(out);
}

// A matrix product timed for the installed MatmulProfile (matmul_profile.h), if there is one.
class ProfiledCall {
  public:
    ProfiledCall(std::span<const Matrix* const> w, int64_t n_tokens) : profile_(matmul_profile()) {
        if (profile_ == nullptr) return;
        for (const Matrix* m : w) {
            matrix_ += (matrix_.empty() ? "" : " + ") + std::string(gguf::type_name(m->type)) + " " +
                       std::to_string(m->n_cols) + "x" + std::to_string(m->n_rows);
            bytes_ += gguf::row_bytes(m->type, static_cast<uint64_t>(m->n_cols)) * static_cast<uint64_t>(m->n_rows);
        }
        n_tokens_ = n_tokens;
        start_ = std::chrono::steady_clock::now();
    }
    ~ProfiledCall() {
        if (profile_ == nullptr) return;
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
        profile_->record(matrix_, n_tokens_, took.count(), bytes_);
    }
    ProfiledCall(const ProfiledCall&) = delete;
    ProfiledCall& operator=(const ProfiledCall&) = delete;

  private:
    MatmulProfile* profile_;
    std::string matrix_;
    uint64_t bytes_ = 0;
    int64_t n_tokens_ = 0;
    std::chrono::steady_clock::time_point start_;
};

// The rows a call of a packed kernel starts at a multiple of (GemmKernel::packed_group_rows).
int64_t packed_group_rows(const GemmKernel& gemm, int64_t n_cols) {
    return gemm.packed_group_rows != nullptr ? gemm.packed_group_rows(n_cols) : kGemmRows;
}

// A GEMM kernel bound to a matrix: the packed one on w.panels where both exist (its read-ahead
// form where decode_read_ahead(w.type) holds), else the one on the rows in place; the rows of w split
// over the pool in units of unit_rows (a panel, or a group of the packed layout).
struct BoundGemm {
    BoundGemm() = default;
    BoundGemm(const GemmKernel& gemm, const Matrix& w) {
        const bool packed = w.panels != nullptr && gemm.run_packed != nullptr;
        const bool ahead = packed && gemm.run_packed_read_ahead != nullptr && decode_read_ahead(w.type);
        run = ahead ? gemm.run_packed_read_ahead : packed ? gemm.run_packed : gemm.run;
        scratch_bytes = packed ? gemm.packed_scratch_bytes : gemm.scratch_bytes;
        data = static_cast<const uint8_t*>(packed ? w.panels : w.data);
        unit_rows = packed ? packed_group_rows(gemm, w.n_cols) : kGemmRows;
    }
    decltype(GemmKernel::run) run = nullptr;
    decltype(GemmKernel::scratch_bytes) scratch_bytes = nullptr;
    const uint8_t* data = nullptr;
    int64_t unit_rows = kGemmRows;
};

void gemm_rows(const GemmKernel& gemm, const Matrix& w, uint64_t w_row_bytes, const uint8_t* x, uint64_t x_row_bytes,
               int64_t n_tokens, float* y, ThreadPool& pool) {
    thread_local std::vector<Line> prepared;
    const struct {
        BoundGemm gemm;
        uint64_t w_row_bytes;
        const uint8_t* x;
        uint64_t x_row_bytes;
        int64_t n_cols, n_rows, n_tokens;
        float* y;
    } job{BoundGemm(gemm, w),
          w_row_bytes,
          gemm_operand(gemm, x, x_row_bytes, n_tokens, w.n_cols, prepared, pool),
          x_row_bytes,
          w.n_cols,
          w.n_rows,
          n_tokens,
          y};
    const int64_t n_units = (w.n_rows + job.gemm.unit_rows - 1) / job.gemm.unit_rows;
    const int64_t grain = panel_grain(n_units, job.w_row_bytes * static_cast<uint64_t>(job.gemm.unit_rows), n_tokens,
                                      gemm.prepare != nullptr, pool);
    pool.parallel_chunks(n_units, grain, [&job](int64_t p0, int64_t p1, int) {
        void* scratch = gemm_scratch(job.gemm.scratch_bytes(job.n_tokens, job.n_cols));
        const int64_t r0 = p0 * job.gemm.unit_rows, r1 = std::min(p1 * job.gemm.unit_rows, job.n_rows);
        job.gemm.run(job.gemm.data + static_cast<uint64_t>(r0) * job.w_row_bytes, job.w_row_bytes, r1 - r0, job.x,
                     job.x_row_bytes, job.n_tokens, job.n_cols, job.y + r0, job.n_rows, scratch);
    });
}

}  // namespace

void dot_rows(gguf::TensorType row_type, const void* rows, uint64_t row_stride, int64_t n_rows, const void* x_dot,
              int64_t n_x, int64_t n, float* y, int64_t y_stride) {
    const KernelTable& table = active_table();
    const GemmKernel& gemm = table.gemm[static_cast<int>(row_type)];
    const uint64_t x_bytes = dot_operand_bytes(row_type, n);
    const auto* x = static_cast<const uint8_t*>(x_dot);
    if (gemm.run != nullptr) {
        thread_local std::vector<Line> prepared;
        const void* xs = x;
        if (gemm.prepare != nullptr) {
            void* out = grow(prepared, gemm.prepared_bytes(n_x, n));
            gemm.prepare(x, x_bytes, n_x, n, 0, n_x, out);
            xs = out;
        }
        gemm.run(rows, row_stride, n_rows, xs, x_bytes, n_x, n, y, y_stride, gemm_scratch(gemm.scratch_bytes(n_x, n)));
        return;
    }
    const VecDotFn dot = table.vec_dot[static_cast<int>(row_type)];
    for (int64_t t = 0; t < n_x; ++t)
        for (int64_t r = 0; r < n_rows; ++r)
            y[t * y_stride + r] = dot(static_cast<const uint8_t*>(rows) + r * row_stride, x + t * x_bytes, n);
}

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    matmul(active_table(), w, x, n_tokens, y, pool);
}

uint64_t packed_bytes(const Matrix& w) {
    if (!is_convertible(w.type) || active_table().gemm[static_cast<int>(w.type)].pack == nullptr) return 0;
    const uint64_t n_panels = static_cast<uint64_t>((w.n_rows + kGemmRows - 1) / kGemmRows);
    return n_panels * kGemmRows * gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
}

void pack_matrix(const Matrix& w, void* out, ThreadPool& pool) {
    SINAN_CHECK(packed_bytes(w) > 0, std::string("pack_matrix: no packed layout for ") + gguf::type_name(w.type));
    const GemmKernel& gemm = active_table().gemm[static_cast<int>(w.type)];
    const uint64_t row_bytes = gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
    const int64_t unit_rows = packed_group_rows(gemm, w.n_cols);
    pool.parallel_for((w.n_rows + unit_rows - 1) / unit_rows, [&](int64_t p0, int64_t p1, int) {
        const int64_t r0 = p0 * unit_rows, r1 = std::min(p1 * unit_rows, w.n_rows);
        gemm.pack(static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(r0) * row_bytes, row_bytes, r1 - r0,
                  w.n_cols, static_cast<uint8_t*>(out) + static_cast<uint64_t>(r0) * row_bytes);
    });
}

void matmul_shared_input(std::span<const Matrix* const> w, const float* x, int64_t n_tokens, std::span<float* const> y,
                         ThreadPool& pool) {
    SINAN_CHECK(w.size() == y.size(), "matmul_shared_input: one output per matrix");
    const KernelTable& table = active_table();
    bool grouped = n_tokens > 0;
    for (const Matrix* m : w) {
        SINAN_CHECK(is_convertible(m->type),
                    std::string("matmul: tensor type ") + gguf::type_name(m->type) + " is not supported");
        SINAN_CHECK(m->n_cols == w[0]->n_cols, "matmul_shared_input: the matrices must share the input width");
        grouped = grouped && table.gemm[static_cast<int>(m->type)].run != nullptr;
    }
    if (!grouped) {
        for (size_t i = 0; i < w.size(); ++i) matmul(table, *w[i], x, n_tokens, y[i], pool);
        return;
    }
    const ProfiledCall timed(w, n_tokens);
    // The input in each dot format the matrices need (a format is quantized once), and in each
    // kernel's prepared form (prepared once per kernel and format).
    constexpr size_t kMaxMatrices = 4;
    SINAN_CHECK(w.size() <= kMaxMatrices, "matmul_shared_input: at most 4 matrices");
    thread_local std::vector<uint8_t> xq[kMaxMatrices];
    thread_local std::vector<Line> prepared[kMaxMatrices];
    struct Part {
        BoundGemm gemm;
        uint64_t w_row_bytes;
        const uint8_t* x;
        uint64_t x_row_bytes;
        int64_t n_rows;
        int64_t first_unit;  // in the concatenation of every matrix's units (gemm.unit_rows rows each)
        float* y;
    };
    Part parts[kMaxMatrices];
    int64_t n_units = 0;
    uint64_t total_bytes = 0;
    size_t scratch_bytes = 0;
    bool all_prepared = true;  // every kernel prepares its tokens once (GemmKernel::prepare)
    const int64_t n_cols = w[0]->n_cols;
    for (size_t i = 0; i < w.size(); ++i) {
        const gguf::TensorType dot_type = vec_dot_type(w[i]->type);
        const uint64_t x_row_bytes = gguf::row_bytes(dot_type, static_cast<uint64_t>(n_cols));
        const uint8_t* xs = reinterpret_cast<const uint8_t*>(x);
        size_t same = 0;  // the first matrix with this dot format: its buffer holds x in it
        while (vec_dot_type(w[same]->type) != dot_type) ++same;
        if (dot_type != gguf::TensorType::F32) {
            if (same == i) quantize_operand(table, dot_type, x, n_tokens, n_cols, x_row_bytes, xq[i], pool);
            xs = xq[same].data();
        }
        const GemmKernel& kernel = table.gemm[static_cast<int>(w[i]->type)];
        size_t prepared_by = i;  // an earlier matrix of this format whose kernel prepares the same way
        for (size_t j = same; j < i; ++j) {
            const GemmKernel& other = table.gemm[static_cast<int>(w[j]->type)];
            if (vec_dot_type(w[j]->type) == dot_type && other.prepare == kernel.prepare) prepared_by = j;
        }
        if (kernel.prepare != nullptr)
            xs = prepared_by < i ? parts[prepared_by].x
                                 : gemm_operand(kernel, xs, x_row_bytes, n_tokens, n_cols, prepared[i], pool);
        all_prepared = all_prepared && kernel.prepare != nullptr;
        const BoundGemm gemm(kernel, *w[i]);
        parts[i] = Part{
            gemm, gguf::row_bytes(w[i]->type, static_cast<uint64_t>(n_cols)), xs, x_row_bytes, w[i]->n_rows, n_units,
            y[i]};
        n_units += (w[i]->n_rows + gemm.unit_rows - 1) / gemm.unit_rows;
        total_bytes += parts[i].w_row_bytes * static_cast<uint64_t>(w[i]->n_rows);
        scratch_bytes = std::max(scratch_bytes, gemm.scratch_bytes(n_tokens, n_cols));
    }
    // One reference captured: the callable fits std::function's inline storage (no allocation).
    const struct {
        const Part* parts;
        size_t n_parts, scratch_bytes;
        int64_t n_tokens, n_cols;
    } job{parts, w.size(), scratch_bytes, n_tokens, n_cols};
    pool.parallel_chunks(
        n_units,
        panel_grain(n_units, n_units > 0 ? total_bytes / static_cast<uint64_t>(n_units) : 0, n_tokens, all_prepared,
                    pool),
        [&job](int64_t p0, int64_t p1, int) {
            void* scratch = gemm_scratch(job.scratch_bytes);
            for (size_t i = 0; i < job.n_parts; ++i) {
                const Part& part = job.parts[i];
                const int64_t unit_rows = part.gemm.unit_rows;
                const int64_t first = std::max(p0, part.first_unit) - part.first_unit;
                const int64_t end = std::min(p1 - part.first_unit, (part.n_rows + unit_rows - 1) / unit_rows);
                if (first >= end) continue;
                const int64_t r0 = first * unit_rows, r1 = std::min(end * unit_rows, part.n_rows);
                part.gemm.run(part.gemm.data + static_cast<uint64_t>(r0) * part.w_row_bytes, part.w_row_bytes, r1 - r0,
                              part.x, part.x_row_bytes, job.n_tokens, job.n_cols, part.y + r0, part.n_rows, scratch);
            }
        });
}

void matmul(const KernelTable& table, const Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
    SINAN_CHECK(is_convertible(w.type),
                std::string("matmul: tensor type ") + gguf::type_name(w.type) + " is not supported");
    if (n_tokens == 0) return;  // e.g. the output head of a prompt batch that wants no logits
    const Matrix* const one[] = {&w};
    const ProfiledCall timed(one, n_tokens);
    const gguf::TensorType dot_type = vec_dot_type(w.type);
    const uint64_t w_row_bytes = gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
    const uint64_t x_row_bytes = gguf::row_bytes(dot_type, static_cast<uint64_t>(w.n_cols));
    // Each activation row is quantized once, then meets every weight row. The buffer only grows,
    // so after the largest batch nothing is allocated.
    thread_local std::vector<uint8_t> xq;
    const auto* xs = reinterpret_cast<const uint8_t*>(x);
    if (dot_type != gguf::TensorType::F32)
        xs = quantize_operand(table, dot_type, x, n_tokens, w.n_cols, x_row_bytes, xq, pool);
    if (const GemmKernel& gemm = table.gemm[static_cast<int>(w.type)]; gemm.run != nullptr) {
        gemm_rows(gemm, w, w_row_bytes, xs, x_row_bytes, n_tokens, y, pool);
        return;
    }
    // One reference captured: the callable fits std::function's inline storage, so parallel_for
    // allocates nothing per call.
    const struct {
        VecDotFn dot;
        VecDotX4Fn dot_x4;
        const uint8_t* w;
        uint64_t w_row_bytes;
        const uint8_t* x;
        uint64_t x_row_bytes;
        int64_t n_cols, n_rows, n_tokens;
        float* y;
    } job{table.vec_dot[static_cast<int>(w.type)],
          table.vec_dot_x4[static_cast<int>(w.type)],
          static_cast<const uint8_t*>(w.data),
          w_row_bytes,
          xs,
          x_row_bytes,
          w.n_cols,
          w.n_rows,
          n_tokens,
          y};
    pool.parallel_for(w.n_rows, [&job](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* wr = job.w + static_cast<uint64_t>(r) * job.w_row_bytes;
            int64_t t = 0;
            if (job.dot_x4 != nullptr) {
                for (; t + 4 <= job.n_tokens; t += 4) {
                    float s[4];
                    job.dot_x4(wr, job.x + t * job.x_row_bytes, job.x_row_bytes, job.n_cols, s);
                    for (int k = 0; k < 4; ++k) job.y[(t + k) * job.n_rows + r] = s[k];
                }
            }
            for (; t < job.n_tokens; ++t)
                job.y[t * job.n_rows + r] = job.dot(wr, job.x + t * job.x_row_bytes, job.n_cols);
        }
    });
}

void get_row(const Matrix& w, int64_t row, float* y) {
    SINAN_CHECK(row >= 0 && row < w.n_rows, "get_row: row out of range");
    const uint64_t row_bytes = gguf::row_bytes(w.type, static_cast<uint64_t>(w.n_cols));
    dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(row) * row_bytes, y, w.n_cols);
}

void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
    active_table().rmsnorm(x, weight, y, n, eps);
}

void layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    double sum2 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const float d = x[i] - mean;
        sum2 += static_cast<double>(d * d);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum2 / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) {
        const float v = (x[i] - mean) * scale * weight[i];
        y[i] = bias != nullptr ? v + bias[i] : v;
    }
}

void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                    float* corr_low, float* corr_high) {
    // The pair index whose wavelength fits n_rotations times into the original context.
    const auto dim = [&](float n_rotations) {
        return static_cast<float>(n_rot) *
               std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * std::numbers::pi_v<float>)) /
               (2.0f * std::log(freq_base));
    };
    *corr_low = std::max(0.0f, std::floor(dim(beta_fast)));
    *corr_high = std::min(static_cast<float>(n_rot - 1), std::ceil(dim(beta_slow)));
}

void rope(float* x, int64_t n_heads, int64_t head_stride, int32_t pos, const RopeParams& p) {
    // Angles advance by a constant ratio per pair, multiplied in float as the reference does.
    const int64_t n_rot = p.n_rot;
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(n_rot));
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    thread_local std::vector<float> cos_sin;
    cos_sin.resize(static_cast<size_t>(n_rot));
    float theta = static_cast<float>(pos);
    for (int64_t i = 0; i < n_rot / 2; ++i) {
        const float extrap = p.factors != nullptr ? theta / p.factors[i] : theta;
        float t = p.freq_scale * extrap;
        if (p.ext_factor != 0.0f) {
            const float y = (static_cast<float>(i) - p.corr_low) / std::max(0.001f, p.corr_high - p.corr_low);
            const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
            t = t * (1.0f - ramp) + extrap * ramp;
        }
        cos_sin[2 * i] = std::cos(t) * mscale;
        cos_sin[2 * i + 1] = std::sin(t) * mscale;
        theta *= theta_scale;
    }
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_stride;
        for (int64_t i = 0; i < n_rot / 2; ++i) {
            const int64_t a = p.layout == RopeLayout::kNormal ? 2 * i : i;
            const int64_t b = p.layout == RopeLayout::kNormal ? 2 * i + 1 : i + n_rot / 2;
            const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void softmax(float* x, int64_t n) { active_table().softmax(x, n); }

void exp_f32(const float* x, float* y, int64_t n) { active_table().exp(x, y, n); }

void silu_mul(const float* gate, const float* up, float* y, int64_t n) { active_table().silu_mul(gate, up, y, n); }

void silu_mul(const float* gate, const float* up, float* y, int64_t n, ThreadPool& pool) {
    constexpr int64_t kRun = 64, kSplitFrom = 4096;  // fewer values: a microsecond or two, not worth a hand-off
    if (n < kSplitFrom || pool.n_threads() == 1) return silu_mul(gate, up, y, n);
    const struct {
        SiluMulFn f;
        const float *gate, *up;
        float* y;
        int64_t n;
    } job{active_table().silu_mul, gate, up, y, n};
    // One pointer captured: the callable fits std::function's inline storage (no allocation).
    pool.parallel_for((n + kRun - 1) / kRun, [&job](int64_t r0, int64_t r1, int) {
        const int64_t begin = r0 * kRun, end = std::min(r1 * kRun, job.n);
        job.f(job.gate + begin, job.up + begin, job.y + begin, end - begin);
    });
}

void gelu(const float* x, float* y, int64_t n) { active_table().gelu(x, y, n); }

void gelu_f16(const float* x, float* y, int64_t n) {
    static const std::vector<uint16_t> table = [] {
        std::vector<uint16_t> t(1 << 16);
        for (uint32_t h = 0; h < t.size(); ++h) {
            const float v = fp16_to_fp32(static_cast<uint16_t>(h));
            float g = 0.0f;
            ref::gelu(&v, &g, 1);
            t[h] = fp32_to_fp16(g);
        }
        return t;
    }();
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : fp16_to_fp32(table[fp32_to_fp16(v)]);
    }
}

void add_inplace(float* y, const float* x, int64_t n) { active_table().add_inplace(y, x, n); }

void fma_f16_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const uint16_t* const* v,
                  int64_t n_v, int64_t n) {
    active_table().fma_f16_rows(y, y_stride, n_y, s, s_stride, v, n_v, n);
}

void fma_f16_rounded(float* y, const uint16_t* v, float s, int64_t n) { active_table().fma_f16_rounded(y, v, s, n); }

void add_scaled_rows(float* y, int64_t y_stride, int64_t n_y, const float* s, int64_t s_stride, const float* v,
                     int64_t v_stride, int64_t n_v, int64_t n) {
    active_table().add_scaled_rows(y, y_stride, n_y, s, s_stride, v, v_stride, n_v, n);
}

void dot_f16_chains(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys, int64_t n_keys,
                    int64_t d, float* scores) {
    active_table().dot_f16_chains(q, q_stride, n_q, keys, n_keys, d, scores);
}

namespace {

// The table's exp of one value (the composites' step).
float exp_one(const KernelTable& table, float x) {
    float y;
    table.exp(&x, &y, 1);
    return y;
}

}  // namespace

void attend_f16_rounded_composite(const KernelTable& table, const float* q, int64_t q_stride, int64_t n_q,
                                  const uint16_t* const* keys, const uint16_t* const* values, int64_t n, int64_t dk,
                                  int64_t dv, float scale, float* out, int64_t out_stride) {
    const int f16 = static_cast<int>(gguf::TensorType::F16);
    thread_local std::vector<float> qf, k, acc;
    thread_local std::vector<uint16_t> tmp;
    qf.resize(static_cast<size_t>(dk));
    k.resize(static_cast<size_t>(dk));
    tmp.resize(static_cast<size_t>(std::max(dk, dv)));
    auto to_f16_and_back = [&](float* x, int64_t m) {
        table.quantize[f16](x, tmp.data(), m);
        table.dequantize[f16](tmp.data(), x, m);
    };
    auto exp = [&](float x) { return exp_one(table, x); };
    for (int64_t g = 0; g < n_q; ++g) {
        std::copy_n(q + g * q_stride, dk, qf.data());
        to_f16_and_back(qf.data(), dk);
        acc.assign(static_cast<size_t>(dv), 0.0f);
        float max = -INFINITY, sum = 0.0f;
        for (int64_t c = 0; c < n; ++c) {
            table.dequantize[f16](keys[c], k.data(), dk);
            const float s = table.dot_f32(qf.data(), k.data(), dk) * scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > max) {
                ms = exp(max - s);  // 0 for the first cell
                max = s;
                for (float& a : acc) a *= ms;
                to_f16_and_back(acc.data(), dv);
            } else {
                vs = exp(s - max);
            }
            table.fma_f16_rounded(acc.data(), values[c], vs, dv);
            sum = sum * ms + vs;
        }
        float* og = out + g * out_stride;
        for (int64_t j = 0; j < dv; ++j) og[j] = sum == 0.0f ? 0.0f : acc[static_cast<size_t>(j)] / sum;
    }
}

void attend_q8_0_composite(const KernelTable& table, const float* q, int64_t q_stride, int64_t n_q,
                           const void* const* keys, const void* const* values, int64_t n, int64_t dk, int64_t dv,
                           float scale, float* out, int64_t out_stride) {
    const int q8 = static_cast<int>(gguf::TensorType::Q8_0);
    thread_local std::vector<uint8_t> q_dot;
    thread_local std::vector<float> v, acc;
    q_dot.resize(gguf::row_bytes(gguf::TensorType::Q8_0, static_cast<uint64_t>(dk)));
    v.resize(static_cast<size_t>(dv));
    auto exp = [&](float x) { return exp_one(table, x); };
    for (int64_t g = 0; g < n_q; ++g) {
        table.quantize_activations[q8](q + g * q_stride, q_dot.data(), dk);
        acc.assign(static_cast<size_t>(dv), 0.0f);
        float max = -INFINITY, sum = 0.0f;
        for (int64_t c = 0; c < n; ++c) {
            const float s = table.vec_dot[q8](keys[c], q_dot.data(), dk) * scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > max) {
                ms = exp(max - s);  // 0 for the first cell
                max = s;
                for (float& a : acc) a *= ms;
            } else {
                vs = exp(s - max);
            }
            table.dequantize[q8](values[c], v.data(), dv);
            for (int64_t j = 0; j < dv; ++j) acc[static_cast<size_t>(j)] += vs * v[static_cast<size_t>(j)];
            sum = sum * ms + vs;
        }
        float* og = out + g * out_stride;
        for (int64_t j = 0; j < dv; ++j) og[j] = sum == 0.0f ? 0.0f : acc[static_cast<size_t>(j)] / sum;
    }
}

namespace {

// The table's attention kernel with its scratch (4 * (dk + 2n) floats: dispatch.h), or the steps one
// call at a time where the level has none.
template <typename Row, typename Kernel, typename Composite>
void attend_on(const KernelTable& table, Kernel kernel, Composite composite, const float* q, int64_t q_stride,
               int64_t n_q, const Row* keys, const Row* values, int64_t n, int64_t dk, int64_t dv, float scale,
               float* out, int64_t out_stride) {
    if (kernel == nullptr) {
        composite(table, q, q_stride, n_q, keys, values, n, dk, dv, scale, out, out_stride);
        return;
    }
    thread_local std::vector<float> scratch;
    scratch.resize(static_cast<size_t>(4 * (dk + 2 * n)));
    kernel(q, q_stride, n_q, keys, values, n, dk, dv, scale, out, out_stride, scratch.data());
}

}  // namespace

void attend_q8_0(const float* q, int64_t q_stride, int64_t n_q, const void* const* keys, const void* const* values,
                 int64_t n, int64_t dk, int64_t dv, float scale, float* out, int64_t out_stride) {
    const KernelTable& table = active_table();
    attend_on(table, table.attend_q8_0, attend_q8_0_composite, q, q_stride, n_q, keys, values, n, dk, dv, scale, out,
              out_stride);
}

void attend_f16_rounded(const float* q, int64_t q_stride, int64_t n_q, const uint16_t* const* keys,
                        const uint16_t* const* values, int64_t n, int64_t dk, int64_t dv, float scale, float* out,
                        int64_t out_stride) {
    const KernelTable& table = active_table();
    attend_on(table, table.attend_f16_rounded, attend_f16_rounded_composite, q, q_stride, n_q, keys, values, n, dk, dv,
              scale, out, out_stride);
}

}  // namespace sinan::kernels
