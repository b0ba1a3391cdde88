// Format detection and dispatch to the per-format extractors (extract_formats.h).
#include "knowledge/extract.h"

#include <array>
#include <cstring>

#include "base/ascii.h"
#include "base/mapped_file.h"
#include "knowledge/extract_formats.h"
#include "knowledge/ocr.h"
#include "text/utf8.h"

namespace sinan::knowledge {

namespace {

constexpr std::string_view kSupportedList = "txt, md, html, pdf, docx, csv, json, png, jpg, tiff, bmp";

std::string_view base_name(std::string_view name) {
    const size_t slash = name.find_last_of('/');
    return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

// The lower-case extension without the dot ("" when there is none).
std::string extension_of(std::string_view name) {
    name = base_name(name);
    const size_t dot = name.find_last_of('.');
    if (dot == std::string_view::npos || dot == 0) return {};
    return ascii_lower(name.substr(dot + 1));
}

std::string format_of_extension(const std::string& ext) {
    struct Entry {
        std::string_view ext, format;
    };
    static constexpr std::array<Entry, 18> kByExtension = {{
        {"txt", "text"},
        {"text", "text"},
        {"md", "markdown"},
        {"markdown", "markdown"},
        {"html", "html"},
        {"htm", "html"},
        {"xhtml", "html"},
        {"pdf", "pdf"},
        {"docx", "docx"},
        {"csv", "csv"},
        {"json", "json"},
        {"png", "image"},
        {"jpg", "image"},
        {"jpeg", "image"},
        {"tif", "image"},
        {"tiff", "image"},
        {"bmp", "image"},
        {"log", "text"},
    }};
    for (const Entry& e : kByExtension) {
        if (e.ext == ext) return std::string(e.format);
    }
    return {};
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The format named by the bytes' magic number, or "" when they have none we know.
std::string format_of_magic(std::string_view bytes, const std::string& ext) {
    // Only at the start: text that merely mentions "%PDF-" stays text (a .pdf name still means PDF).
    if (starts_with(bytes, "%PDF-")) return "pdf";
    if (starts_with(bytes, "\x89PNG\r\n\x1a\n") || starts_with(bytes, "\xFF\xD8\xFF") ||
        starts_with(bytes, std::string_view("II*\0", 4)) || starts_with(bytes, std::string_view("MM\0*", 4))) {
        return "image";
    }
    // "BM" is too common a text start to trust alone: also ask for the .bmp name.
    if (starts_with(bytes, "BM") && ext == "bmp") return "image";
    if (starts_with(bytes, "PK\x03\x04"))
        return ext == "docx" || bytes.find("word/document.xml") != std::string_view::npos ? "docx" : "zip";
    return {};
}

bool looks_like_html(std::string_view bytes) {
    const std::string head = ascii_lower(trim_space(bytes.substr(0, 512)).substr(0, 15));
    return starts_with(head, "<!doctype html") || starts_with(head, "<html");
}

}  // namespace

bool has_supported_extension(std::string_view name) { return !format_of_extension(extension_of(name)).empty(); }

std::string detect_format(std::string_view name, std::string_view bytes) {
    const std::string ext = extension_of(name);
    const std::string magic = format_of_magic(bytes, ext);
    if (magic == "zip") return {};
    if (!magic.empty()) return magic;
    if (std::string by_ext = format_of_extension(ext); !by_ext.empty()) return by_ext;
    // No magic, no known extension: text when the start has no NUL byte.
    if (bytes.substr(0, 8192).find('\0') != std::string_view::npos) return {};
    return looks_like_html(bytes) ? "html" : "text";
}

Result<ExtractedDocument> extract_bytes(std::string_view name, std::string_view bytes, const ExtractOptions& options) {
    const std::string prefix = std::string(base_name(name)) + ": ";
    if (bytes.empty()) return Status::error(prefix + "empty file (0 bytes); nothing to index");
    const std::string format = detect_format(name, bytes);
    if (format.empty()) {
        return Status::error(prefix + "unsupported file type (binary data, not one of " + std::string(kSupportedList) +
                             "); convert it to one of these");
    }
    Result<ExtractedDocument> doc = Status::error("unreachable");
    if (format == "text" || format == "markdown" || format == "csv" || format == "json") {
        std::string_view text = bytes;
        if (starts_with(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
        if (text.find('\0') != std::string_view::npos) {
            return Status::error(prefix + "has NUL bytes, so it is not " + format +
                                 " (UTF-16 or binary?); save it as UTF-8 text");
        }
        const std::string valid = text::sanitize_utf8(text);
        if (format == "text")
            doc = extract_plain_text(valid);
        else if (format == "markdown")
            doc = extract_markdown(valid);
        else if (format == "csv")
            doc = extract_csv(valid);
        else
            doc = extract_json(valid);
    } else if (format == "html") {
        doc = extract_html(bytes);
    } else if (format == "pdf") {
        doc = extract_pdf(bytes, options);
    } else if (format == "docx") {
        doc = extract_docx(bytes);
    } else {
        SINAN_CHECK(format == "image", "detect_format returned an unknown format: " + format);
        if (!options.ocr) return Status::error(prefix + "is an image and OCR is off; turn OCR on to index images");
        Result<std::vector<std::string>> paragraphs = ocr_image(bytes, options);
        if (!paragraphs.ok()) return paragraphs.status().annotate(prefix);
        ExtractedDocument image;
        image.format = "image";
        image.ocr = true;
        for (const std::string& p : *paragraphs) add_block(&image, Block::Kind::kParagraph, p);
        doc = std::move(image);
    }
    if (!doc.ok()) return doc.status().annotate(prefix);
    if (doc->blocks.empty())
        return Status::error(prefix + "no text found in this " + format + " file; nothing to index");
    return doc;
}

Result<ExtractedDocument> extract_file(const std::string& path, const ExtractOptions& options) {
    Result<MappedFile> file = MappedFile::open(path);
    if (!file.ok()) return file.status();
    const std::string_view bytes(reinterpret_cast<const char*>(file->data()), file->size());
    return extract_bytes(path, bytes, options);
}

}  // namespace sinan::knowledge
