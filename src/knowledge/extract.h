// Text extraction: a file's bytes -> ExtractedDocument (document.h), the structured text that the
// chunker (chunker.h) cuts into chunks.
//
// Formats, detected from the bytes' magic first (a PDF named .txt is still a PDF), then from the
// name's extension, then by sniffing (valid UTF-8 without NUL bytes is plain text):
//   text      .txt and unknown text      paragraphs split at blank lines
//   markdown  .md .markdown              ATX/setext headings, paragraphs, lists, fenced code, pipe tables
//   html      .html .htm                 libxml2's HTML parser: h1-h6, p, li, table rows, pre;
//                                        script/style dropped; <title> is the title
//   pdf       .pdf                       poppler's text layer, one block per paragraph with its page;
//                                        pages without a text layer are rendered and OCR'd
//   docx      .docx                      word/document.xml paragraphs, Heading1..6 / Title styles,
//                                        tables, list paragraphs; title from docProps/core.xml
//   csv       .csv                       RFC 4180 quoting; one block per row, "header: value" cells
//   json      .json                      flattened to "path: value" lines
//   image     .png .jpg .jpeg .tif .tiff .bmp   OCR (tesseract), one block per OCR paragraph
// Text that is not valid UTF-8 has its bad bytes replaced by U+FFFD; a UTF-8 BOM is dropped.
//
// Failures (unreadable, empty, corrupt, truncated, encrypted, unsupported, OCR needed but off or
// unavailable) return a Status whose one-line message starts with the file name and says why and
// what to do. No input crashes. Thread-safety: every function is safe to call from several threads
// at once (each call holds its own parser and OCR state).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "knowledge/document.h"

namespace sinan::knowledge {

struct ExtractOptions {
    // OCR images and PDF pages that have no text layer. Off: images fail with "needs OCR" and
    // PDF pages without text are skipped (an all-image PDF fails).
    bool ocr = true;
    // Tesseract languages, '+'-separated; the traineddata files must be installed
    // (Debian: tesseract-ocr-eng, tesseract-ocr-chi-sim).
    std::string ocr_languages = "eng+chi_sim";
    // Directory holding <lang>.traineddata; empty = tesseract's default (TESSDATA_PREFIX or the
    // packaged path).
    std::string tessdata_dir;
    // Resolution at which PDF pages without a text layer are rendered for OCR.
    int ocr_dpi = 300;
};

// Reads `path` (memory-mapped) and extracts it; the file's base name is used for detection and in
// error messages.
Result<ExtractedDocument> extract_file(const std::string& path, const ExtractOptions& options = {});

// Extracts `bytes`, the content of a file called `name` (used for detection and in error messages;
// may be a bare name or a path). `bytes` is only read during the call.
Result<ExtractedDocument> extract_bytes(std::string_view name, std::string_view bytes,
                                        const ExtractOptions& options = {});

// The format extract_bytes would use for this content ("text", "markdown", "html", "pdf", "docx",
// "csv", "json", "image"), or "" when it is not supported (binary data of an unknown kind).
std::string detect_format(std::string_view name, std::string_view bytes);

// True when a file with this name has an extension extract_bytes knows (for picking files out of a
// folder; detect_format on the bytes is the final word).
bool has_supported_extension(std::string_view name);

}  // namespace sinan::knowledge
