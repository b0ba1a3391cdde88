// Sentence and word boundaries of UTF-8 text with ICU's break iterators (Unicode UAX #29 plus
// ICU's dictionaries, so Chinese and Japanese full stops and unspaced words are handled). Used by
// the chunker (chunker.h) and by answering (grounding.h, extractive.h).
//
// Thread-safety: a BreakIterator is stateful; use one per thread (split_sentences makes its own).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <unicode/brkiter.h>

namespace sinan::knowledge {

// The boundaries of `text` under `it` as UTF-8 byte offsets, 0 and text.size() included. Text of
// any length (ICU takes int32_t offsets: longer text is handed over in slices cut before a
// UTF-8 lead byte). Invalid UTF-8 never fails.
std::vector<size_t> break_boundaries(icu::BreakIterator& it, std::string_view text);

// New root-locale iterators; SINAN_CHECK that ICU has its data (a broken install, not user input).
std::unique_ptr<icu::BreakIterator> new_sentence_iterator();
std::unique_ptr<icu::BreakIterator> new_word_iterator();

// The sentences of `text` in order, views into `text`, each with its trailing spaces trimmed;
// blank sentences are dropped.
std::vector<std::string_view> split_sentences(std::string_view text);

}  // namespace sinan::knowledge
