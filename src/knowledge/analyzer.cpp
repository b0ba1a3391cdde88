#include "knowledge/analyzer.h"

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>

#include "base/check.h"

namespace sinan::knowledge {

namespace {

// Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, sorted for binary search.
constexpr std::array<std::string_view, 33> kStopWords = {
    "a",   "an",    "and",  "are",   "as",    "at",   "be",   "but", "by",  "for",  "if",
    "in",  "into",  "is",   "it",    "no",    "not",  "of",   "on",  "or",  "such", "that",
    "the", "their", "then", "there", "these", "they", "this", "to",  "was", "will", "with"};

// ICU indexes text with int32_t: longer input is analysed in slices of at most this many bytes,
// cut after a space or line break (else before a UTF-8 lead byte) so words stay whole.
constexpr size_t kMaxSliceBytes = size_t{1} << 26;

size_t slice_end(std::string_view text) {
    if (text.size() <= kMaxSliceBytes) return text.size();
    const size_t space = text.find_last_of(" \n", kMaxSliceBytes - 1);
    if (space != std::string_view::npos && space > 0) return space + 1;
    size_t end = kMaxSliceBytes;
    while (end > 1 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return end;
}

// The word pieces of `text` as ICU sees them: rule status UBRK_WORD_NONE (0..99) marks spaces and
// punctuation; words are numbers, letters, kana and ideographs (100 and up).
std::vector<icu::UnicodeString> split_words(icu::BreakIterator& it, std::string_view text) {
    std::vector<icu::UnicodeString> out;
    while (!text.empty()) {
        const size_t n = slice_end(text);
        const icu::UnicodeString u =
            icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(n)));
        text.remove_prefix(n);
        it.setText(u);
        int32_t start = it.first();
        for (int32_t end = it.next(); end != icu::BreakIterator::DONE; start = end, end = it.next()) {
            if (it.getRuleStatus() >= UBRK_WORD_NONE_LIMIT) out.emplace_back(u, start, end - start);
        }
    }
    return out;
}

}  // namespace

struct Analyzer::Impl {
    std::unique_ptr<icu::BreakIterator> words;
    sb_stemmer* stemmer = nullptr;
    ~Impl() {
        if (stemmer != nullptr) sb_stemmer_delete(stemmer);
    }
};

Analyzer::Analyzer(AnalyzerOptions options) : options_(options), impl_(std::make_unique<Impl>()) {
    UErrorCode err = U_ZERO_ERROR;
    // The root locale's word rules with ICU's CJ and Thai dictionaries; no language is assumed.
    impl_->words.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), err));
    SINAN_CHECK(U_SUCCESS(err) && impl_->words != nullptr, "ICU word break iterator unavailable (libicu data missing)");
    impl_->stemmer = sb_stemmer_new("english", "UTF_8");
    SINAN_CHECK(impl_->stemmer != nullptr, "libstemmer has no English UTF-8 stemmer");
}

Analyzer::~Analyzer() = default;

bool Analyzer::is_stop_word(std::string_view term) {
    return std::binary_search(kStopWords.begin(), kStopWords.end(), term);
}

std::vector<std::string> Analyzer::segment(std::string_view text) {
    std::vector<std::string> out;
    for (const icu::UnicodeString& piece : split_words(*impl_->words, text)) {
        std::string w;
        piece.toUTF8String(w);
        out.push_back(std::move(w));
    }
    return out;
}

std::string Analyzer::stem(std::string_view word) {
    const sb_symbol* s =
        sb_stemmer_stem(impl_->stemmer, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (s == nullptr) return std::string(word);  // out of memory inside libstemmer: keep the word
    return std::string(reinterpret_cast<const char*>(s), static_cast<size_t>(sb_stemmer_length(impl_->stemmer)));
}

std::vector<std::string> Analyzer::analyze(std::string_view text) {
    std::vector<std::string> out;
    std::string w;
    for (icu::UnicodeString& piece : split_words(*impl_->words, text)) {
        piece.foldCase();
        w.clear();
        piece.toUTF8String(w);
        if (options_.stop_words && is_stop_word(w)) continue;
        out.push_back(options_.stem ? stem(w) : w);
    }
    return out;
}

}  // namespace sinan::knowledge
