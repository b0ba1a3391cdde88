// Document fixtures made at test time by real libraries (cairo for PDF and PNG with real fonts,
// libzip for DOCX), for the extraction tests and the ingestion benchmark. Not hand-typed bytes:
// what a real PDF writer and zip writer produce.
// Fonts: "DejaVu Sans" (fonts-dejavu-core), "WenQuanYi Zen Hei" (fonts-wqy-zenhei), found through
// fontconfig. Thread-safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sinan::knowledge::fixtures {

// A PDF with a text layer: one A4 page per entry of `pages`, each line of a page drawn in
// DejaVu Sans 11 pt from the top; `title` goes into the document information.
std::string make_text_pdf(const std::vector<std::vector<std::string>>& pages, const std::string& title = "");

// A PNG of `lines` drawn black on white in `font` at `font_px` pixels, one line per row.
std::string render_png(const std::vector<std::string>& lines, const std::string& font, double font_px);

// A "scanned" PDF: one page that holds only an image of `lines` (DejaVu Sans), no text layer.
std::string make_scanned_pdf(const std::vector<std::string>& lines);

// One paragraph of a DOCX: its style id ("" = Normal, "Heading1", "Title", "ListParagraph") and text.
struct DocxParagraph {
    std::string style;
    std::string text;
};
// A DOCX written with libzip after the OOXML package structure ([Content_Types].xml, _rels,
// word/document.xml, word/styles.xml, docProps/core.xml), its body the paragraphs then `table`
// (rows of cells; none when empty). Style ids are mapped to names in styles.xml by `style_names`
// (id -> name, e.g. {"Berschrift1", "heading 1"}); Heading1..6, Title and ListParagraph are
// always defined.
std::string make_docx(const std::vector<DocxParagraph>& paragraphs, const std::vector<std::vector<std::string>>& table,
                      const std::string& title,
                      const std::vector<std::pair<std::string, std::string>>& style_names = {});

}  // namespace sinan::knowledge::fixtures
