#include "text/bpe.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <unordered_map>

#include "text/utf8.h"

namespace sinan::text {
namespace {

struct Alphabet {
    std::array<uint32_t, 256> to_cp{};
    std::unordered_map<uint32_t, uint8_t> to_byte;
    Alphabet() {
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
            to_byte[to_cp[b]] = static_cast<uint8_t>(b);
        }
    }
};

const Alphabet& alphabet() {
    static const Alphabet a;
    return a;
}

// Token text in the byte alphabet -> bytes. Characters outside the alphabet (only in odd vocabs)
// are kept as their own UTF-8.
std::string alphabet_to_bytes(std::string_view text) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        const Utf8Step step = decode_utf8(text.substr(i));
        if (step.kind == Utf8Step::kOk) {
            const int b = unicode_to_byte(step.cp);
            if (b >= 0) {
                out.push_back(static_cast<char>(b));
            } else {
                out.append(text.substr(i, step.len));
            }
        } else {
            out.append(text.substr(i, step.len));
        }
        i += step.len;
    }
    return out;
}

uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Open-addressing map from a token pair to its merge (rank and result): the hot lookup of encoding.
class MergeTable {
  public:
    struct Merge {
        int32_t rank;
        int32_t id;
    };
    explicit MergeTable(size_t n) {
        size_t cap = 16;
        while (cap < n * 2) cap <<= 1;
        keys_.assign(cap, kEmpty);
        vals_.resize(cap);
        mask_ = cap - 1;
    }
    // Keeps the first (lowest-rank) merge of a pair.
    void insert(uint64_t key, Merge m) {
        size_t i = hash(key) & mask_;
        while (keys_[i] != kEmpty) {
            if (keys_[i] == key) return;
            i = (i + 1) & mask_;
        }
        keys_[i] = key;
        vals_[i] = m;
    }
    const Merge* find(uint64_t key) const {
        size_t i = hash(key) & mask_;
        while (keys_[i] != kEmpty) {
            if (keys_[i] == key) return &vals_[i];
            i = (i + 1) & mask_;
        }
        return nullptr;
    }

  private:
    static constexpr uint64_t kEmpty = ~0ull;
    static size_t hash(uint64_t k) {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        return static_cast<size_t>(k);
    }
    std::vector<uint64_t> keys_;
    std::vector<Merge> vals_;
    size_t mask_ = 0;
};

}  // namespace

uint32_t byte_to_unicode(uint8_t b) { return alphabet().to_cp[b]; }

int unicode_to_byte(uint32_t cp) {
    const auto& m = alphabet().to_byte;
    const auto it = m.find(cp);
    return it == m.end() ? -1 : it->second;
}

struct BpeModel::Tables {
    uint64_t serial = 0;                                // identifies the model to per-thread caches
    std::vector<std::string> bytes;                     // [n_vocab] what each token stands for
    std::array<int32_t, 256> byte_id{};                 // the single-byte token of each byte
    std::unordered_map<std::string_view, int32_t> ids;  // normal tokens by bytes (views into `bytes`)
    MergeTable merges{0};
};

Result<BpeModel> BpeModel::create(const Vocab& vocab) {
    static std::atomic<uint64_t> next_serial{1};
    auto t = std::make_shared<Tables>();
    t->serial = next_serial++;
    const size_t n = vocab.tokens.size();
    t->bytes.resize(n);
    for (size_t i = 0; i < n; ++i) {
        // Only normal tokens are in the byte alphabet; added tokens are stored as plain text.
        t->bytes[i] = vocab.types[i] == kTokenNormal ? alphabet_to_bytes(vocab.tokens[i]) : vocab.tokens[i];
    }
    t->ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (vocab.types[i] == kTokenNormal) t->ids.emplace(t->bytes[i], static_cast<int32_t>(i));
    }
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const auto it = t->ids.find(std::string_view(&c, 1));
        if (it == t->ids.end()) {
            // Bytes that never occur in UTF-8 (C0, C1, F5..FF) may lack a token (DeepSeek's vocabs
            // turned those characters into added tokens); encode() only sees valid UTF-8.
            if (b == 0xC0 || b == 0xC1 || b >= 0xF5) {
                t->byte_id[b] = -1;
                continue;
            }
            std::string ch;
            append_utf8(byte_to_unicode(static_cast<uint8_t>(b)), &ch);
            return Status::error("tokenizer.ggml.tokens has no token for byte " + std::to_string(b) + " ('" + ch +
                                 "'): not a byte-level BPE vocab");
        }
        t->byte_id[b] = it->second;
    }
    t->merges = MergeTable(vocab.merges.size());
    for (size_t r = 0; r < vocab.merges.size(); ++r) {
        const std::string& m = vocab.merges[r];
        const size_t sp = m.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size()) {
            return Status::error("tokenizer.ggml.merges[" + std::to_string(r) + "] = '" + m +
                                 "' is not of the form 'left right'");
        }
        const std::string left = alphabet_to_bytes(std::string_view(m).substr(0, sp));
        const std::string right = alphabet_to_bytes(std::string_view(m).substr(sp + 1));
        const auto l = t->ids.find(left), rr = t->ids.find(right), res = t->ids.find(left + right);
        if (l == t->ids.end() || rr == t->ids.end() || res == t->ids.end()) continue;
        t->merges.insert(pair_key(l->second, rr->second), {static_cast<int32_t>(r), res->second});
    }
    return BpeModel(std::move(t));
}

