// KvCache: the keys and values of past tokens, for every layer, shared by many sequences.
//
// The cache is n_cells cells; a cell holds one token's K and V for every layer, its position,
// and the set of sequences it belongs to (a prefix can be shared: seq_cp adds a sequence to
// cells without copying data). A token attends to the cells of its own sequence whose position
// is <= its own. Running out of cells is a normal outcome (find_slots returns nullopt): the
// caller waits, evicts or shrinks the batch.
//
// Layout: k(layer, cell) points to a row of n_embd_k values stored as type(), v(layer, cell) to
// n_embd_v; a row takes gguf::row_bytes(type(), n) bytes and value i of it starts at byte
// row_bytes(type(), i) (i a multiple of the type's block size). An architecture chooses the row
// widths: [n_head_kv, head_dim] for K and for V in a standard transformer; one row of the
// compressed latent plus the rotated key part for K and none for V (n_embd_v = 0: values are
// read from the latent) with multi-head latent attention.
// Types: F16 (the default; half the memory of F32, what the reference engine stores by default)
// or Q8_0 (32-value blocks of int8 with an F16 scale: 34 bytes per 32 values, 53% of F16), which
// needs every row width to be a multiple of 32 (Model::check_kv_type says which models allow it).
// Not thread-safe: owned by the engine loop; the forward pass reads it from its worker threads
// while nothing modifies it.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gguf/tensor_type.h"

namespace sinan::model {

class KvCache {
public:
    static constexpr int kMaxSequences = 256;

    // type: F16 or Q8_0 (CHECKed, as are row widths that are not whole blocks of it).
    KvCache(int64_t n_layer, int64_t n_cells, int64_t n_embd_kv) : KvCache(n_layer, n_cells, n_embd_kv, n_embd_kv) {}
    KvCache(int64_t n_layer, int64_t n_cells, int64_t n_embd_k, int64_t n_embd_v,
            gguf::TensorType type = gguf::TensorType::F16);

    // True for the types a cache can store: F16 and Q8_0.
    static bool is_supported_type(gguf::TensorType type) {
        return type == gguf::TensorType::F16 || type == gguf::TensorType::Q8_0;
    }

    int64_t n_cells() const { return n_cells_; }
    int64_t n_used() const { return n_used_; }
    // One past the highest used cell: every cell from here on is free. find_slots claims the lowest
    // free cells, so the used ones gather at the start and a loop over them can stop here instead
    // of at n_cells (a server's cache is sized for every slot's whole context).
    int64_t cells_end() const { return end_; }

    // Claims n free cells (not necessarily contiguous); nullopt when fewer are free. The
    // caller then assigns each a position and sequence with set_cell.
    std::optional<std::vector<int32_t>> find_slots(int64_t n);
    void set_cell(int32_t cell, int32_t pos, int32_t seq);

    // Removes sequence `seq`'s cells with p0 <= pos < p1 (p1 < 0: to the end; seq < 0: all seqs).
    void seq_rm(int32_t seq, int32_t p0, int32_t p1);
    // Adds `dst` to the cells of `src` with p0 <= pos < p1 (shares them; no data copied).
    void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
    // Moves the positions of `seq`'s cells with p0 <= pos < p1 (p1 < 0: to the end) by `delta`
    // and returns those cells (context shift; the caller re-rotates their keys with
    // Model::shift_keys). A cell shared with other sequences moves for them too: shift only
    // sequences whose cells are their own.
    std::vector<int32_t> seq_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta);
    // How many of `seq`'s cells with p0 <= pos < p1 (p1 < 0: to the end) other sequences hold too.
    int64_t seq_n_shared(int32_t seq, int32_t p0, int32_t p1) const;
    // Gives `seq` cells of its own in place of those counted by seq_n_shared: each shared cell's K
    // and V rows (every layer) are copied to a free cell that takes the position for `seq` alone,
    // and `seq` leaves the shared cell (the others keep it unchanged). Afterwards seq_shift may move
    // the range. False, with nothing changed, when fewer cells are free than seq_n_shared.
    bool seq_unshare(int32_t seq, int32_t p0, int32_t p1);
    // Largest and smallest position of `seq` in the cache, -1 when it has none.
    int32_t seq_pos_max(int32_t seq) const;
    int32_t seq_pos_min(int32_t seq) const;
    void clear();

