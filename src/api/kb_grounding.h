// Knowledge-base answering on the chat routes. A request that names a knowledge base
// ("knowledge_base": "NAME" on POST /api/v1/chat, the same extension field on
// POST /v1/chat/completions) is answered from its documents:
//   1. parse_kb_fields: knowledge_base, grounded (default false), top_k (default 5, 1..50) and
//      filter ({"key": "value", ...}, AND-ed equality on document metadata).
//   2. ground_messages: the last user message is the query; the knowledge base's top_k passages
//      are fenced into that user turn and the answering rules go into the system message, after
//      the caller's own system message (knowledge/grounding.h: sources are untrusted data).
//   3. assess_answer: after generation, the citations the answer makes, how well the cited
//      passages support it, and the grounded confidence (sqrt(token confidence x support)); under
//      "grounded": true an answer without support is replaced by "I don't know ...". With no
//      passage at all and "grounded": true the model is not run.
// Errors are 400/404 ApiErrors naming the field or the knowledge base; a server without a
// knowledge service (no data directory) answers 400 "knowledge bases need --data-dir".
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/api_error.h"
#include "api/generation.h"
#include "knowledge/document.h"
#include "knowledge/knowledge_base.h"

namespace sinan::api {

struct KbFields {
    std::string knowledge_base;  // "" = not a knowledge-base request
    bool grounded = false;
    int top_k = 5;
    knowledge::MetadataFilter filter;
};

// Reads the fields above from a request body (absent: knowledge_base stays "").
std::optional<ApiError> parse_kb_fields(const nlohmann::ordered_json& body, KbFields* out);
// The body's "filter" ({"key": "value", ...}, strings only; absent or null: no filter), shared by
// the chat routes and POST /api/v1/kb/{kb}/search.
std::optional<ApiError> parse_metadata_filter(const nlohmann::ordered_json& body, knowledge::MetadataFilter* out);

struct Grounding {
    KbFields fields;
    std::string query;
    std::vector<knowledge::Passage> passages;
};

// Retrieves for the last user message of `messages` and rewrites them in place (see top).
std::variant<Grounding, ApiError> ground_messages(knowledge::KnowledgeBaseService* service, const KbFields& fields,
                                                  nlohmann::ordered_json* messages);

struct GroundedAnswer {
    std::string answer;      // the model's answer, or the "I don't know" text under grounded
    double confidence = 0;   // grounded confidence
    double support = 0;      // 0..1
    bool supported = false;  // support passed the threshold
    nlohmann::ordered_json citations;  // [{id, document, location, text, score, cited}]
};
GroundedAnswer assess_answer(const Grounding& g, const std::string& answer, double token_confidence);

// The answer when the server has no generative model: the passages' sentences that best match the
// query, cited (knowledge/extractive.h), or the "I don't know" text when none matches. Confidence
// is the share of the query's content terms the chosen sentences contain.
GroundedAnswer extractive_answer(const Grounding& g);

// {"knowledge_base", "passages", "support", "supported", "grounded", "mode"} for a response;
// mode is "generative" or "extractive".
nlohmann::ordered_json grounding_json(const Grounding& g, const GroundedAnswer& a, const char* mode = "generative");

// A knowledge service failure as an API error: 404 for a missing knowledge base, document or job,
// 409 for a name already taken, 400 for a bad name or metadata or a search mode the server's
// embedding model cannot serve, 500 for anything else (the store).
ApiError knowledge_error(const Status& status, const std::string& param = "");

// True when the model need not run: "grounded" and nothing was retrieved.
inline bool nothing_to_ground(const Grounding& g) { return g.fields.grounded && g.passages.empty(); }

// True when a streamed answer is held back until it is assessed: under "grounded": true the
// answer goes out whole once its support is known (the model's answer, or the "I don't know"
// text instead), so a client never shows an unsupported answer. Reasoning still streams.
inline bool withholds_answer(const std::optional<Grounding>& g) { return g && g->fields.grounded; }

}  // namespace sinan::api
