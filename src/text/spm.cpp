#include "text/spm.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <functional>
#include <queue>

#include "text/piece_index.h"

namespace sinan::text {
namespace {

constexpr std::string_view kUnknownMark = "\xE2\x96\x85";  // U+2585, how llama.cpp shows <unk>

enum TokenType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
};

// Length of the UTF-8 sequence a lead byte announces; a stray continuation byte counts as one
// character (llama.cpp splits the same way, so invalid input tokenizes identically).
size_t utf8_sequence_length(uint8_t lead) {
    static constexpr std::array<uint8_t, 16> kByHighNibble = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kByHighNibble[lead >> 4];
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xAB>" -> 0xAB; -1 when `text` is not of that form.
int parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    int hi = hex_digit(text[3]);
    int lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// One character or merged run of characters of the text being encoded, in a doubly linked list.
struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t offset;   // into the escaped text
    uint32_t n_bytes;  // 0 once merged into its left neighbour
};

// A candidate merge of two adjacent symbols into a vocabulary token.
struct Bigram {
    int32_t left;
    int32_t right;
    float score;
    uint32_t n_bytes;  // of the merged text; a stale entry no longer matches the symbols' sizes

    // priority_queue puts the greatest first: the highest score, then the leftmost pair.
    bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
};

}  // namespace

struct SpmModel::Tables {
    explicit Tables(std::span<const std::string_view> tokens) : pieces(tokens) {}

    PieceIndex pieces;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::array<int32_t, 256> byte_ids{};  // the token each byte falls back to
};

Result<SpmModel> SpmModel::create(std::span<const std::string_view> tokens, std::span<const float> scores,
                                  std::span<const int32_t> types, int32_t unk_id) {
    const size_t n = tokens.size();
    if (n == 0) return Status::error("SPM vocabulary is empty: the GGUF has no tokenizer.ggml.tokens");
    if (scores.size() != n || types.size() != n) {
        return Status::error("SPM vocabulary is inconsistent: " + std::to_string(n) + " tokens, " +
                             std::to_string(scores.size()) + " scores, " + std::to_string(types.size()) +
                             " token types; re-convert the model");
    }
    if (n > static_cast<size_t>(INT32_MAX)) return Status::error("SPM vocabulary has too many tokens");
    if (unk_id < -1 || unk_id >= static_cast<int64_t>(n)) {
        return Status::error("SPM unknown token id " + std::to_string(unk_id) + " is not a token id (vocabulary has " +
                             std::to_string(n) + " tokens)");
    }

    auto t = std::make_shared<Tables>(tokens);
    t->scores.assign(scores.begin(), scores.end());
    t->types.assign(types.begin(), types.end());
    for (size_t id = 0; id < n; ++id) {
        if (types[id] == kByte && parse_byte_token(tokens[id]) < 0) {
            return Status::error("SPM byte token " + std::to_string(id) + " is \"" + std::string(tokens[id]) +
                                 "\", expected the form <0xAB>; re-convert the model");
        }
    }

    // A byte falls back to "<0xAB>", else to a token that is that single byte (llama.cpp's order),
    // else to the unknown token.
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
        const char raw = static_cast<char>(b);
        int32_t id = t->pieces.find(std::string_view(name, 6));
        if (id < 0) id = t->pieces.find(std::string_view(&raw, 1));
        if (id < 0) id = unk_id;
        if (id < 0) {
            return Status::error(std::string("SPM vocabulary has no byte token <0x") + kHex[b >> 4] + kHex[b & 15] +
                                 "> and no unknown token to fall back to; re-convert the model with byte fallback");
        }
        t->byte_ids[b] = id;
    }
    return SpmModel(std::move(t));
}

int32_t SpmModel::n_tokens() const { return tables_->pieces.size(); }

void SpmModel::encode(std::string_view text, bool add_space_prefix, std::vector<int32_t>* out) const {
    if (text.empty()) return;
    const Tables& t = *tables_;

    std::string escaped;
    escaped.reserve(text.size() + text.size() / 2 + kSpaceMark.size());
    if (add_space_prefix) escaped += kSpaceMark;
    for (char c : text) {
        if (c == ' ') {
            escaped += kSpaceMark;
        } else {
            escaped += c;
        }
    }
    SINAN_CHECK(escaped.size() <= UINT32_MAX, "SPM encode: text longer than 4 GiB");

    std::vector<Symbol> symbols;
    symbols.reserve(escaped.size());
    for (size_t offset = 0; offset < escaped.size();) {
        const size_t len =
            std::min(utf8_sequence_length(static_cast<uint8_t>(escaped[offset])), escaped.size() - offset);
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({index - 1, offset + len == escaped.size() ? -1 : index + 1, static_cast<uint32_t>(offset),
                           static_cast<uint32_t>(len)});
        offset += len;
    }

    std::vector<Bigram> queue_storage;
    queue_storage.reserve(symbols.size());
    std::priority_queue<Bigram> queue(std::less<Bigram>(), std::move(queue_storage));
    const size_t max_token_bytes = t.pieces.max_text_bytes();
    auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[left];
        const uint32_t n_bytes = l.n_bytes + symbols[right].n_bytes;
        if (n_bytes > max_token_bytes) return;  // no token is that long: spare the hash
        const int32_t id = t.pieces.find(std::string_view(escaped).substr(l.offset, n_bytes));
        if (id >= 0) queue.push({left, right, t.scores[id], n_bytes});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
        const Bigram top = queue.top();
        queue.pop();
        Symbol& left = symbols[top.left];
        Symbol& right = symbols[top.right];
        // Either side was merged since this pair was queued: the entry is stale.
        if (left.n_bytes == 0 || right.n_bytes == 0 || left.n_bytes + right.n_bytes != top.n_bytes) continue;
        left.n_bytes += right.n_bytes;
        right.n_bytes = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = top.left;
        try_add(left.prev, top.left);
        try_add(top.left, left.next);
    }

    // Every merged symbol is a token by construction; only single characters can be missing.
    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        const std::string_view piece = std::string_view(escaped).substr(s.offset, s.n_bytes);
        const int32_t id = t.pieces.find(piece);
        if (id >= 0) {
            out->push_back(id);
            continue;
        }
        for (char c : piece) out->push_back(t.byte_ids[static_cast<uint8_t>(c)]);
    }
}

std::string SpmModel::decode_token(int32_t id) const {
    const Tables& t = *tables_;
    SINAN_CHECK(id >= 0 && id < n_tokens(), "SpmModel::decode_token: id out of range");
    const std::string& text = t.pieces.text(id);
    switch (t.types[id]) {
        case kByte:
            return std::string(1, static_cast<char>(parse_byte_token(text)));
        case kUnknown:
            return std::string(kUnknownMark);
        case kUnused:
            return {};
        case kControl:
        case kUserDefined:
            return text;
        default:
            return replace_space_marks(text);
    }
}

}  // namespace sinan::text
