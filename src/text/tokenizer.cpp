#include "text/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include "text/bpe.h"
#include "text/pre_tokenizer.h"
#include "text/spm.h"
#include "text/utf8.h"
#include "text/wordpiece.h"

namespace sinan::text {
namespace {

// Control tokens that end a turn in the chat formats of the models sinan runs.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>",         "<end_of_turn>",         "<|endoftext|>",
    "<EOT>",      "<|EOT|>",    "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<|eom_id|>",
};

// Code points NFC never changes and never composes with what precedes them: below U+0300, basic
// Cyrillic, CJK punctuation and kana without the combining voicing marks, CJK unified
// ideographs, Hangul syllables. They are all starters (combining class 0), so NFC can be run on
// the stretches between them alone.
bool is_nfc_inert(uint32_t cp) {
    return cp < 0x300 || (cp >= 0x400 && cp <= 0x482) || (cp >= 0x3000 && cp <= 0x3098) ||
           (cp >= 0x309B && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3);
}

std::string utf8proc_nfc(std::string_view s) {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()), &out,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) return std::string(s);  // only on invalid UTF-8, which the caller has already replaced
    std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
}

// NFC of valid UTF-8 `s`; returns false (and leaves *out alone) when `s` is already NFC for
// certain. Only the stretches of other code points, each with the starter before it (which a
// combining mark may compose with), go through utf8proc.
bool to_nfc(std::string_view s, std::string* out) {
    size_t i = 0, done = 0, prev = 0;
    bool changed = false;
    while (i < s.size()) {
        if (static_cast<uint8_t>(s[i]) < 0x80) {
            prev = i++;
            continue;
        }
        const Utf8Step st = decode_utf8(s.substr(i));
        if (is_nfc_inert(st.cp)) {
            prev = i;
            i += st.len;
            continue;
        }
        const size_t begin = prev >= done && prev < i ? prev : i;
        size_t end = i + st.len;
        while (end < s.size()) {
            const Utf8Step next = decode_utf8(s.substr(end));
            if (is_nfc_inert(next.cp)) break;
            end += next.len;
        }
        if (!changed) out->clear();
        changed = true;
        out->append(s.substr(done, begin - done));
        out->append(utf8proc_nfc(s.substr(begin, end - begin)));
        done = end;
        prev = i = end;
    }
    if (changed) out->append(s.substr(done));
    return changed;
}

}  // namespace

struct Tokenizer::State {
    Vocab vocab;
    std::string kind;
    std::optional<BpeModel> bpe;
    std::optional<PreTokenizer> pre;
    std::optional<SpmModel> spm;
    std::optional<WordPieceModel> wpm;

    // Special/added tokens by first byte, longest first: the candidates at a text position.
    std::array<std::vector<int32_t>, 256> special_by_first_byte;
    bool has_user_defined = false;
    std::unordered_map<std::string_view, int32_t> id_of_text;  // views into vocab.tokens
    std::unordered_set<int32_t> eog;
    int32_t eot_id = -1;
};

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    Result<Vocab> v = load_vocab(file);
    if (!v.ok()) return v.status().annotate(file.path() + ": ");
    Result<Tokenizer> t = from_vocab(std::move(*v));
    if (!t.ok()) return t.status().annotate(file.path() + ": ");
    return t;
}

