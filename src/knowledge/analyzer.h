// Text analysis for lexical retrieval: text -> the terms that the BM25 index (bm25_index.h) stores
// and looks up. The same Analyzer must analyse documents and queries.
//
// Steps, in order:
//  1. Word segmentation with ICU's word break iterator (Unicode UAX #29 plus ICU's dictionaries),
//     so Chinese and Japanese text, written without spaces, is split into words. Punctuation and
//     spaces are dropped; only segments that ICU tags as words (letters, numbers, kana, ideographs)
//     are kept.
//  2. Unicode case folding (ICU full folding: "Straße" -> "strasse").
//  3. Stop words: the 33 English words of Lucene's default list (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET,
//     the usual BM25 baseline) are dropped, when `stop_words` is on.
//  4. English stemming with Snowball (Debian's libstemmer, algorithm "english" = Porter2) when
//     `stem` is on. Stemming applies to every term; terms in other scripts pass through unchanged
//     because the English stemmer only rewrites Latin suffixes.
//
// Input is UTF-8 of any length; invalid bytes become U+FFFD and never fail. Output terms are UTF-8.
// Thread-safety: an Analyzer holds ICU and Snowball state; use one per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sinan::knowledge {

struct AnalyzerOptions {
    bool stop_words = true;  // drop Lucene's 33 English stop words
    bool stem = true;        // Snowball English stemming
};

class Analyzer {
  public:
    explicit Analyzer(AnalyzerOptions options = {});
    ~Analyzer();
    Analyzer(const Analyzer&) = delete;
    Analyzer& operator=(const Analyzer&) = delete;

    // The terms of `text`, in order of appearance (repeats kept: the index counts them).
    std::vector<std::string> analyze(std::string_view text);

    // The word segments of `text` (step 1 only, original case), for tests and chunking.
    std::vector<std::string> segment(std::string_view text);

    // Snowball English stem of one lower-case word (step 4 only).
    std::string stem(std::string_view word);

    // True when `term` (already case-folded) is one of Lucene's 33 English stop words.
    static bool is_stop_word(std::string_view term);

  private:
    struct Impl;
    AnalyzerOptions options_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sinan::knowledge
