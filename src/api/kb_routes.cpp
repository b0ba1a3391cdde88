// The knowledge-base REST routes (knowledge/knowledge_base.h behind HTTP), JSON shapes from
// knowledge/kb_json.h:
//   GET    /api/v1/kb                         knowledge bases
//   POST   /api/v1/kb                         {"name", "description"} -> 201 the knowledge base (409 taken)
//   GET    /api/v1/kb/{kb}                    the knowledge base with its documents
//   DELETE /api/v1/kb/{kb}                    with its documents and jobs
//   GET    /api/v1/kb/{kb}/documents          its documents
//   POST   /api/v1/kb/{kb}/documents          multipart/form-data files (streamed to disk; a part
//                                             "metadata" holds a JSON object) -> 202 the ingestion job;
//                                             or JSON {"source", "text", "metadata"} -> added now
//   DELETE /api/v1/kb/{kb}/documents/{source} one document (the source may contain '/')
//   GET    /api/v1/kb/{kb}/jobs, GET /api/v1/jobs, GET /api/v1/jobs/{id}
//                                             ingestion jobs (of one knowledge base, of all, one) with
//                                             per-file results
//   POST   /api/v1/kb/{kb}/search             {"query", "k", "filter", "mode", "rerank"} -> passages (mode:
//                                             auto, lexical, dense, hybrid; auto = hybrid with an embedding
//                                             model; rerank, default true: ordered by the server's
//                                             --reranker-model when it has one)
// Without a knowledge service (no --data-dir) every route answers 400 saying so.
#include <string>
#include <unordered_map>

#include "api/kb_grounding.h"
#include "api/openai_request.h"
#include "api/server_context.h"
#include "knowledge/kb_json.h"

