// POST /v1/embeddings (OpenAI's shape): one vector per input from an embedding model (bert, nomic-bert),
// L2-normalised as OpenAI's are, as float arrays or base64 of little-endian float32.
// The embedder runs on the request's HTTP thread (one forward pass at a time per model); texts
// get the model's special tokens, token arrays are taken as given; an input longer than the
// model's context is a 400 unless the request says "truncate": true (a sinan extension).
#include <bit>

#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;

// RFC 4648 base64 with padding (what OpenAI's encoding_format "base64" returns).
std::string base64(const uint8_t* data, size_t n) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t b = static_cast<uint32_t>(data[i]) << 16 |
                           (i + 1 < n ? static_cast<uint32_t>(data[i + 1]) << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
        out += kAlphabet[(b >> 18) & 63];
        out += kAlphabet[(b >> 12) & 63];
        out += i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=';
        out += i + 2 < n ? kAlphabet[b & 63] : '=';
    }
    return out;
}

json vector_json(const float* v, int64_t n, bool as_base64) {
    if (!as_base64) return float_array(v, n);
    static_assert(std::endian::native == std::endian::little, "base64 embeddings are little-endian float32");
    return base64(reinterpret_cast<const uint8_t*>(v), static_cast<size_t>(n) * sizeof(float));
}

void handle_embeddings(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    EmbeddingRequest er;
    if (auto e = parse_embedding_request(req.body, &er)) return send_error(res, *e);
    auto acquired = acquire_model(ctx, er.model, ModelKind::kEmbedding);
    if (auto* e = std::get_if<ApiError>(&acquired)) return send_error(res, *e);
    ModelLease lease = std::move(std::get<ModelLease>(acquired));
    engine::Embedder& embedder = *lease->embedder;

    std::vector<std::vector<int32_t>> sequences;
    sequences.reserve(er.inputs.size());
    for (const PromptInput& in : er.inputs) {
        if (const auto* text = std::get_if<std::string>(&in))
            sequences.push_back(embedder.tokenize(*text));
        else
            sequences.push_back(std::get<std::vector<int32_t>>(in));
    }
    engine::EmbedOptions options;
    options.truncate = er.truncate;
    Result<engine::Embeddings> e = embedder.embed_tokens(sequences, options);
    if (!e.ok()) return send_error(res, bad_request("model \"" + lease->id + "\": " + e.message(), "input"));

    json data = json::array();
    for (size_t i = 0; i < sequences.size(); ++i)
        data.push_back(
            {{"object", "embedding"},
             {"index", i},
             {"embedding", vector_json(e->values.data() + i * static_cast<size_t>(e->n_embd), e->n_embd, er.base64)}});
    const int64_t n_tokens = e->n_tokens_total();
    account_tokens(ctx, lease->id, {}, n_tokens);
    send_json(res, {{"object", "list"},
                    {"data", std::move(data)},
                    {"model", lease->id},
                    {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}});
}

}  // namespace

void register_embedding_routes(Router& server, ServerContext& ctx) {
    server.Post("/v1/embeddings",
                [&ctx](const httplib::Request& req, httplib::Response& res) { handle_embeddings(ctx, req, res); });
}

}  // namespace sinan::api
