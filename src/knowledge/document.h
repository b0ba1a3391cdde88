// The shapes a document takes on its way into a knowledge base, shared by extraction
// (extract.h: file bytes -> ExtractedDocument), chunking (chunker.h: blocks -> chunks), the store
// (src/store/: documents and chunks persisted) and retrieval (passages with citations).
//
//   file bytes ─extract─▶ ExtractedDocument{blocks} ─chunk─▶ Chunk[] ─store─▶ rows ─search─▶ Passage[]
//
// Plain value types; no behaviour here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinan::knowledge {

// One structural unit of a document, in reading order.
struct Block {
    enum class Kind { kHeading, kParagraph, kListItem, kTable, kCode };
    Kind kind = Kind::kParagraph;
    int level = 0;         // heading level 1..6 (kHeading only); 0 otherwise
    std::string text;      // UTF-8; a table is one row per line, cells separated by " | "
    int page = 0;          // 1-based page for paged formats (PDF, OCR'd PDF); 0 when not paged
};

struct ExtractedDocument {
    std::string format;        // "text", "markdown", "html", "pdf", "docx", "csv", "json", "image"
    std::string title;         // from the document's own metadata or first heading; may be empty
    std::vector<Block> blocks; // reading order
    bool ocr = false;          // true when any text came from OCR
};

// A retrievable piece of a document: what is indexed and what a citation points at.
struct Chunk {
    int ordinal = 0;        // position within its document, 0-based
    std::string text;       // UTF-8, what is indexed and shown
    std::string location;   // human-readable: heading path ("Setup > Install") and/or "page 3"
    int page = 0;           // first page the chunk covers (0 when not paged)
    int n_tokens = 0;       // size under the chunker's token counter
};

// A retrieved chunk with where it came from; what answers cite.
struct Passage {
    int64_t chunk_id = 0;
    int64_t document_id = 0;
    std::string source;     // the document's source name (file name or caller-given name)
    std::string location;
    std::string text;
    double score = 0;       // fused or single-retriever score, higher is better
    uint32_t lexical_rank = 0;  // 1-based rank in the BM25 list, 0 when absent or not searched
    uint32_t dense_rank = 0;    // 1-based rank in the dense (vector) list, 0 when absent or not searched
    bool reranked = false;      // ordered by a cross-encoder reranker (KnowledgeBaseOptions::rerank)
    double rerank_score = 0;    // the reranker's relevance logit when reranked, higher is better
};

}  // namespace sinan::knowledge
