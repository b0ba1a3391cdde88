#include "text/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/log.h"

namespace sinan::text {
namespace {

// Unicode White_Space (what Oniguruma's \s matches in UTF-8 mode), as class items.
constexpr std::string_view kWhiteSpaceItems =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

// The regexes, as written in the models' tokenizer.json files.
constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kDeepseekV3[] = {
    R"(\p{N}{1,3})",
    R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};
constexpr std::string_view kDeepseekLlm[] = {
    R"([\r\n])",
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943})"
    R"(]+)",
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
    R"(\s+$)",
    R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
    R"(\p{N}+)",
};
constexpr std::string_view kDeepseekCoder[] = {
    R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
    R"(\p{N})",
};

struct Variant {
    std::string_view name;
    std::vector<std::string_view> patterns;
    bool ignore_merges;
    bool nfc;
};

const std::vector<Variant>& variants() {
    static const std::vector<Variant> v = {
        {"gpt-2", {kGpt2}, false, false},
        {"default", {kGpt2}, false, false},
        {"llama-bpe", {kLlama3}, true, false},
        {"llama3", {kLlama3}, true, false},
        {"llama-v3", {kLlama3}, true, false},
        {"qwen2", {kQwen2}, false, true},
        {"deepseek-r1-qwen", {kQwen2}, false, true},
        {"deepseek-v3", {std::begin(kDeepseekV3), std::end(kDeepseekV3)}, false, false},
        {"deepseek-llm", {std::begin(kDeepseekLlm), std::end(kDeepseekLlm)}, false, false},
        {"deepseek-coder", {std::begin(kDeepseekCoder), std::end(kDeepseekCoder)}, false, false},
    };
    return v;
}

// Per-thread match state: match data (one ovector pair: the patterns have no capture groups we
// read) and a JIT stack larger than the 32 KiB default for long runs of white space.
struct ThreadMatchState {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
    ~ThreadMatchState() {
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(stack);
        pcre2_match_data_free(data);
    }
};

ThreadMatchState& match_state() {
    thread_local ThreadMatchState state;
    return state;
}

}  // namespace

struct PreTokenizer::Regex {
    std::string pattern;
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }
};

std::string expand_white_space_classes(std::string_view p) {
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char d = p[++i];
            if (d == 's') {
                out += in_class ? std::string(kWhiteSpaceItems) : "[" + std::string(kWhiteSpaceItems) + "]";
            } else if (d == 'S') {
                SINAN_CHECK(!in_class, "\\S inside a character class is not supported by the rewrite");
                out += "[^" + std::string(kWhiteSpaceItems) + "]";
            } else {
                out += c;
                out += d;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
        } else if (c == ']' && in_class) {
            in_class = false;
        }
        out += c;
    }
    return out;
}

std::vector<std::string_view> PreTokenizer::supported_names() {
    std::vector<std::string_view> names;
    for (const Variant& v : variants()) names.push_back(v.name);
    return names;
}

Result<PreTokenizer> PreTokenizer::create(std::string_view name) {
    const Variant* variant = nullptr;
    for (const Variant& v : variants()) {
        if (v.name == name) variant = &v;
    }
    if (variant == nullptr) {
        std::string list;
        for (std::string_view n : supported_names()) list += (list.empty() ? "" : ", ") + std::string(n);
        return Status::error("tokenizer.ggml.pre = '" + std::string(name) +
                             "' is not a supported byte-level BPE pre-tokenizer (supported: " + list + ")");
    }
    PreTokenizer pt;
    pt.name_ = std::string(name);
    pt.ignore_merges_ = variant->ignore_merges;
    pt.nfc_ = variant->nfc;
    for (std::string_view raw : variant->patterns) {
        auto re = std::make_shared<Regex>();
        re->pattern = expand_white_space_classes(raw);
        int err = 0;
        PCRE2_SIZE err_offset = 0;
        re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re->pattern.data()), re->pattern.size(),
                                 PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
        if (re->code == nullptr) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            SINAN_CHECK(false, "pre-tokenizer pattern does not compile at " + std::to_string(err_offset) + ": " +
                                   reinterpret_cast<const char*>(msg));
        }
        // Without JIT (an unsupported CPU) the interpreter still gives the same splits, only slower.
        if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) != 0) {
            log::debug("pre-tokenizer: PCRE2 JIT unavailable, using the interpreter");
        }
        pt.regexes_.push_back(std::move(re));
    }
    return pt;
}

std::vector<std::string> PreTokenizer::patterns() const {
    std::vector<std::string> out;
    for (const auto& r : regexes_) out.push_back(r->pattern);
    return out;
}

namespace {

// Appends the matches of `code` in `piece` and the gaps between them ("Isolated").
void split_isolated(const pcre2_code* code, std::string_view piece, std::vector<std::string_view>* out) {
    ThreadMatchState& st = match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
    size_t pos = 0;   // where the next search starts
    size_t done = 0;  // end of what has been emitted
    while (pos < piece.size()) {
        int rc = pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, st.data, st.context);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
            // Resource limits (a pathological input): the interpreter has its own, larger ones.
            rc = pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, st.data, nullptr);
        }
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) log::warn("pre-tokenizer: regex match failed; the rest is one piece");
            break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
        const size_t start = ov[0], end = ov[1];
        if (end == start) {
            // None of the patterns matches empty; guard anyway: step over one code point.
            pos = start + 1;
            while (pos < piece.size() && (static_cast<uint8_t>(piece[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        if (start > done) out->push_back(piece.substr(done, start - done));
        out->push_back(piece.substr(start, end - start));
        done = pos = end;
    }
    if (done < piece.size()) out->push_back(piece.substr(done));
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* out) const {
    if (text.empty()) return;
    if (regexes_.size() == 1) {
        split_isolated(regexes_[0]->code, text, out);
        return;
    }
    std::vector<std::string_view> cur{text}, next;
    for (const auto& re : regexes_) {
        next.clear();
        for (std::string_view piece : cur) split_isolated(re->code, piece, &next);
        cur.swap(next);
    }
    out->insert(out->end(), cur.begin(), cur.end());
}

}  // namespace sinan::text
