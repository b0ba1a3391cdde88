// KvCache: the keys and values of past tokens, for every layer, shared by many sequences.
//
// The cache is n_cells cells; a cell holds one token's K and V for every layer, its position,
// and the set of sequences it belongs to (a prefix can be shared: seq_cp adds a sequence to
// cells without copying data). A token attends to the cells of its own sequence whose position
// is <= its own. Running out of cells is a normal outcome (find_slots returns nullopt): the
// caller waits, evicts or shrinks the batch.
//
// Layout: k(layer, cell) points to n_embd_k F16 values, v(layer, cell) to n_embd_v. An
// architecture chooses the row widths: [n_head_kv, head_dim] for K and for V in a standard
// transformer; one row of the compressed latent plus the rotated key part for K and none for V
// (n_embd_v = 0: values are read from the latent) with multi-head latent attention.
// F16 halves the memory of F32 and is what the reference engine stores by default.
// Not thread-safe: owned by the engine loop; the forward pass reads it from its worker threads
// while nothing modifies it.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <vector>

#include "gguf/tensor_type.h"

namespace sinan::model {

class KvCache {
public:
    static constexpr int kMaxSequences = 256;

    KvCache(int64_t n_layer, int64_t n_cells, int64_t n_embd_kv) : KvCache(n_layer, n_cells, n_embd_kv, n_embd_kv) {}
    KvCache(int64_t n_layer, int64_t n_cells, int64_t n_embd_k, int64_t n_embd_v);

    int64_t n_cells() const { return n_cells_; }
    int64_t n_used() const { return n_used_; }

    // Claims n free cells (not necessarily contiguous); nullopt when fewer are free. The
    // caller then assigns each a position and sequence with set_cell.
    std::optional<std::vector<int32_t>> find_slots(int64_t n);
    void set_cell(int32_t cell, int32_t pos, int32_t seq);

    // Removes sequence `seq`'s cells with p0 <= pos < p1 (p1 < 0: to the end; seq < 0: all seqs).
    void seq_rm(int32_t seq, int32_t p0, int32_t p1);
    // Adds `dst` to the cells of `src` with p0 <= pos < p1 (shares them; no data copied).
    void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
    // Largest position of `seq` in the cache, -1 when it has none.
    int32_t seq_pos_max(int32_t seq) const;
    void clear();

    bool cell_used(int32_t c) const { return cells_[static_cast<size_t>(c)].seqs.any(); }
    bool cell_has(int32_t c, int32_t seq) const { return cells_[static_cast<size_t>(c)].seqs.test(static_cast<size_t>(seq)); }
    int32_t cell_pos(int32_t c) const { return cells_[static_cast<size_t>(c)].pos; }

    int64_t n_embd_k() const { return n_embd_k_; }
    int64_t n_embd_v() const { return n_embd_v_; }
    uint16_t* k(int64_t layer, int64_t cell) { return k_.data() + (layer * n_cells_ + cell) * n_embd_k_; }
    uint16_t* v(int64_t layer, int64_t cell) { return v_.data() + (layer * n_cells_ + cell) * n_embd_v_; }
    const uint16_t* k(int64_t layer, int64_t cell) const { return k_.data() + (layer * n_cells_ + cell) * n_embd_k_; }
    const uint16_t* v(int64_t layer, int64_t cell) const { return v_.data() + (layer * n_cells_ + cell) * n_embd_v_; }

    // Bytes one token takes in a cache of n_layer layers with K and V rows of n_embd_k and n_embd_v
    // values stored as `type` (F16 here; what other cache types would take, for comparison).
    static uint64_t bytes_per_token(int64_t n_layer, int64_t n_embd_k, int64_t n_embd_v, gguf::TensorType type) {
        return static_cast<uint64_t>(n_layer) * (gguf::row_bytes(type, static_cast<uint64_t>(n_embd_k)) +
                                                 gguf::row_bytes(type, static_cast<uint64_t>(n_embd_v)));
    }

    // Bytes of K and V storage, and per cell (one token, all layers).
    uint64_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }
    uint64_t bytes_per_cell() const { return static_cast<uint64_t>(n_layer_ * (n_embd_k_ + n_embd_v_)) * sizeof(uint16_t); }

private:
    struct Cell {
        int32_t pos = -1;
        std::bitset<kMaxSequences> seqs;
    };
    void release_if_empty(Cell& c);

    int64_t n_layer_, n_cells_, n_embd_k_, n_embd_v_;
    int64_t n_used_ = 0;
    std::vector<Cell> cells_;
    std::vector<uint16_t> k_, v_;  // F16, [n_layer, n_cells, n_embd_k] and [n_layer, n_cells, n_embd_v]
};

}  // namespace sinan::model
