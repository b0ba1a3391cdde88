// The JSON shapes of knowledge bases, documents, ingestion jobs and passages, one definition for
// `sinan kb ... --json` and the REST routes (/api/v1/kb...), so both print the same objects:
//   knowledge base: {"name", "description", "created_at", "embedding_model"}
//   document:       {"source", "status", "version", "chunks", "size_bytes", "sha256", "metadata",
//                    "error", "updated_at"}
//   job:            {"id", "knowledge_base", "status", "done", "total", "error", "created_at",
//                    "updated_at", "files": [{"source", "status", "message", "size_bytes"}]}
//   passage:        {"source", "location", "text", "score", "lexical_rank", "dense_rank",
//                    "rerank_score" (only when reranked), "chunk_id", "document_id"} (ranks 1-based
//                    in each retriever's list, 0 when absent)
// Times are Unix seconds. Pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "knowledge/document.h"
#include "store/store.h"

namespace sinan::knowledge {

nlohmann::ordered_json kb_json(const store::KnowledgeBaseRow& kb);
nlohmann::ordered_json document_json(const store::DocumentRow& d);
nlohmann::ordered_json job_json(const store::JobRow& j, const std::string& kb_name);
nlohmann::ordered_json passage_json(const Passage& p);

}  // namespace sinan::knowledge