Result<Tokenizer> Tokenizer::from_vocab(Vocab vocab) {
    auto s = std::make_shared<State>();
    s->vocab = std::move(vocab);
    const Vocab& v = s->vocab;
    const size_t n = v.tokens.size();
    if (v.types.size() != n) return Status::error("tokenizer.ggml.token_type does not have one entry per token");
    std::vector<std::string_view> views(v.tokens.begin(), v.tokens.end());

    switch (v.kind) {
        case VocabKind::kBpe: {
            Result<PreTokenizer> pre = PreTokenizer::create(v.pre);
            if (!pre.ok()) return pre.status();
            Result<BpeModel> bpe = BpeModel::create(v);
            if (!bpe.ok()) return bpe.status();
            s->pre = std::move(*pre);
            s->bpe = std::move(*bpe);
            s->kind = "byte-level BPE (" + v.pre + ")";
            break;
        }
        case VocabKind::kSpm: {
            if (v.scores.size() != n) return Status::error("tokenizer.ggml.scores does not have one entry per token");
            Result<SpmModel> spm = SpmModel::create(views, v.scores, v.types, v.unk_id);
            if (!spm.ok()) return spm.status();
            s->spm = std::move(*spm);
            s->kind = "SentencePiece BPE (" + v.model + ")";
            break;
        }
        case VocabKind::kWordPiece: {
            Result<WordPieceModel> wpm = WordPieceModel::create(views, v.unk_id);
            if (!wpm.ok()) return wpm.status();
            s->wpm = std::move(*wpm);
            s->kind = "WordPiece (" + v.model + ")";
            break;
        }
    }

    s->id_of_text.reserve(n);
    std::vector<int32_t> specials;
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int32_t>(i);
        s->id_of_text.emplace(v.tokens[i], id);  // the first id wins for duplicate texts
        const int32_t t = v.types[i];
        if ((t == kTokenControl || t == kTokenUnknown || t == kTokenUserDefined) && !v.tokens[i].empty()) {
            specials.push_back(id);
            if (t == kTokenUserDefined) s->has_user_defined = true;
        }
    }
    std::stable_sort(specials.begin(), specials.end(),
                     [&](int32_t a, int32_t b) { return v.tokens[a].size() > v.tokens[b].size(); });
    for (int32_t id : specials) s->special_by_first_byte[static_cast<uint8_t>(v.tokens[id][0])].push_back(id);

    for (int32_t id : {v.eos_id, v.eot_id, v.eom_id}) {
        if (id >= 0) s->eog.insert(id);
    }
    s->eot_id = v.eot_id;
    for (std::string_view text : kEndOfTurnTexts) {
        const auto it = s->id_of_text.find(text);
        if (it == s->id_of_text.end() || v.types[it->second] != kTokenControl) continue;
        s->eog.insert(it->second);
        if (s->eot_id < 0 && text != "<|endoftext|>" && text != "<｜end▁of▁sentence｜>") s->eot_id = it->second;
    }
    return Tokenizer(std::move(s));
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special, bool parse_special) const {
    const State& s = *s_;
    const Vocab& v = s.vocab;
    std::string sanitized;
    std::string_view text = input;
    if (find_invalid_utf8(input) != input.size()) {
        sanitized = sanitize_utf8(input);
        text = sanitized;
    }

    std::vector<int32_t> out;
    if (add_special) {
        if (v.kind == VocabKind::kWordPiece) {
            const int32_t first = v.cls_id >= 0 ? v.cls_id : v.bos_id;
            if (first >= 0) out.push_back(first);
        } else if (v.add_bos) {
            out.push_back(v.bos_id);
        }
    }

    std::vector<std::string_view> pieces;
    bool prev_special = true;  // SentencePiece: the start of the text counts as after a special token
    auto encode_fragment = [&](std::string_view frag) {
        if (frag.empty()) return;
        switch (v.kind) {
            case VocabKind::kBpe: {
                std::string normalized;
                if (s.pre->nfc() && to_nfc(frag, &normalized)) frag = normalized;
                pieces.clear();
                s.pre->split(frag, &pieces);
                for (std::string_view p : pieces) s.bpe->encode_piece(p, s.pre->ignore_merges(), &out);
                break;
            }
            case VocabKind::kSpm:
                s.spm->encode(frag, v.add_space_prefix && prev_special, &out);
                break;
            case VocabKind::kWordPiece:
                s.wpm->encode(frag, &out);
                break;
        }
        prev_special = false;
    };

    const bool match_any = parse_special || s.has_user_defined;
    size_t frag_start = 0;
    for (size_t i = 0; match_any && i < text.size(); ++i) {
        const auto& candidates = s.special_by_first_byte[static_cast<uint8_t>(text[i])];
        for (int32_t id : candidates) {
            const std::string& tok = v.tokens[id];
            if (!parse_special && v.types[id] != kTokenUserDefined) continue;
            if (text.compare(i, tok.size(), tok) != 0) continue;
            encode_fragment(text.substr(frag_start, i - frag_start));
            out.push_back(id);
            prev_special = true;
            i += tok.size() - 1;
            frag_start = i + 1;
            break;
        }
    }
    encode_fragment(text.substr(frag_start));

    if (add_special) {
        if (v.kind == VocabKind::kWordPiece) {
            const int32_t last = v.sep_id >= 0 ? v.sep_id : v.eos_id;
            if (last >= 0) out.push_back(last);
        } else if (v.add_eos) {
            out.push_back(v.eos_id);
        }
    }
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool skip_special) const {
    const State& s = *s_;
    if (!is_valid_id(id)) return std::string(kReplacementChar);
    const Vocab& v = s.vocab;
    switch (v.types[id]) {
        case kTokenControl:
        case kTokenUnknown:
            return skip_special ? std::string() : v.tokens[id];
        case kTokenUnused:
            return std::string();
        case kTokenUserDefined:
            return v.tokens[id];
        default:
            break;
    }
    switch (v.kind) {
        case VocabKind::kBpe:
            return s.bpe->token_bytes(id);
        case VocabKind::kSpm:
            return s.spm->decode_token(id);
        case VocabKind::kWordPiece:
            return s.wpm->decode_token(id);
    }
    return std::string();
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    std::string bytes;
    bool strip = strips_leading_space();
    for (int32_t id : ids) {
        std::string piece = token_to_piece(id, skip_special);
        if (strip && !piece.empty()) {
            if (piece[0] == ' ') piece.erase(0, 1);
            strip = false;
        }
        bytes += piece;
    }
    if (find_invalid_utf8(bytes) == bytes.size()) return bytes;
    return sanitize_utf8(bytes);
}

