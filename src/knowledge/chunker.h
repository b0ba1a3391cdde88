// Chunking: ExtractedDocument (document.h) -> Chunk[], the retrievable pieces of a document.
//
// The chunker follows the document's structure:
//  - A heading starts a new chunk; the heading's text opens it, and every chunk's `location` is
//    its heading path ("Guide > Install"), plus ", page N" (or "page N" alone) in paged formats.
//    A chunk smaller than `min_tokens` (say a heading followed by one short line) is not cut at the
//    next heading but merged with what follows, keeping its own location.
//  - Blocks (paragraphs, list items, code, tables) are packed whole into a chunk while they fit
//    `max_tokens`; a block that does not fit is split at sentence boundaries (ICU's sentence break
//    iterator, which handles Chinese and Japanese full stops), a sentence that does not fit at word
//    boundaries (ICU), and a word that does not fit at characters.
//  - A table that fits stays whole; a larger one is split between rows, each piece starting with
//    the table's first (header) row when it fits.
//  - Consecutive chunks of the same section share about `overlap_tokens` of text: the next chunk
//    starts with the tail (whole sentences, else the last words) of the previous one.
// Every chunk has n_tokens <= max_tokens under the counter; overlap never crosses a heading.
//
// Thread-safety: chunk_document is safe to call concurrently (each call has its own ICU state);
// `count_tokens` must be callable from the calling thread.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "knowledge/document.h"

namespace sinan::knowledge {

// The default token counter, an approximation of a BPE tokenizer that needs no model: every CJK
// character (Han, kana, Hangul, CJK punctuation) is one token, since those scripts have no spaces;
// every other run of letters/digits is one token per started 6 characters; every other
// non-space character (punctuation, symbols) is one token. Spaces are free.
int approximate_token_count(std::string_view text);

struct ChunkOptions {
    int max_tokens = 256;     // budget of one chunk, > 0
    int overlap_tokens = 32;  // shared with the previous chunk of the same section, < max_tokens
    int min_tokens = 32;      // a chunk smaller than this is merged across the next heading
    // Token counter; empty = approximate_token_count. Should be additive over concatenation.
    std::function<int(std::string_view)> count_tokens;
};

// Cuts `document` into chunks, ordinal 0.. in reading order. Empty blocks are skipped; a document
// with no text gives no chunks. SINAN_CHECKs the options (programmer error): max_tokens > 0,
// 0 <= overlap_tokens < max_tokens.
std::vector<Chunk> chunk_document(const ExtractedDocument& document, const ChunkOptions& options = {});

}  // namespace sinan::knowledge
