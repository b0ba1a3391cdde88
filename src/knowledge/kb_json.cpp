#include "knowledge/kb_json.h"

namespace sinan::knowledge {

using ojson = nlohmann::ordered_json;

ojson kb_json(const store::KnowledgeBaseRow& kb) {
    return {{"name", kb.name},
            {"description", kb.description},
            {"created_at", kb.created_at},
            {"embedding_model", kb.embedding_model}};
}

ojson document_json(const store::DocumentRow& d) {
    ojson meta = ojson::parse(d.metadata_json, nullptr, false);
    if (meta.is_discarded()) meta = ojson::object();
    return {{"source", d.source},         {"status", store::to_string(d.status)},
            {"version", d.version},       {"chunks", d.n_chunks},
            {"size_bytes", d.size_bytes}, {"sha256", d.content_sha256},
            {"metadata", meta},           {"error", d.error},
            {"updated_at", d.updated_at}};
}

ojson job_json(const store::JobRow& j, const std::string& kb_name) {
    ojson files = ojson::array();
    for (const store::JobFile& f : j.files)
        files.push_back({{"source", f.source},
                         {"status", store::to_string(f.status)},
                         {"message", f.message},
                         {"size_bytes", f.size_bytes}});
    return {{"id", j.id},
            {"knowledge_base", kb_name},
            {"status", store::to_string(j.status)},
            {"done", j.n_done},
            {"total", j.n_total},
            {"error", j.error},
            {"created_at", j.created_at},
            {"updated_at", j.updated_at},
            {"files", files}};
}

ojson passage_json(const Passage& p) {
    ojson out = {{"source", p.source},
                 {"location", p.location},
                 {"text", p.text},
                 {"score", p.score},
                 {"lexical_rank", p.lexical_rank},
                 {"dense_rank", p.dense_rank}};
    if (p.reranked) out["rerank_score"] = p.rerank_score;
    out["chunk_id"] = p.chunk_id;
    out["document_id"] = p.document_id;
    return out;
}

}  // namespace sinan::knowledge
