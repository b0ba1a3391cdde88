// The per-format extractors behind extract.h (internal to src/knowledge; callers use extract.h).
// Each takes the whole content and returns the document or a Status whose message says what is
// wrong with the content; extract_bytes prefixes it with the file name. None of them crashes on
// any input. Thread-safety: each call has its own parser state.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "knowledge/document.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {

// extract_markup.cpp. `text` must be valid UTF-8 (extract_bytes sanitizes it first).
ExtractedDocument extract_plain_text(std::string_view text);
ExtractedDocument extract_markdown(std::string_view text);

// extract_html.cpp: libxml2's HTML parser (charset from <meta>, else UTF-8).
Result<ExtractedDocument> extract_html(std::string_view bytes);
// extract_pdf.cpp: poppler's text layer; pages without one are OCR'd when options.ocr.
Result<ExtractedDocument> extract_pdf(std::string_view bytes, const ExtractOptions& options);
// extract_docx.cpp: libzip + libxml2.
Result<ExtractedDocument> extract_docx(std::string_view bytes);
// extract_tabular.cpp. `text` must be valid UTF-8.
Result<ExtractedDocument> extract_csv(std::string_view text);
Result<ExtractedDocument> extract_json(std::string_view text);

// Shared helpers for the extractors (extract_markup.cpp).
std::string_view trim_space(std::string_view s);  // ASCII whitespace and U+3000 off both ends
// Appends a block of `kind` with `text` trimmed; does nothing when the trimmed text is empty.
void add_block(ExtractedDocument* doc, Block::Kind kind, std::string_view text, int level = 0, int page = 0);

}  // namespace sinan::knowledge
