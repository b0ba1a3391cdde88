#include "text/wordpiece.h"

#include <utf8proc.h>

#include <algorithm>
#include <climits>

#include "text/piece_index.h"
#include "text/utf8.h"

namespace sinan::text {
namespace {

// llama.cpp's "NFD" keeps only the first code point of the canonical decomposition, which drops
// the accents of precomposed letters (what BERT's strip_accents does for them).
int32_t first_of_decomposition(int32_t cp) {
    utf8proc_int32_t buf[32];
    int boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(cp, buf, 32, UTF8PROC_DECOMPOSE, &boundclass);
    return n >= 1 ? buf[0] : cp;
}

bool is_whitespace(int32_t cp, utf8proc_category_t cat) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

bool is_control(utf8proc_category_t cat) {
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
           cat == UTF8PROC_CATEGORY_CO;
}

bool is_punctuation(utf8proc_category_t cat) { return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO; }

bool is_symbol(utf8proc_category_t cat) { return cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO; }

// BERT's "Chinese character" blocks (CJK Unified Ideographs and extensions, compatibility
// ideographs). The extension range starting at 0x2B920 instead of 0x2B820 follows Hugging Face's
// Rust tokenizer and llama.cpp, whose output we match.
bool is_cjk_ideograph(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

struct WordPieceModel::Tables {
    Tables(std::span<const std::string_view> tokens, int32_t unk) : pieces(tokens), unk_id(unk) {}

    PieceIndex pieces;
    int32_t unk_id;

    // Greedy longest-match-first split of one normalised word; the whole word becomes unk_id when
    // some position has no matching piece.
    void encode_word(const std::string& word, std::vector<int32_t>* out) const {
        std::string marked;
        marked.reserve(kSpaceMark.size() + word.size());
        marked += kSpaceMark;
        marked += word;
        const std::string_view w = marked;
        const size_t first = out->size();
        for (size_t i = 0; i < w.size();) {
            int32_t id = -1;
            size_t len = std::min(w.size() - i, pieces.max_text_bytes());
            while (len > 0 && (id = pieces.find(w.substr(i, len))) < 0) --len;
            if (id < 0) {
                out->resize(first);
                out->push_back(unk_id);
                return;
            }
            out->push_back(id);
            i += len;
        }
    }
};

Result<WordPieceModel> WordPieceModel::create(std::span<const std::string_view> tokens, int32_t unk_id) {
    const size_t n = tokens.size();
    if (n == 0) return Status::error("WordPiece vocabulary is empty: the GGUF has no tokenizer.ggml.tokens");
    if (n > static_cast<size_t>(INT32_MAX)) return Status::error("WordPiece vocabulary has too many tokens");
    if (unk_id < 0 || unk_id >= static_cast<int64_t>(n)) {
        return Status::error("WordPiece unknown token id " + std::to_string(unk_id) +
                             " is not a token id; set tokenizer.ggml.unknown_token_id in the GGUF");
    }
    return WordPieceModel(std::make_shared<Tables>(tokens, unk_id));
}

int32_t WordPieceModel::n_tokens() const { return tables_->pieces.size(); }

void WordPieceModel::encode(std::string_view text, std::vector<int32_t>* out) const {
    const Tables& t = *tables_;
    std::string word;
    auto finish_word = [&] {
        if (!word.empty()) t.encode_word(word, out);
        word.clear();
    };

    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    const auto size = static_cast<utf8proc_ssize_t>(text.size());
    for (utf8proc_ssize_t offset = 0; offset < size;) {
        utf8proc_int32_t raw = 0;
        const utf8proc_ssize_t len = utf8proc_iterate(p + offset, size - offset, &raw);
        if (len <= 0) {  // invalid UTF-8: llama.cpp reads it as U+FFFD, which is dropped below
            ++offset;
            continue;
        }
        offset += len;

        const int32_t cp = first_of_decomposition(raw);
        const utf8proc_category_t cat = utf8proc_category(cp);
        if (is_whitespace(cp, cat)) {
            finish_word();
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || is_control(cat)) continue;

        const auto lower = static_cast<uint32_t>(utf8proc_tolower(cp));
        if (is_punctuation(cat) || (cp < 0x7F && is_symbol(cat)) || is_cjk_ideograph(cp)) {
            finish_word();
            append_utf8(lower, &word);
            finish_word();
        } else {
            append_utf8(lower, &word);
        }
    }
    finish_word();
}

std::string WordPieceModel::decode_token(int32_t id) const {
    SINAN_CHECK(id >= 0 && id < n_tokens(), "WordPieceModel::decode_token: id out of range");
    return replace_space_marks(tables_->pieces.text(id));
}

}  // namespace sinan::text