namespace sinan::api {

namespace {

using ojson = nlohmann::ordered_json;
using knowledge::KnowledgeBaseService;

KnowledgeBaseService* service_or_error(ServerContext& ctx, httplib::Response& res) {
    if (ctx.knowledge == nullptr)
        send_error(res, bad_request("knowledge bases need a data directory: start sinan serve with --data-dir"));
    return ctx.knowledge;
}

ojson list_of(ojson items) { return {{"object", "list"}, {"data", std::move(items)}}; }

// Knowledge base names by id, read once per request.
std::unordered_map<int64_t, std::string> kb_names(KnowledgeBaseService& s) {
    std::unordered_map<int64_t, std::string> names;
    if (Result<std::vector<store::KnowledgeBaseRow>> kbs = s.list(); kbs.ok())
        for (const auto& kb : *kbs) names[kb.id] = kb.name;
    return names;
}

// A metadata value from the request: a JSON object of strings, as text for the service ("" = none).
std::optional<ApiError> metadata_text(const ojson& value, std::string* out) {
    if (value.is_null()) return std::nullopt;
    if (!value.is_object()) return bad_request("metadata must be an object of string values", "metadata");
    for (const auto& [key, v] : value.items())
        if (!v.is_string()) return bad_request("metadata." + key + " must be a string", "metadata");
    *out = value.dump();
    return std::nullopt;
}

void list_kbs(ServerContext& ctx, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    Result<std::vector<store::KnowledgeBaseRow>> kbs = s->list();
    if (!kbs.ok()) return send_error(res, knowledge_error(kbs.status()));
    ojson data = ojson::array();
    for (const auto& kb : *kbs) data.push_back(knowledge::kb_json(kb));
    send_json(res, list_of(std::move(data)));
}

void create_kb(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    ojson body;
    if (auto e = parse_json_object(req.body, &body)) return send_error(res, *e);
    const auto name = body.find("name");
    if (name == body.end() || !name->is_string())
        return send_error(res, bad_request("name is missing: give the knowledge base a name (a string)", "name"));
    std::string description;
    if (auto d = body.find("description"); d != body.end() && !d->is_null()) {
        if (!d->is_string()) return send_error(res, bad_request("description must be a string", "description"));
        description = d->get<std::string>();
    }
    Result<store::KnowledgeBaseRow> kb = s->create(name->get<std::string>(), description);
    if (!kb.ok()) return send_error(res, knowledge_error(kb.status(), "name"));
    send_json(res, knowledge::kb_json(*kb), 201);
}

void get_kb(ServerContext& ctx, const std::string& name, bool with_kb, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    Result<store::KnowledgeBaseRow> kb = s->get(name);
    if (!kb.ok()) return send_error(res, knowledge_error(kb.status()));
    Result<std::vector<store::DocumentRow>> docs = s->documents(name);
    if (!docs.ok()) return send_error(res, knowledge_error(docs.status()));
    ojson data = ojson::array();
    for (const auto& d : *docs) data.push_back(knowledge::document_json(d));
    if (!with_kb) return send_json(res, list_of(std::move(data)));
    ojson out = knowledge::kb_json(*kb);
    out["documents"] = std::move(data);
    send_json(res, out);
}

void delete_kb(ServerContext& ctx, const std::string& name, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    if (Result<store::KnowledgeBaseRow> kb = s->get(name); !kb.ok()) return send_error(res, knowledge_error(kb.status()));
    if (Status st = s->remove(name); !st.is_ok()) return send_error(res, knowledge_error(st));
    send_json(res, {{"name", name}, {"deleted", true}});
}

// JSON {"source", "text", "metadata"}: one document added synchronously.
void add_inline(KnowledgeBaseService& s, const std::string& kb, const std::string& text, httplib::Response& res) {
    ojson body;
    if (auto e = parse_json_object(text, &body)) return send_error(res, *e);
    const auto source = body.find("source");
    const auto content = body.find("text");
    if (source == body.end() || !source->is_string() || source->get_ref<const std::string&>().empty())
        return send_error(res, bad_request("source is missing: name the document (a string)", "source"));
    if (content == body.end() || !content->is_string())
        return send_error(res, bad_request("text is missing: give the document's content as a string, or upload "
                                           "files as multipart/form-data",
                                           "text"));
    std::string meta;
    if (auto m = body.find("metadata"); m != body.end())
        if (auto e = metadata_text(*m, &meta)) return send_error(res, *e);
    Result<knowledge::AddResult> added = s.add_document(kb, source->get<std::string>(), content->get<std::string>(), meta);
    if (!added.ok()) return send_error(res, knowledge_error(added.status()));
    if (added->status == store::FileStatus::kFailed) {
        ApiError e;
        e.status = 422;
        e.message = added->message;
        e.param = "text";
        e.code = "unreadable_document";
        return send_error(res, e);
    }
    send_json(res,
              {{"source", source->get<std::string>()},
               {"status", store::to_string(added->status)},
               {"version", added->version},
               {"chunks", added->n_chunks}},
              added->status == store::FileStatus::kAdded ? 201 : 200);
}

// multipart/form-data: every part with a file name is a document, streamed into the job's upload
// directory as it arrives; a part named "metadata" is the job's metadata.
void add_upload(KnowledgeBaseService& s, const std::string& kb, const httplib::ContentReader& reader,
                httplib::Response& res) {
    Result<knowledge::Upload> upload = s.begin_upload(kb);
    if (!upload.ok()) {
        res.set_header("Connection", "close");  // the body is not read
        return send_error(res, knowledge_error(upload.status()));
    }
    Status failed;
    bool in_file = false;
    std::string part_name, metadata;
    auto finish_part = [&] {
        if (in_file && failed.is_ok()) failed = upload->end_file();
        in_file = false;
    };
    const bool read = reader(
        [&](const httplib::MultipartFormData& part) {
            finish_part();
            if (!failed.is_ok()) return false;
            part_name = part.name;
            if (!part.filename.empty()) {
                failed = upload->begin_file(part.filename);
                in_file = failed.is_ok();
            }
            return failed.is_ok();
        },
        [&](const char* data, size_t n) {
            if (in_file) {
                failed = upload->write(std::string_view(data, n));
                return failed.is_ok();
            }
            if (part_name == "metadata") {
                if (metadata.size() + n > (size_t{1} << 20)) {
                    failed = Status::error("the metadata part is larger than 1 MiB");
                    return false;
                }
                metadata.append(data, n);
            }
            return true;
        });
    finish_part();
    if (!read) res.set_header("Connection", "close");  // the rest of the body is not read
    if (!failed.is_ok()) return send_error(res, knowledge_error(failed));
    if (!read) return send_error(res, bad_request("the upload ended early or is not valid multipart/form-data"));
    if (upload->n_files() == 0)
        return send_error(res, bad_request("no files in the upload: send each file as a multipart part with a "
                                           "filename (curl -F file=@guide.pdf)",
                                           "file"));
    std::string meta;
    if (!metadata.empty()) {
        ojson m = ojson::parse(metadata, nullptr, false);
        if (m.is_discarded()) return send_error(res, bad_request("metadata must be a JSON object", "metadata"));
        if (auto e = metadata_text(m, &meta)) return send_error(res, *e);
    }
    Result<store::JobRow> job = s.submit(std::move(*upload), meta);
    if (!job.ok()) return send_error(res, knowledge_error(job.status()));
    send_json(res, knowledge::job_json(*job, kb), 202);
}

void add_documents(ServerContext& ctx, const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return res.set_header("Connection", "close");  // the body is not read
    const std::string kb = req.matches[1];
    if (req.is_multipart_form_data() && declared_length(req) > ctx.max_upload_bytes) {
        if (!read_body(req, reader, ctx.max_upload_bytes, nullptr).drained) res.set_header("Connection", "close");
        return send_error(res,
                          body_too_large(ctx.max_upload_bytes, "--max-upload", "upload the files in several requests"));
    }
    if (req.is_multipart_form_data() && !has_body(req))
        return send_error(res, bad_request("the upload has no body: send the files as multipart/form-data parts with a "
                                           "Content-Length or chunked (curl -F file=@guide.pdf)"));
    if (req.is_multipart_form_data()) return add_upload(*s, kb, reader, res);
    std::string body;
    const BodyRead read = read_body(req, reader, ctx.max_body_bytes, &body);
    if (!read.drained) res.set_header("Connection", "close");
    if (read.status == BodyRead::kTooLarge)
        return send_error(
            res, body_too_large(ctx.max_body_bytes, "--max-body", "upload large files as multipart/form-data"));
    if (read.status == BodyRead::kBroken) return send_error(res, body_unreadable(res));
    add_inline(*s, kb, body, res);
}

void delete_document(ServerContext& ctx, const std::string& kb, const std::string& source, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    if (Status st = s->remove_document(kb, source); !st.is_ok()) return send_error(res, knowledge_error(st));
    send_json(res, {{"source", source}, {"deleted", true}});
}

// kb "" = the jobs of every knowledge base.
void list_jobs(ServerContext& ctx, const std::string& kb, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    if (!kb.empty())
        if (Result<store::KnowledgeBaseRow> row = s->get(kb); !row.ok())
            return send_error(res, knowledge_error(row.status()));
    Result<std::vector<store::JobRow>> jobs = s->jobs(kb);
    if (!jobs.ok()) return send_error(res, knowledge_error(jobs.status()));
    std::unordered_map<int64_t, std::string> names;
    if (kb.empty()) names = kb_names(*s);
    ojson data = ojson::array();
    for (const auto& j : *jobs) data.push_back(knowledge::job_json(j, kb.empty() ? names[j.kb_id] : kb));
    send_json(res, list_of(std::move(data)));
}

void get_job(ServerContext& ctx, const std::string& id_text, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    int64_t id = 0;
    try {
        id = std::stoll(id_text);
    } catch (...) {
        return send_error(res, bad_request("job id must be a number", "id"));
    }
    Result<store::JobRow> job = s->job(id);
    if (!job.ok()) return send_error(res, knowledge_error(job.status()));
    send_json(res, knowledge::job_json(*job, kb_names(*s)[job->kb_id]));
}

void search(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
    KnowledgeBaseService* s = service_or_error(ctx, res);
    if (!s) return;
    ojson body;
    if (auto e = parse_json_object(req.body, &body)) return send_error(res, *e);
    const auto query = body.find("query");
    if (query == body.end() || !query->is_string())
        return send_error(res, bad_request("query is missing: give the search text as a string", "query"));
    size_t k = 10;
    if (auto kv = body.find("k"); kv != body.end() && !kv->is_null()) {
        if (!kv->is_number_integer() || kv->get<int64_t>() < 1 || kv->get<int64_t>() > 100)
            return send_error(res, bad_request("k must be an integer from 1 to 100", "k"));
        k = static_cast<size_t>(kv->get<int64_t>());
    }
    knowledge::MetadataFilter filter;
    if (auto e = parse_metadata_filter(body, &filter)) return send_error(res, *e);
    knowledge::RetrievalMode mode = knowledge::RetrievalMode::kAuto;
    if (auto m = body.find("mode"); m != body.end() && !m->is_null()) {
        Result<knowledge::RetrievalMode> parsed =
            m->is_string() ? knowledge::parse_retrieval_mode(m->get<std::string>())
                           : Result<knowledge::RetrievalMode>(Status::error("mode must be a string"));
        if (!parsed.ok()) return send_error(res, bad_request(parsed.message(), "mode"));
        mode = *parsed;
    }
    bool rerank = true;
    if (auto r = body.find("rerank"); r != body.end() && !r->is_null()) {
        if (!r->is_boolean()) return send_error(res, bad_request("rerank must be true or false", "rerank"));
        rerank = r->get<bool>();
    }
    Result<std::vector<knowledge::Passage>> hits = s->search(req.matches[1], query->get<std::string>(), k,
                                                            filter, mode, rerank);
    if (!hits.ok()) return send_error(res, knowledge_error(hits.status()));
    ojson data = ojson::array();
    for (const auto& p : *hits) data.push_back(knowledge::passage_json(p));
    send_json(res, list_of(std::move(data)));
}

}  // namespace

void register_kb_routes(Router& server, ServerContext& ctx) {
    using Req = const httplib::Request&;
    using Res = httplib::Response&;
    server.Get("/api/v1/kb", [&ctx](Req, Res res) { list_kbs(ctx, res); });
    server.Post("/api/v1/kb", [&ctx](Req req, Res res) { create_kb(ctx, req, res); });
    server.Get(R"(/api/v1/kb/([^/]+))", [&ctx](Req req, Res res) { get_kb(ctx, req.matches[1], true, res); });
    server.Delete(R"(/api/v1/kb/([^/]+))", [&ctx](Req req, Res res) { delete_kb(ctx, req.matches[1], res); });
    server.Get(R"(/api/v1/kb/([^/]+)/documents)",
               [&ctx](Req req, Res res) { get_kb(ctx, req.matches[1], false, res); });
    server.Post(R"(/api/v1/kb/([^/]+)/documents)",
                [&ctx](Req req, Res res, const httplib::ContentReader& reader) { add_documents(ctx, req, res, reader); });
    server.Delete(R"(/api/v1/kb/([^/]+)/documents/(.+))",
                  [&ctx](Req req, Res res) { delete_document(ctx, req.matches[1], req.matches[2], res); });
    server.Get(R"(/api/v1/kb/([^/]+)/jobs)", [&ctx](Req req, Res res) { list_jobs(ctx, req.matches[1], res); });
    server.Get("/api/v1/jobs", [&ctx](Req, Res res) { list_jobs(ctx, "", res); });
    server.Get(R"(/api/v1/jobs/([^/]+))", [&ctx](Req req, Res res) { get_job(ctx, req.matches[1], res); });
    server.Post(R"(/api/v1/kb/([^/]+)/search)", [&ctx](Req req, Res res) { search(ctx, req, res); });
}

}  // namespace sinan::api
