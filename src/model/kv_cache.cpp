#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"

namespace sinan::model {

namespace {

uint64_t checked_row_bytes(gguf::TensorType type, int64_t n) {
    SINAN_CHECK(KvCache::is_supported_type(type), "KV cache type must be F16 or Q8_0");
    SINAN_CHECK(n % gguf::type_traits(type).block_size == 0, "KV row width is not whole blocks of the cache type");
    return gguf::row_bytes(type, static_cast<uint64_t>(n));
}

}  // namespace

KvCache::KvCache(int64_t n_layer, int64_t n_cells, int64_t n_embd_k, int64_t n_embd_v, gguf::TensorType type)
    : n_layer_(n_layer), n_cells_(n_cells), n_embd_k_(n_embd_k), n_embd_v_(n_embd_v), type_(type),
      k_row_bytes_(checked_row_bytes(type, n_embd_k)), v_row_bytes_(checked_row_bytes(type, n_embd_v)),
      cells_(static_cast<size_t>(n_cells)),
      k_(static_cast<size_t>(n_layer * n_cells) * k_row_bytes_ / sizeof(uint16_t)),
      v_(static_cast<size_t>(n_layer * n_cells) * v_row_bytes_ / sizeof(uint16_t)) {}

std::optional<std::vector<int32_t>> KvCache::find_slots(int64_t n) {
    if (n > n_cells_ - n_used_) return std::nullopt;
    std::vector<int32_t> out;
    out.reserve(static_cast<size_t>(n));
    for (int32_t c = 0; c < n_cells_ && static_cast<int64_t>(out.size()) < n; ++c)
        if (!cell_used(c)) out.push_back(c);
    return out;
}

void KvCache::set_cell(int32_t cell, int32_t pos, int32_t seq) {
    SINAN_CHECK(seq >= 0 && seq < kMaxSequences, "sequence id out of range");
    Cell& c = cells_[static_cast<size_t>(cell)];
    if (c.seqs.none()) ++n_used_;
    end_ = std::max<int64_t>(end_, cell + 1);
    c.pos = pos;
    c.seqs.set(static_cast<size_t>(seq));
}

void KvCache::release_if_empty(Cell& c) {
    if (c.seqs.none() && c.pos >= 0) {
        c.pos = -1;
        --n_used_;
    }
}

void KvCache::shrink_end() {
    while (end_ > 0 && cells_[static_cast<size_t>(end_ - 1)].seqs.none()) --end_;
}

void KvCache::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
    for (Cell& c : used_cells()) {
        if (c.seqs.none() || c.pos < p0 || (p1 >= 0 && c.pos >= p1)) continue;
        if (seq < 0) c.seqs.reset();
        else c.seqs.reset(static_cast<size_t>(seq));
        release_if_empty(c);
    }
    shrink_end();
}

std::vector<int32_t> KvCache::seq_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    std::vector<int32_t> moved;
    for (size_t i = 0; i < used_cells().size(); ++i) {
        Cell& c = cells_[i];
        if (!c.seqs.test(static_cast<size_t>(seq)) || c.pos < p0 || (p1 >= 0 && c.pos >= p1)) continue;
        c.pos += delta;
        moved.push_back(static_cast<int32_t>(i));
    }
    return moved;
}

int64_t KvCache::seq_n_shared(int32_t seq, int32_t p0, int32_t p1) const {
    int64_t n = 0;
    for (const Cell& c : used_cells())
        n += c.seqs.test(static_cast<size_t>(seq)) && c.seqs.count() > 1 && c.pos >= p0 && (p1 < 0 || c.pos < p1);
    return n;
}

bool KvCache::seq_unshare(int32_t seq, int32_t p0, int32_t p1) {
    const int64_t n = seq_n_shared(seq, p0, p1);
    std::optional<std::vector<int32_t>> free = find_slots(n);
    if (!free) return false;
    size_t next = 0;
    const size_t end = used_cells().size();  // the copies go to free cells, perhaps past it
    for (size_t i = 0; i < end; ++i) {
        Cell& c = cells_[i];
        if (!c.seqs.test(static_cast<size_t>(seq)) || c.seqs.count() == 1 || c.pos < p0 || (p1 >= 0 && c.pos >= p1))
            continue;
        const int32_t src = static_cast<int32_t>(i), dst = (*free)[next++];
        for (int64_t l = 0; l < n_layer_; ++l) {
            std::memcpy(k(l, dst), k(l, src), k_row_bytes_);
            if (v_row_bytes_ > 0) std::memcpy(v(l, dst), v(l, src), v_row_bytes_);
        }
        c.seqs.reset(static_cast<size_t>(seq));  // others still hold it: it stays used
        set_cell(dst, c.pos, seq);
    }
    return true;
}

void KvCache::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    SINAN_CHECK(dst >= 0 && dst < kMaxSequences, "sequence id out of range");
    for (Cell& c : used_cells())
        if (c.seqs.test(static_cast<size_t>(src)) && c.pos >= p0 && (p1 < 0 || c.pos < p1)) c.seqs.set(static_cast<size_t>(dst));
}

int32_t KvCache::seq_pos_max(int32_t seq) const {
    int32_t m = -1;
    for (const Cell& c : used_cells())
        if (c.seqs.test(static_cast<size_t>(seq)) && c.pos > m) m = c.pos;
    return m;
}

int32_t KvCache::seq_pos_min(int32_t seq) const {
    int32_t m = -1;
    for (const Cell& c : used_cells())
        if (c.seqs.test(static_cast<size_t>(seq)) && (m < 0 || c.pos < m)) m = c.pos;
    return m;
}

void KvCache::clear() {
    for (Cell& c : used_cells()) {
        c.seqs.reset();
        c.pos = -1;
    }
    n_used_ = 0;
    end_ = 0;
}

}  // namespace sinan::model
