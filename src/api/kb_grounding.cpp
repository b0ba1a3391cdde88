#include "api/kb_grounding.h"

#include <algorithm>

#include "knowledge/extractive.h"
#include "knowledge/grounding.h"

namespace sinan::api {

using ojson = nlohmann::ordered_json;

namespace {

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

ApiError knowledge_error(const Status& status, const std::string& param) {
    const std::string& m = status.message();
    ApiError e;
    e.message = m;
    e.param = param;
    if (starts_with(m, "no knowledge base") || starts_with(m, "no job") || m.find(" has no document ") != std::string::npos) {
        e.status = 404;
        e.code = "not_found";
    } else if (m.find("already exists") != std::string::npos) {
        e.status = 409;
        e.code = "already_exists";
    } else if (starts_with(m, "knowledge base name") || starts_with(m, "metadata ") || starts_with(m, "nothing to add") ||
               m.find("empty source name") != std::string::npos || m.find("--embedding-model") != std::string::npos) {
        e.status = 400;
    } else {
        e.status = 500;
        e.type = "server_error";
    }
    return e;
}

std::optional<ApiError> parse_kb_fields(const ojson& body, KbFields* out) {
    auto kb = body.find("knowledge_base");
    if (kb == body.end() || kb->is_null()) return std::nullopt;
    if (!kb->is_string() || kb->get_ref<const std::string&>().empty())
        return bad_request("knowledge_base must be the name of a knowledge base (a non-empty string)", "knowledge_base");
    out->knowledge_base = kb->get<std::string>();
    if (auto g = body.find("grounded"); g != body.end() && !g->is_null()) {
        if (!g->is_boolean()) return bad_request("grounded must be true or false", "grounded");
        out->grounded = g->get<bool>();
    }
    if (auto k = body.find("top_k"); k != body.end() && !k->is_null()) {
        if (!k->is_number_integer() || k->get<int64_t>() < 1 || k->get<int64_t>() > 50)
            return bad_request("top_k must be an integer from 1 to 50 (passages put in front of the model)", "top_k");
        out->top_k = static_cast<int>(k->get<int64_t>());
    }
    return parse_metadata_filter(body, &out->filter);
}

std::optional<ApiError> parse_metadata_filter(const ojson& body, knowledge::MetadataFilter* out) {
    auto f = body.find("filter");
    if (f == body.end() || f->is_null()) return std::nullopt;
    if (!f->is_object())
        return bad_request("filter must be an object of metadata key to string value, e.g. {\"lang\": \"en\"}",
                           "filter");
    for (const auto& [key, value] : f->items()) {
        if (!value.is_string()) return bad_request("filter." + key + " must be a string", "filter");
        out->equals.emplace_back(key, value.get<std::string>());
    }
    return std::nullopt;
}

std::variant<Grounding, ApiError> ground_messages(knowledge::KnowledgeBaseService* service, const KbFields& fields,
                                                  ojson* messages) {
    if (service == nullptr)
        return bad_request("knowledge bases need a data directory: start sinan serve with --data-dir", "knowledge_base");
    Grounding g;
    g.fields = fields;
    // The question is the last user message; earlier turns stay as history.
    size_t last_user = messages->size();
    for (size_t i = messages->size(); i-- > 0;)
        if ((*messages)[i].value("role", "") == "user") {
            last_user = i;
            break;
        }
    if (last_user == messages->size())
        return bad_request("a knowledge-base request needs a user message to answer", "messages");
    g.query = (*messages)[last_user].value("content", "");

    Result<std::vector<knowledge::Passage>> found =
        service->search(fields.knowledge_base, g.query, static_cast<size_t>(fields.top_k), fields.filter);
    if (!found.ok()) return knowledge_error(found.status(), "knowledge_base");
    g.passages = std::move(*found);

    std::string caller_system;
    ojson rewritten = ojson::array();
    for (size_t i = 0; i < messages->size(); ++i) {
        const ojson& m = (*messages)[i];
        if (m.value("role", "") == "system") {
            if (!caller_system.empty()) caller_system += "\n\n";
            caller_system += m.value("content", "");
        }
    }
    const knowledge::GroundedPrompt p = knowledge::build_grounded_prompt(g.query, g.passages, caller_system);
    rewritten.push_back({{"role", "system"}, {"content", p.system}});
    for (size_t i = 0; i < messages->size(); ++i) {
        const ojson& m = (*messages)[i];
        if (m.value("role", "") == "system") continue;
        if (i == last_user) {
            rewritten.push_back({{"role", "user"}, {"content", p.user}});
        } else {
            rewritten.push_back(m);
        }
    }
    *messages = std::move(rewritten);
    return g;
}

namespace {

knowledge::Analyzer& thread_analyzer() {
    thread_local knowledge::Analyzer analyzer;
    return analyzer;
}

ojson citations_json(const Grounding& g, const std::vector<int>& cited_ids) {
    ojson out = ojson::array();
    for (size_t i = 0; i < g.passages.size(); ++i) {
        const knowledge::Passage& p = g.passages[i];
        const int id = static_cast<int>(i + 1);
        const bool cited = std::find(cited_ids.begin(), cited_ids.end(), id) != cited_ids.end();
        out.push_back({{"id", id},
                       {"document", p.source},
                       {"location", p.location},
                       {"text", p.text},
                       {"score", p.score},
                       {"cited", cited}});
    }
    return out;
}

}  // namespace

GroundedAnswer assess_answer(const Grounding& g, const std::string& answer, double token_confidence) {
    GroundedAnswer a;
    const knowledge::Evidence ev = knowledge::measure_evidence(answer, g.passages, thread_analyzer());
    a.support = ev.support;
    a.supported = !knowledge::lacks_support(ev, g.passages.size());
    a.confidence = knowledge::grounded_confidence(token_confidence, ev.support);
    a.answer = answer;
    if (g.fields.grounded && !a.supported) {
        a.answer = std::string(knowledge::kNoSupportAnswer);
        a.confidence = 0;
    }
    a.citations = citations_json(g, ev.cited);
    return a;
}

GroundedAnswer extractive_answer(const Grounding& g) {
    GroundedAnswer a;
    knowledge::Analyzer& analyzer = thread_analyzer();
    const knowledge::ExtractiveAnswer x = knowledge::extractive_answer(g.query, g.passages, analyzer);
    a.citations = citations_json(g, x.cited);
    if (x.text.empty()) {
        a.answer = std::string(knowledge::kNoSupportAnswer);
        return a;
    }
    a.answer = x.text;
    // How much of the question the chosen sentences cover.
    knowledge::Passage chosen;
    chosen.text = x.text;
    a.support = knowledge::measure_evidence(g.query, {chosen}, analyzer).support;
    a.supported = true;
    a.confidence = a.support;
    return a;
}

ojson grounding_json(const Grounding& g, const GroundedAnswer& a, const char* mode) {
    return {{"knowledge_base", g.fields.knowledge_base},
            {"passages", g.passages.size()},
            {"support", a.support},
            {"supported", a.supported},
            {"grounded", g.fields.grounded},
            {"mode", mode}};
}

}  // namespace sinan::api
