// POST /v1/rerank (aliases /rerank and /v1/reranking, as llama.cpp's server has them): a query and
// documents scored by a cross-encoder reranker (engine::Reranker), in the shape Jina's and Cohere's
// rerank APIs and llama.cpp's server answer with:
//   request  {"model"?, "query": str, "documents": [str | {"text": str}], "top_n"?: int,
//             "return_documents"?: bool, "truncate"?: bool (a sinan extension, as on /v1/embeddings)}
//   response {"object": "list", "model", "results": [{"index", "relevance_score", "document"?: {"text"}}],
//             "usage": {"prompt_tokens", "total_tokens"}}
// Results are sorted by relevance_score, highest first (ties keep document order), cut to top_n;
// relevance_score is the model's raw logit, as llama.cpp returns it. "model" left out uses the
// --reranker-model, else the server's default. The reranker runs on the request's HTTP thread
// (one forward pass at a time per model). Errors: 400 naming the field (query missing or not a
// string, documents missing, empty or of the wrong type, top_n not a positive integer, a model that
// is not a reranker, a pair longer than the context without truncate); 413 over --max-body.
#include <algorithm>
#include <numeric>

#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;

struct RerankRequest {
    std::string model;
    std::string query;
    std::vector<std::string> documents;
    size_t top_n = 0;  // 0: every document
    bool return_documents = false;
    bool truncate = false;
};

std::optional<ApiError> read_flag(const json& body, const char* key, bool* out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) return bad_request(std::string(key) + " must be true or false", key);
    *out = it->get<bool>();
    return std::nullopt;
}

std::optional<ApiError> parse_rerank_request(std::string_view body, RerankRequest* out) {
    json j;
    if (auto e = parse_json_object(body, &j)) return e;
    if (auto it = j.find("model"); it != j.end() && !it->is_null()) {
        if (!it->is_string()) return bad_request("model must be a string", "model");
        out->model = it->get<std::string>();
    }
    auto q = j.find("query");
    if (q == j.end() || q->is_null())
        return bad_request("query is missing: give the text to rank documents for", "query");
    if (!q->is_string()) return bad_request("query must be a string", "query");
    out->query = q->get<std::string>();
    if (out->query.empty()) return bad_request("query is empty", "query");
    auto docs = j.find("documents");
    if (docs == j.end() || docs->is_null())
        return bad_request("documents is missing: give an array of strings or {\"text\": ...} objects", "documents");
    if (!docs->is_array())
        return bad_request("documents must be an array of strings or {\"text\": ...} objects", "documents");
    if (docs->empty()) return bad_request("documents is empty: give at least one document", "documents");
    if (docs->size() > kMaxEmbeddingInputs)
        return bad_request("documents takes at most " + std::to_string(kMaxEmbeddingInputs) + " items, got " +
                               std::to_string(docs->size()) + "; split the request",
                           "documents");
    for (size_t i = 0; i < docs->size(); ++i) {
        const json& d = (*docs)[i];
        const json* text = &d;
        if (d.is_object()) {
            auto t = d.find("text");
            if (t == d.end()) return bad_request("document " + std::to_string(i) + " has no \"text\"", "documents");
            text = &*t;
        }
        if (!text->is_string())
            return bad_request("document " + std::to_string(i) + " must be a string or {\"text\": string}",
                               "documents");
        out->documents.push_back(text->get<std::string>());
    }
    if (auto it = j.find("top_n"); it != j.end() && !it->is_null()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 1)
            return bad_request("top_n must be a positive integer (the number of results to return)", "top_n");
        out->top_n = static_cast<size_t>(it->get<int64_t>());
    }
    if (auto e = read_flag(j, "return_documents", &out->return_documents)) return e;
    if (auto e = read_flag(j, "truncate", &out->truncate)) return e;
    return std::nullopt;
}

void handle_rerank(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    RerankRequest rr;
    if (auto e = parse_rerank_request(req.body, &rr)) return send_error(res, *e);
    auto acquired = acquire_model(ctx, rr.model, ModelKind::kReranker);
    if (auto* e = std::get_if<ApiError>(&acquired)) return send_error(res, *e);
    ModelLease lease = std::move(std::get<ModelLease>(acquired));

    engine::RerankOptions options;
    options.truncate = rr.truncate;
    Result<engine::RerankScores> r = lease->reranker->rerank(rr.query, rr.documents, options);
    if (!r.ok()) return send_error(res, bad_request("model \"" + lease->id + "\": " + r.message(), "documents"));

    std::vector<size_t> order(rr.documents.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r->scores[a] > r->scores[b]; });
    if (rr.top_n > 0 && rr.top_n < order.size()) order.resize(rr.top_n);
    json results = json::array();
    for (size_t i : order) {
        // float_array: the score prints in float's shortest form.
        json item = {{"index", i}, {"relevance_score", float_array(&r->scores[i], 1).front()}};
        if (rr.return_documents) item["document"] = {{"text", rr.documents[i]}};
        results.push_back(std::move(item));
    }
    const int64_t n_tokens = r->n_tokens_total();
    account_tokens(ctx, lease->id, {}, n_tokens);
    send_json(res, {{"object", "list"},
                    {"model", lease->id},
                    {"results", std::move(results)},
                    {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}});
}

}  // namespace

void register_rerank_routes(Router& server, ServerContext& ctx) {
    for (const char* path : {"/v1/rerank", "/rerank", "/v1/reranking"})
        server.Post(path,
                    [&ctx](const httplib::Request& req, httplib::Response& res) { handle_rerank(ctx, req, res); });
}

}  // namespace sinan::api
