#include "doc_fixtures.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <unistd.h>
#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sinan::knowledge::fixtures {

namespace {

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

void draw_lines(cairo_t* cr, const std::vector<std::string>& lines, const std::string& font, double size, double x,
                double y) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_select_font_face(cr, font.c_str(), CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    for (const std::string& line : lines) {
        y += size * 1.5;
        cairo_move_to(cr, x, y);
        cairo_show_text(cr, line.c_str());
    }
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '&')
            out += "&amp;";
        else
            out += c;
    }
    return out;
}

std::string docx_paragraph(const DocxParagraph& p) {
    std::string xml = "<w:p>";
    if (!p.style.empty()) xml += "<w:pPr><w:pStyle w:val=\"" + p.style + "\"/></w:pPr>";
    return xml + "<w:r><w:t xml:space=\"preserve\">" + xml_escape(p.text) + "</w:t></w:r></w:p>";
}

}  // namespace

std::string make_text_pdf(const std::vector<std::vector<std::string>>& pages, const std::string& title) {
    std::string out;
    cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append_to_string, &out, 595, 842);
    if (!title.empty()) cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
    cairo_t* cr = cairo_create(surface);
    for (const auto& lines : pages) {
        draw_lines(cr, lines, "DejaVu Sans", 11, 50, 50);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    cairo_surface_destroy(surface);
    return out;
}

std::string render_png(const std::vector<std::string>& lines, const std::string& font, double font_px) {
    size_t longest = 1;
    for (const std::string& l : lines) longest = std::max(longest, l.size());
    const int width = static_cast<int>(font_px * (static_cast<double>(longest) * 0.7 + 4));
    const int height = static_cast<int>(font_px * (1.5 * static_cast<double>(lines.size()) + 2));
    cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t* cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    draw_lines(cr, lines, font, font_px, font_px, font_px * 0.5);
    cairo_destroy(cr);
    std::string png;
    cairo_surface_write_to_png_stream(surface, append_to_string, &png);
    cairo_surface_destroy(surface);
    return png;
}

std::string make_scanned_pdf(const std::vector<std::string>& lines) {
    // The page image at 4 pixels per point (288 dpi), drawn scaled into a 400 x 150 pt page.
    const int w = 400 * 4, h = 150 * 4;
    cairo_surface_t* image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t* icr = cairo_create(image);
    cairo_set_source_rgb(icr, 1, 1, 1);
    cairo_paint(icr);
    draw_lines(icr, lines, "DejaVu Sans", 48, 60, 40);
    cairo_destroy(icr);

    std::string out;
    cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append_to_string, &out, 400, 150);
    cairo_t* cr = cairo_create(surface);
    cairo_scale(cr, 0.25, 0.25);
    cairo_set_source_surface(cr, image, 0, 0);
    cairo_paint(cr);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    cairo_surface_destroy(surface);
    cairo_surface_destroy(image);
    return out;
}

std::string make_docx(const std::vector<DocxParagraph>& paragraphs, const std::vector<std::vector<std::string>>& table,
                      const std::string& title, const std::vector<std::pair<std::string, std::string>>& style_names) {
    const std::string ns = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";
    std::string body;
    for (const DocxParagraph& p : paragraphs) body += docx_paragraph(p);
    if (!table.empty()) {
        body += "<w:tbl><w:tblPr><w:tblW w:w=\"0\" w:type=\"auto\"/></w:tblPr>";
        for (const auto& row : table) {
            body += "<w:tr>";
            for (const std::string& cell : row) body += "<w:tc>" + docx_paragraph({"", cell}) + "</w:tc>";
            body += "</w:tr>";
        }
        body += "</w:tbl>";
    }
    std::vector<std::pair<std::string, std::string>> styles = {
        {"Title", "Title"},        {"Heading1", "heading 1"},          {"Heading2", "heading 2"},
        {"Heading3", "heading 3"}, {"Heading4", "heading 4"},          {"Heading5", "heading 5"},
        {"Heading6", "heading 6"}, {"ListParagraph", "List Paragraph"}};
    styles.insert(styles.end(), style_names.begin(), style_names.end());
    std::string styles_xml = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:styles " + ns + ">";
    for (const auto& [id, name] : styles) {
        styles_xml +=
            "<w:style w:type=\"paragraph\" w:styleId=\"" + id + "\"><w:name w:val=\"" + name + "\"/></w:style>";
    }
    styles_xml += "</w:styles>";
    const std::vector<std::pair<std::string, std::string>> entries = {
        {"[Content_Types].xml",
         "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
         "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
         "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
         "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
         "<Override PartName=\"/word/document.xml\" "
         "ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
         "<Override PartName=\"/word/styles.xml\" "
         "ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/>"
         "<Override PartName=\"/docProps/core.xml\" "
         "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/></Types>"},
        {"_rels/.rels",
         "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
         "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
         "<Relationship Id=\"rId1\" "
         "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" "
         "Target=\"word/document.xml\"/>"
         "<Relationship Id=\"rId2\" "
         "Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" "
         "Target=\"docProps/core.xml\"/></Relationships>"},
        {"word/_rels/document.xml.rels",
         "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
         "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
         "<Relationship Id=\"rId1\" "
         "Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" "
         "Target=\"styles.xml\"/></Relationships>"},
        {"word/document.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document " + ns +
                                  "><w:body>" + body + "<w:sectPr/></w:body></w:document>"},
        {"word/styles.xml", styles_xml},
        {"docProps/core.xml",
         "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><cp:coreProperties "
         "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
         "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>" +
             xml_escape(title) + "</dc:title></cp:coreProperties>"},
    };
    char path[] = "/tmp/sinan_docx_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    int err = 0;
    zip_t* zip = zip_open(path, ZIP_TRUNCATE, &err);
    if (zip == nullptr) throw std::runtime_error("zip_open failed");
    for (const auto& [name, content] : entries) {
        zip_source_t* src = zip_source_buffer(zip, content.data(), content.size(), 0);
        if (src == nullptr || zip_file_add(zip, name.c_str(), src, ZIP_FL_ENC_UTF_8) < 0) {
            throw std::runtime_error("zip_file_add failed");
        }
    }
    if (zip_close(zip) != 0) throw std::runtime_error("zip_close failed");
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove(path);
    return ss.str();
}

}  // namespace sinan::knowledge::fixtures
