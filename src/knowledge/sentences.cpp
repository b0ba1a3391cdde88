#include "knowledge/sentences.h"

#include <unicode/utext.h>

#include <algorithm>

#include "base/check.h"

namespace sinan::knowledge {

namespace {

// ICU positions are int32_t: text is handed to a break iterator in slices of at most this many bytes.
constexpr size_t kMaxSliceBytes = size_t{1} << 26;

std::string_view trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<size_t> break_boundaries(icu::BreakIterator& it, std::string_view text) {
    std::vector<size_t> out{0};
    size_t base = 0;
    while (base < text.size()) {
        size_t n = std::min(kMaxSliceBytes, text.size() - base);
        while (base + n < text.size() && n > 1 && (static_cast<unsigned char>(text[base + n]) & 0xC0) == 0x80) --n;
        UErrorCode err = U_ZERO_ERROR;
        UText* ut = utext_openUTF8(nullptr, text.data() + base, static_cast<int64_t>(n), &err);
        SINAN_CHECK(U_SUCCESS(err), "utext_openUTF8 failed");
        it.setText(ut, err);
        SINAN_CHECK(U_SUCCESS(err), "BreakIterator::setText failed");
        for (int32_t p = it.next(); p != icu::BreakIterator::DONE; p = it.next()) {
            if (p > 0) out.push_back(base + static_cast<size_t>(p));
        }
        utext_close(ut);
        base += n;
    }
    if (out.back() != text.size()) out.push_back(text.size());
    return out;
}

std::unique_ptr<icu::BreakIterator> new_sentence_iterator() {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createSentenceInstance(icu::Locale::getRoot(), err));
    SINAN_CHECK(U_SUCCESS(err) && it != nullptr, "ICU sentence break iterator unavailable");
    return it;
}

std::unique_ptr<icu::BreakIterator> new_word_iterator() {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), err));
    SINAN_CHECK(U_SUCCESS(err) && it != nullptr, "ICU word break iterator unavailable");
    return it;
}

std::vector<std::string_view> split_sentences(std::string_view text) {
    std::vector<std::string_view> out;
    if (text.empty()) return out;
    const std::unique_ptr<icu::BreakIterator> it = new_sentence_iterator();
    const std::vector<size_t> b = break_boundaries(*it, text);
    for (size_t i = 0; i + 1 < b.size(); ++i) {
        const std::string_view s = trim(text.substr(b[i], b[i + 1] - b[i]));
        if (!s.empty()) out.push_back(s);
    }
    return out;
}

}  // namespace sinan::knowledge