    bool cell_used(int32_t c) const { return cells_[static_cast<size_t>(c)].seqs.any(); }
    bool cell_has(int32_t c, int32_t seq) const { return cells_[static_cast<size_t>(c)].seqs.test(static_cast<size_t>(seq)); }
    // The sequences that hold cell c (none: a free cell).
    const std::bitset<kMaxSequences>& cell_seqs(int32_t c) const { return cells_[static_cast<size_t>(c)].seqs; }
    int32_t cell_pos(int32_t c) const { return cells_[static_cast<size_t>(c)].pos; }

    int64_t n_embd_k() const { return n_embd_k_; }
    int64_t n_embd_v() const { return n_embd_v_; }
    gguf::TensorType type() const { return type_; }
    // Bytes from one cell's K row to the next cell's (in a layer).
    uint64_t k_row_bytes() const { return k_row_bytes_; }
    // Byte offset of value i in a row (i a multiple of the type's block size).
    uint64_t offset_bytes(int64_t i) const { return gguf::row_bytes(type_, static_cast<uint64_t>(i)); }
    uint8_t* k(int64_t layer, int64_t cell) { return reinterpret_cast<uint8_t*>(k_.data()) + at(layer, cell, k_row_bytes_); }
    uint8_t* v(int64_t layer, int64_t cell) { return reinterpret_cast<uint8_t*>(v_.data()) + at(layer, cell, v_row_bytes_); }
    const uint8_t* k(int64_t layer, int64_t cell) const {
        return reinterpret_cast<const uint8_t*>(k_.data()) + at(layer, cell, k_row_bytes_);
    }
    const uint8_t* v(int64_t layer, int64_t cell) const {
        return reinterpret_cast<const uint8_t*>(v_.data()) + at(layer, cell, v_row_bytes_);
    }

    // Bytes one token takes in a cache of n_layer layers with K and V rows of n_embd_k and n_embd_v
    // values stored as `type` (any type with whole blocks: what other cache types would take).
    static uint64_t bytes_per_token(int64_t n_layer, int64_t n_embd_k, int64_t n_embd_v, gguf::TensorType type) {
        return static_cast<uint64_t>(n_layer) * (gguf::row_bytes(type, static_cast<uint64_t>(n_embd_k)) +
                                                 gguf::row_bytes(type, static_cast<uint64_t>(n_embd_v)));
    }

    // Bytes of K and V storage, and per cell (one token, all layers).
    uint64_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }
    uint64_t bytes_per_cell() const { return static_cast<uint64_t>(n_layer_) * (k_row_bytes_ + v_row_bytes_); }

private:
    struct Cell {
        int32_t pos = -1;
        std::bitset<kMaxSequences> seqs;
    };
    void release_if_empty(Cell& c);
    void shrink_end();  // end_ back to one past the highest used cell, after cells were freed
    // Cells [0, end_): all the used ones (and free ones among them).
    std::span<Cell> used_cells() { return {cells_.data(), static_cast<size_t>(end_)}; }
    std::span<const Cell> used_cells() const { return {cells_.data(), static_cast<size_t>(end_)}; }
    // Byte offset of a row. Rows are whole 16-bit words (F16 values; Q8_0 blocks of 34 bytes), so
    // storage is uint16_t and every row starts 2-byte aligned, as the kernels require.
    uint64_t at(int64_t layer, int64_t cell, uint64_t row_bytes) const {
        return static_cast<uint64_t>(layer * n_cells_ + cell) * row_bytes;
    }

    int64_t n_layer_, n_cells_, n_embd_k_, n_embd_v_;
    gguf::TensorType type_;
    uint64_t k_row_bytes_, v_row_bytes_;
    int64_t n_used_ = 0;
    int64_t end_ = 0;  // cells_end()
    std::vector<Cell> cells_;
    std::vector<uint16_t> k_, v_;  // rows of type_: [n_layer, n_cells, k_row_bytes_] and [.., v_row_bytes_]
};

}  // namespace sinan::model
