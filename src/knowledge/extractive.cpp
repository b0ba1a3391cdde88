#include "knowledge/extractive.h"

#include <algorithm>

#include "knowledge/bm25_index.h"
#include "knowledge/sentences.h"

namespace sinan::knowledge {

namespace {
constexpr size_t kMinTerms = 2;
}  // namespace

ExtractiveAnswer extractive_answer(std::string_view question, const std::vector<Passage>& passages,
                                   Analyzer& analyzer, size_t max_sentences) {
    struct Sentence {
        std::string_view text;
        int passage;  // 1-based
    };
    std::vector<Sentence> sentences;
    Bm25Index index;
    for (size_t i = 0; i < passages.size(); ++i) {
        for (std::string_view s : split_sentences(passages[i].text)) {
            std::vector<std::string> terms = analyzer.analyze(s);
            if (terms.size() < kMinTerms) continue;  // headings and fragments answer nothing
            sentences.push_back({s, static_cast<int>(i + 1)});
            index.add_document(terms);
        }
    }
    ExtractiveAnswer out;
    const std::vector<std::string> query = analyzer.analyze(question);
    if (query.empty() || sentences.empty()) return out;
    for (const ScoredDoc& hit : index.search(query, max_sentences)) {
        if (hit.score <= 0) continue;
        const Sentence& s = sentences[hit.doc];
        if (!out.text.empty()) out.text += ' ';
        out.text += s.text;
        out.text += " [" + std::to_string(s.passage) + "]";
        if (std::find(out.cited.begin(), out.cited.end(), s.passage) == out.cited.end()) out.cited.push_back(s.passage);
    }
    return out;
}

}  // namespace sinan::knowledge
