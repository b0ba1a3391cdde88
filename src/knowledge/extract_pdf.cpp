// PDF extraction with poppler-cpp (extract_formats.h): the text layer page by page; pages
// without one are rendered and OCR'd (ocr.h).
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <climits>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>

#include "knowledge/extract_formats.h"
#include "knowledge/ocr.h"
#include "text/utf8.h"

namespace sinan::knowledge {

namespace {

// Pages are rendered for OCR at no more than this many pixels (a 300-dpi A4 page is 8.7 M), so a
// page with absurd dimensions cannot exhaust memory.
constexpr double kMaxOcrPixels = 40e6;

std::string to_utf8(const poppler::ustring& s) {
    const poppler::byte_array bytes = s.to_utf8();
    return text::sanitize_utf8(std::string_view(bytes.data(), bytes.size()));
}

void quiet_poppler() {
    static std::once_flag once;
    std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

// Renders page `p` and OCRs it into `doc` as paragraphs of page `page_no`.
Status ocr_page(const poppler::page& p, int page_no, const ExtractOptions& options, ExtractedDocument* doc) {
    const poppler::rectf box = p.page_rect();
    const double inches = std::max(box.width(), 1.0) / 72.0 * std::max(box.height(), 1.0) / 72.0;
    const double dpi = std::min<double>(options.ocr_dpi, std::sqrt(kMaxOcrPixels / inches));
    poppler::page_renderer renderer;
    renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
    renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    renderer.set_image_format(poppler::image::format_argb32);
    const poppler::image img = renderer.render_page(&p, dpi, dpi);
    if (!img.is_valid() || img.format() != poppler::image::format_argb32) {
        return Status::error("page " + std::to_string(page_no) + " cannot be rendered for OCR");
    }
    Result<std::vector<std::string>> paragraphs =
        ocr_argb32(reinterpret_cast<const uint8_t*>(img.const_data()), img.width(), img.height(), img.bytes_per_row(),
                   static_cast<int>(dpi), options);
    if (!paragraphs.ok()) return paragraphs.status().annotate("page " + std::to_string(page_no) + ": ");
    for (const std::string& para : *paragraphs) add_block(doc, Block::Kind::kParagraph, para, 0, page_no);
    if (!paragraphs->empty()) doc->ocr = true;
    return Status::ok();
}

}  // namespace

Result<ExtractedDocument> extract_pdf(std::string_view bytes, const ExtractOptions& options) {
    if (bytes.size() > static_cast<size_t>(INT_MAX)) return Status::error("PDF over 2 GiB; split it");
    quiet_poppler();
    std::unique_ptr<poppler::document> pdf(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    if (pdf == nullptr)
        return Status::error("not a readable PDF (corrupt or truncated); check the file opens in a viewer");
    if (pdf->is_locked()) {
        return Status::error("the PDF is encrypted with a password; save an unprotected copy and add that");
    }
    ExtractedDocument doc;
    doc.format = "pdf";
    doc.title = std::string(trim_space(to_utf8(pdf->get_title())));
    const int n_pages = pdf->pages();
    int n_skipped = 0;  // pages without a text layer when OCR is off
    for (int i = 0; i < n_pages; ++i) {
        std::unique_ptr<poppler::page> page(pdf->create_page(i));
        if (page == nullptr) continue;
        const std::string text = to_utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
        if (!trim_space(text).empty()) {
            ExtractedDocument page_doc = extract_plain_text(text);
            for (Block& b : page_doc.blocks) {
                b.page = i + 1;
                doc.blocks.push_back(std::move(b));
            }
        } else if (options.ocr) {
            SINAN_RETURN_IF_ERROR(ocr_page(*page, i + 1, options, &doc));
        } else {
            ++n_skipped;
        }
    }
    if (doc.blocks.empty() && n_skipped > 0) {
        return Status::error("the PDF has no text layer (a scan?) and OCR is off; turn OCR on to read it");
    }
    return doc;
}

}  // namespace sinan::knowledge