const std::string& Tokenizer::token_text(int32_t id) const {
    SINAN_CHECK(is_valid_id(id), "token id out of range");
    return s_->vocab.tokens[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
    SINAN_CHECK(is_valid_id(id), "token id out of range");
    return static_cast<TokenType>(s_->vocab.types[id]);
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    const auto it = s_->id_of_text.find(text);
    if (it == s_->id_of_text.end()) return std::nullopt;
    return it->second;
}

int32_t Tokenizer::n_vocab() const { return s_->vocab.n_vocab(); }
int32_t Tokenizer::bos_id() const { return s_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return s_->vocab.eos_id; }
int32_t Tokenizer::eot_id() const { return s_->eot_id; }
int32_t Tokenizer::unk_id() const { return s_->vocab.unk_id; }
int32_t Tokenizer::sep_id() const { return s_->vocab.sep_id; }
int32_t Tokenizer::cls_id() const { return s_->vocab.cls_id; }
int32_t Tokenizer::pad_id() const { return s_->vocab.pad_id; }
bool Tokenizer::add_bos() const { return s_->vocab.add_bos; }
bool Tokenizer::add_eos() const { return s_->vocab.add_eos; }
std::string_view Tokenizer::kind() const { return s_->kind; }
const Vocab& Tokenizer::vocab() const { return s_->vocab; }
bool Tokenizer::is_eog(int32_t id) const { return s_->eog.count(id) != 0; }

bool Tokenizer::strips_leading_space() const {
    const Vocab& v = s_->vocab;
    return (v.kind == VocabKind::kSpm && v.add_space_prefix) || v.kind == VocabKind::kWordPiece;
}

}  // namespace sinan::text
