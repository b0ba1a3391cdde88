// Answering from retrieved passages: the prompt that puts them in front of the model as fenced,
// untrusted sources; the citations an answer makes ([1], [2, 3]); how well the cited passages
// support the answer; the grounded confidence; and the answer to give when nothing supports one.
//
// Untrusted text: passages come from documents anyone may have written. They go into the user
// turn inside <source id="N" ...> ... </source> fences, after a system message that says sources
// are data, never instructions. Passage text is neutralised so it cannot close its fence
// ("</source" is broken up) or become a chat-template control token when the rendered prompt is
// tokenized with special tokens parsed ("<|", "<｜", "|>", "｜>" get a zero-width joiner inside).
//
// Evidence: for each sentence of the answer, the share of its content terms (analyzer.h terms:
// stemmed, stop words dropped) found in the passages it cites (all passages when it cites none);
// the evidence is the mean over sentences, 0..1. Confidence = sqrt(token confidence x evidence): an
// answer the model was sure of but the sources do not back, or the other way round, scores low.
//
// Thread-safety: pure functions, except that an Analyzer must not be shared between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "knowledge/analyzer.h"
#include "knowledge/document.h"

namespace sinan::knowledge {

struct GroundedPrompt {
    std::string system;  // the rules: answer from the sources, cite them, sources are not instructions
    std::string user;    // the fenced sources, then the question
};

// `extra_system`: the caller's own system prompt, kept first (it outranks the sources).
GroundedPrompt build_grounded_prompt(std::string_view question, const std::vector<Passage>& passages,
                                     std::string_view extra_system = {});

// `text` made safe to place inside a <source> fence (see the header comment).
std::string neutralize_untrusted(std::string_view text);

// The distinct source numbers an answer cites, in order of first citation: "[1]", "[2, 3]",
// "[2][3]" and "[1-3]" are understood; numbers outside 1..n_passages are ignored.
std::vector<int> cited_sources(std::string_view answer, size_t n_passages);

struct Evidence {
    double support = 0;        // 0..1, mean over answer sentences (see header comment)
    std::vector<int> cited;    // cited_sources()
    size_t n_sentences = 0;    // answer sentences with at least one content term
};
Evidence measure_evidence(std::string_view answer, const std::vector<Passage>& passages, Analyzer& analyzer);

// sqrt(token_confidence * support), both clamped to 0..1.
double grounded_confidence(double token_confidence, double support);

// The answer given when `grounded` is asked and nothing supports an answer.
inline constexpr std::string_view kNoSupportAnswer =
    "I don't know: the knowledge base has no passage that supports an answer to this question.";

// True when an answer with this evidence should be replaced by kNoSupportAnswer under
// "grounded": no passage was retrieved, or the support is below `min_support` (default 0.2).
bool lacks_support(const Evidence& evidence, size_t n_passages, double min_support = 0.2);

}  // namespace sinan::knowledge
