// GET /v1/models and GET /v1/models/{id}: every model this server offers, OpenAI's list shape,
// plus in the `sinan` field whether each is loaded now and what its file holds (architecture,
// llama.cpp's name of its file type, parameters), or why its file cannot be read (`error`).
#include <algorithm>
#include <filesystem>

#include "api/openai_response.h"
#include "api/server_context.h"

namespace sinan::api {

namespace {

using json = nlohmann::ordered_json;

json model_object(const ModelFile& f, const std::vector<std::string>& resident) {
    std::error_code ec;
    const auto t = std::filesystem::last_write_time(f.path, ec);
    int64_t created = 0;
    if (!ec)
        created =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::file_clock::to_sys(t).time_since_epoch())
                .count();
    const bool loaded = std::find(resident.begin(), resident.end(), f.id) != resident.end();
    json own = {{"loaded", loaded}, {"file", std::filesystem::path(f.path).filename().string()}};
    if (!f.architecture.empty()) own["architecture"] = f.architecture;
    if (!f.file_type.empty()) own["file_type"] = f.file_type;
    if (f.n_params > 0) own["parameters"] = f.n_params;
    if (!f.error.empty()) own["error"] = f.error;
    return {{"id", f.id}, {"object", "model"}, {"created", created}, {"owned_by", "sinan"}, {"sinan", own}};
}

}  // namespace

void register_model_routes(Router& server, ServerContext& ctx) {
    server.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
        const std::vector<std::string> resident = ctx.registry->resident_ids();
        json data = json::array();
        for (const ModelFile& f : ctx.registry->files()) data.push_back(model_object(f, resident));
        send_json(res, {{"object", "list"}, {"data", std::move(data)}});
    });
    server.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        for (const ModelFile& f : ctx.registry->files())
            if (f.id == id) return send_json(res, model_object(f, ctx.registry->resident_ids()));
        ApiError e = bad_request("model \"" + id + "\" does not exist; available models: " +
                                     (ctx.registry->empty() ? std::string("none") : ctx.registry->ids_text()),
                                 "model", "model_not_found");
        e.status = 404;
        send_error(res, e);
    });
}

}  // namespace sinan::api
