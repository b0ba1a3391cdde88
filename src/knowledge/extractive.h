// The answer `sinan kb ask` and the chat routes give when no generative model is configured: the
// sentences of the retrieved passages that best match the question, each followed by its
// citation ("... [2]"), best first. Sentences are ICU sentences (sentences.h) scored by BM25
// (bm25_index.h) against the question's terms, with the sentences of all passages as the
// collection; a sentence sharing no term with the question is never picked, nor one of fewer than
// two content terms (a heading such as "Leave" on its own line).
//
// Thread-safety: pure, except that the Analyzer must not be shared between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "knowledge/analyzer.h"
#include "knowledge/document.h"

namespace sinan::knowledge {

struct ExtractiveAnswer {
    std::string text;         // empty when no sentence matches the question
    std::vector<int> cited;   // 1-based passage numbers, in the order they appear in `text`
};

ExtractiveAnswer extractive_answer(std::string_view question, const std::vector<Passage>& passages,
                                   Analyzer& analyzer, size_t max_sentences = 3);

}  // namespace sinan::knowledge