const std::string& BpeModel::token_bytes(int32_t id) const { return tables_->bytes[static_cast<size_t>(id)]; }

namespace {

// Symbols form a doubly linked list in text order; a merge keeps the left symbol.
struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
};

struct Candidate {
    int32_t rank;
    int32_t left;  // symbol index (= text order)
    int32_t left_id, right_id, merged_id;
    // Heap order: lowest rank first, then leftmost.
    bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
};

struct StringViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Per-thread scratch buffers and a cache of encoded pieces (natural text repeats its words; HF's
// BPE keeps such a cache too). The cache belongs to one model at a time and is bounded.
struct Scratch {
    uint64_t owner = 0;  // Tables::serial of the model the cache belongs to
    std::unordered_map<std::string, std::vector<int32_t>, StringViewHash, std::equal_to<>> cache;
    std::vector<Symbol> sym;
    std::vector<Candidate> heap;
};
constexpr size_t kMaxCachedPieceBytes = 64;
constexpr size_t kMaxCacheEntries = 1 << 16;

}  // namespace

void BpeModel::encode_piece(std::string_view piece, bool ignore_merges, std::vector<int32_t>* out) const {
    const Tables& t = *tables_;
    if (piece.empty()) return;
    if (piece.size() == 1) {
        out->push_back(t.byte_id[static_cast<uint8_t>(piece[0])]);
        return;
    }
    if (ignore_merges) {
        const auto it = t.ids.find(piece);
        if (it != t.ids.end()) {
            out->push_back(it->second);
            return;
        }
    }
    thread_local Scratch sc;
    if (sc.owner != t.serial) {
        sc.cache.clear();
        sc.owner = t.serial;
    }
    const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
    if (cacheable) {
        const auto it = sc.cache.find(piece);
        if (it != sc.cache.end()) {
            out->insert(out->end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const auto n = static_cast<int32_t>(piece.size());
    std::vector<Symbol>& sym = sc.sym;
    std::vector<Candidate>& heap = sc.heap;
    sym.resize(static_cast<size_t>(n));
    heap.clear();
    for (int32_t i = 0; i < n; ++i) sym[i] = {t.byte_id[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
    auto push_pair = [&](int32_t left) {
        if (left < 0 || sym[left].next < 0) return;
        const int32_t right = sym[left].next;
        if (const MergeTable::Merge* m = t.merges.find(pair_key(sym[left].id, sym[right].id))) {
            heap.push_back({m->rank, left, sym[left].id, sym[right].id, m->id});
            std::push_heap(heap.begin(), heap.end());
        }
    };
    for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end());
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& l = sym[c.left];
        // Stale candidates: the left symbol was merged away (id -1) or either side changed since.
        if (l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;
        const int32_t r = l.next;
        l.id = c.merged_id;
        l.next = sym[r].next;
        if (l.next >= 0) sym[l.next].prev = c.left;
        sym[r].id = -1;
        push_pair(l.prev);
        push_pair(c.left);
    }
    const size_t first = out->size();
    for (int32_t i = 0; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
    if (cacheable) {
        if (sc.cache.size() >= kMaxCacheEntries) sc.cache.clear();
        sc.cache.emplace(std::string(piece), std::vector<int32_t>(out->begin() + static_cast<long>(first), out->end()));
    }
}

}  // namespace sinan::text
