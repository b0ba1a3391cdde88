// The PCRE2 pre-tokenizers against a reference written here by hand from the regex semantics
// (leftmost alternative first, greedy with backtracking), using utf8proc's Unicode categories and
// the White_Space set that Hugging Face's Oniguruma gives \s. Random strings over an alphabet of
// scripts, marks, digits, white space and punctuation; the seed is printed on failure.
#include "text/pre_tokenizer.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <random>
#include <string>
#include <vector>

#include "text/utf8.h"

namespace sinan::text {
namespace {

std::vector<uint32_t> to_cps(std::string_view s) {
    std::vector<uint32_t> cps;
    for (size_t i = 0; i < s.size();) {
        const Utf8Step st = decode_utf8(s.substr(i));
        cps.push_back(st.cp);
        i += st.len;
    }
    return cps;
}

std::string from_cps(const std::vector<uint32_t>& cps, size_t b, size_t e) {
    std::string out;
    for (size_t i = b; i < e; ++i) append_utf8(cps[i], &out);
    return out;
}

// Unicode White_Space (the property, as Oniguruma's \s).
bool is_ws(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool is_letter(uint32_t c) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool is_number(uint32_t c) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}
bool is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
bool is_other(uint32_t c) { return !is_ws(c) && !is_letter(c) && !is_number(c); }

// Length of the contraction at i ('s 't 're 've 'm 'll 'd), 0 if none. case_insensitive also
// accepts upper case and U+017F (long s, which case-folds to s).
size_t contraction(const std::vector<uint32_t>& c, size_t i, bool case_insensitive) {
    if (c[i] != '\'' || i + 1 >= c.size()) return 0;
    auto eq = [&](size_t k, char want) {
        if (k >= c.size()) return false;
        if (c[k] == static_cast<uint32_t>(want)) return true;
        if (!case_insensitive) return false;
        if (c[k] == static_cast<uint32_t>(want - 'a' + 'A')) return true;
        return want == 's' && c[k] == 0x17F;
    };
    if (eq(i + 1, 's') || eq(i + 1, 't')) return 2;
    if ((eq(i + 1, 'r') || eq(i + 1, 'v')) && eq(i + 2, 'e')) return 3;
    if (eq(i + 1, 'm')) return 2;
    if (eq(i + 1, 'l') && eq(i + 2, 'l')) return 3;
    if (eq(i + 1, 'd')) return 2;
    return 0;
}

size_t run(const std::vector<uint32_t>& c, size_t i, bool (*pred)(uint32_t)) {
    size_t j = i;
    while (j < c.size() && pred(c[j])) ++j;
    return j;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ at a white-space position: the shared tail of all three regexes.
size_t white_space_match(const std::vector<uint32_t>& c, size_t i, bool with_newline_rule) {
    const size_t j = run(c, i, is_ws);
    if (with_newline_rule) {
        for (size_t k = j; k > i; --k) {
            if (is_nl(c[k - 1])) return k;
        }
    }
    if (j == c.size() || j - i == 1) return j;  // \s+(?!\S) at the end, or \s+ for a single char
    return j - 1;                               // leave one space to lead the next word
}

// Qwen2 (digits_max 1) and Llama 3 (digits_max 3).
std::vector<std::string> reference_qwen_llama(std::string_view text, size_t digits_max) {
    const std::vector<uint32_t> c = to_cps(text);
    std::vector<std::string> out;
    size_t i = 0;
    while (i < c.size()) {
        size_t e = 0;
        if (size_t n = contraction(c, i, true)) {
            e = i + n;
        } else if (is_letter(c[i])) {
            e = run(c, i, is_letter);
        } else if (!is_nl(c[i]) && !is_number(c[i]) && i + 1 < c.size() && is_letter(c[i + 1])) {
            e = run(c, i + 1, is_letter);
        } else if (is_number(c[i])) {
            e = i;
            while (e < c.size() && e - i < digits_max && is_number(c[e])) ++e;
        } else if (is_other(c[i]) || (c[i] == ' ' && i + 1 < c.size() && is_other(c[i + 1]))) {
            e = run(c, c[i] == ' ' ? i + 1 : i, is_other);
            e = run(c, e, is_nl);
        } else {
            e = white_space_match(c, i, true);
        }
        out.push_back(from_cps(c, i, e));
        i = e;
    }
    return out;
}

std::vector<std::string> reference_gpt2(std::string_view text) {
    const std::vector<uint32_t> c = to_cps(text);
    std::vector<std::string> out;
    size_t i = 0;
    while (i < c.size()) {
        size_t e = 0;
        const bool sp = c[i] == ' ' && i + 1 < c.size();
        const size_t s = sp ? i + 1 : i;
        if (size_t n = contraction(c, i, false)) {
            e = i + n;
        } else if (is_letter(c[i]) || (sp && is_letter(c[s]))) {
            e = run(c, s, is_letter);
        } else if (is_number(c[i]) || (sp && is_number(c[s]))) {
            e = run(c, s, is_number);
        } else if (is_other(c[i]) || (sp && is_other(c[s]))) {
            e = run(c, s, is_other);
        } else {
            e = white_space_match(c, i, false);
        }
        out.push_back(from_cps(c, i, e));
        i = e;
    }
    return out;
}

std::vector<std::string> split(const PreTokenizer& pt, std::string_view text) {
    std::vector<std::string_view> pieces;
    pt.split(text, &pieces);
    return {pieces.begin(), pieces.end()};
}

std::string random_text(std::mt19937& rng, size_t n_chars) {
    static const std::vector<uint32_t> alphabet = {
        'a',     'b',     'Z',    'e',    's', 'S', 't', 'l', 'L', 'd', 'r', 'v', 'm', '\'', '\'', ' ', ' ', ' ', ' ',
        '\t',    '\n',    '\r',   '0',    '7', '9', '.', ',', '!', '?', '(', ')', '_', '-',  '+',  '/', '#', '$',
        0x00A0,                            // NBSP (White_Space, Zs)
        0x3000,                            // ideographic space
        0x2028,                            // line separator
        0x180E,                            // Mongolian vowel separator: \s for PCRE2 UCP, not White_Space
        0x200B,                            // zero-width space (Cf)
        0x200D,                            // ZWJ
        0xFE0F,                            // variation selector (Mn)
        0x0085,                            // NEL
        0x017F,                            // long s
        0x00E9,  0x00FC,  0x0301,          // é ü, combining acute
        0x043F,  0x0440,  0x0418,          // Cyrillic
        0x0639,  0x0644,  0x0663,          // Arabic letters, Arabic-Indic digit 3
        0x0939,  0x093F,  0x094D,          // Devanagari letter, vowel sign (Mc), virama (Mn)
        0x0E01,  0x0E31,  0x0E48,          // Thai letter, marks
        0x4E16,  0x754C,  0x6211,          // CJK
        0x3042,  0x30AB,  0x30FC,          // kana, prolonged sound mark (Lm)
        0xAC00,  0xD55C,                   // Hangul
        0x00B2,  0x2163,  0x00BD,          // superscript two (No), Roman numeral four (Nl), one half
        0x1F600, 0x1F999, 0x2705,          // emoji
        0xFF01,  0x3002,  0x2018, 0x00B5,  // fullwidth !, ideographic full stop, quote, micro sign
    };
    std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
    std::string s;
    for (size_t i = 0; i < n_chars; ++i) append_utf8(alphabet[pick(rng)], &s);
    return s;
}

struct Reference {
    const char* name;
    std::vector<std::string> (*fn)(std::string_view);
};

std::vector<std::string> ref_qwen2(std::string_view t) { return reference_qwen_llama(t, 1); }
std::vector<std::string> ref_llama3(std::string_view t) { return reference_qwen_llama(t, 3); }

TEST(PreTokenizer, PcreSplitsEqualTheHandWrittenReference) {
    const Reference refs[] = {
        {"qwen2", ref_qwen2}, {"deepseek-r1-qwen", ref_qwen2}, {"llama-bpe", ref_llama3}, {"gpt-2", reference_gpt2}};
    for (const Reference& ref : refs) {
        Result<PreTokenizer> pt = PreTokenizer::create(ref.name);
        ASSERT_TRUE(pt.ok()) << pt.message();
        for (uint32_t seed = 1; seed <= 3000; ++seed) {
            std::mt19937 rng(seed);
            const std::string text = random_text(rng, 1 + seed % 40);
            ASSERT_EQ(split(*pt, text), ref.fn(text)) << ref.name << " seed " << seed;
        }
    }
}

TEST(PreTokenizer, KnownSplits) {
    Result<PreTokenizer> qwen = PreTokenizer::create("qwen2");
    ASSERT_TRUE(qwen.ok());
    using V = std::vector<std::string>;
    EXPECT_EQ(split(*qwen, "Hello world"), (V{"Hello", " world"}));
    EXPECT_EQ(split(*qwen, "I'M here, they'Re 12"), (V{"I", "'M", " here", ",", " they", "'Re", " ", "1", "2"}));
    EXPECT_EQ(split(*qwen, "a   b"), (V{"a", "  ", " b"}));
    EXPECT_EQ(split(*qwen, "a \n\n b"), (V{"a", " \n\n", " b"}));
    EXPECT_EQ(split(*qwen, "x  "), (V{"x", "  "}));
    // U+180E is no White_Space (PCRE2's own \s would take it): it is "other", so the space joins it.
    EXPECT_EQ(split(*qwen,
                    "a \xE1\xA0\x8E"
                    "b"),
              (V{"a", " \xE1\xA0\x8E", "b"}));
    // NBSP is White_Space: it does not lead a word the way ' ' does, but [^\r\n\p{L}\p{N}]? takes it.
    EXPECT_EQ(split(*qwen,
                    "a\xC2\xA0"
                    "b"),
              (V{"a",
                 "\xC2\xA0"
                 "b"}));

    Result<PreTokenizer> v3 = PreTokenizer::create("deepseek-v3");
    ASSERT_TRUE(v3.ok());
    // Digits in groups of three first, CJK and kana runs on their own, then the word regex.
    EXPECT_EQ(split(*v3, "12345 apples"), (V{"123", "45", " apples"}));
    EXPECT_EQ(split(*v3, "我想在apple工作"), (V{"我想在", "apple", "工作"}));
    EXPECT_EQ(split(*v3, "(normal)"), (V{"(normal", ")"}));

    Result<PreTokenizer> llm = PreTokenizer::create("deepseek-llm");
    ASSERT_TRUE(llm.ok());
    EXPECT_EQ(split(*llm, "Hello\nworld  "), (V{"Hello", "\n", "world", "  "}));

    EXPECT_FALSE(PreTokenizer::create("no-such-pre").ok());
}

TEST(PreTokenizer, LongWhiteSpaceRunsSplitWithoutRegexFailure) {
    Result<PreTokenizer> qwen = PreTokenizer::create("qwen2");
    ASSERT_TRUE(qwen.ok());
    const std::string text = "a" + std::string(200000, ' ') + "b" + std::string(100000, '\n');
    EXPECT_EQ(split(*qwen, text), ref_qwen2(text));
}

TEST(PreTokenizer, WhiteSpaceRewriteKeepsOtherEscapes) {
    EXPECT_EQ(expand_white_space_classes(R"(\p{L}\\s)"), R"(\p{L}\\s)");
    const std::string in_class = expand_white_space_classes(R"([^\s\p{L}])");
    EXPECT_EQ(in_class.find("[^\\t\\n"), 0u);
    const std::string neg = expand_white_space_classes(R"((?!\S))");
    EXPECT_EQ(neg.find("(?![^\\t\\n"), 0u);
}

}  // namespace
}  // namespace sinan::text
