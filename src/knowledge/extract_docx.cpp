// DOCX extraction (extract_formats.h): the zip is opened with libzip, word/document.xml,
// word/styles.xml and docProps/core.xml parsed with libxml2.
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/ascii.h"
#include "knowledge/extract_formats.h"

namespace sinan::knowledge {

namespace {

// An entry larger than this when unpacked is refused (a zip bomb, or not a text document).
constexpr zip_uint64_t kMaxEntryBytes = zip_uint64_t{1} << 29;

struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); }
};
struct XmlDocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// The unpacked bytes of entry `name`; an empty optional-like result with `found` false when absent.
Result<std::string> read_entry(zip_t* zip, const char* name, bool* found) {
    *found = false;
    const zip_int64_t index = zip_name_locate(zip, name, 0);
    if (index < 0) return std::string();
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip, static_cast<zip_uint64_t>(index), 0, &st) != 0 || (st.valid & ZIP_STAT_SIZE) == 0) {
        return Status::error(std::string(name) + " in the zip is unreadable; the file is corrupt");
    }
    if (st.size > kMaxEntryBytes) return Status::error(std::string(name) + " unpacks to over 512 MiB; refusing it");
    zip_file_t* f = zip_fopen_index(zip, static_cast<zip_uint64_t>(index), 0);
    if (f == nullptr) {
        return Status::error(std::string(name) + " cannot be opened (" + zip_strerror(zip) +
                             "); the file is corrupt or encrypted");
    }
    std::string data(static_cast<size_t>(st.size), '\0');
    const zip_int64_t n = data.empty() ? 0 : zip_fread(f, data.data(), data.size());
    zip_fclose(f);
    if (n < 0 || static_cast<zip_uint64_t>(n) != st.size) {
        return Status::error(std::string(name) + " is truncated or corrupt in the zip (CRC or size mismatch)");
    }
    *found = true;
    return data;
}

Result<XmlDocPtr> parse_xml(const std::string& data, const char* name) {
    static std::once_flag init;
    std::call_once(init, [] { xmlInitParser(); });
    if (data.size() > static_cast<size_t>(INT_MAX)) return Status::error(std::string(name) + " is too large");
    XmlDocPtr doc(xmlReadMemory(data.data(), static_cast<int>(data.size()), name, nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (doc == nullptr || xmlDocGetRootElement(doc.get()) == nullptr) {
        return Status::error(std::string(name) + " is not well-formed XML; the file is corrupt");
    }
    return doc;
}

// Element local name check, whatever the namespace prefix ("w:p" is "p").
bool is(const xmlNode* n, const char* local) {
    return n != nullptr && n->type == XML_ELEMENT_NODE &&
           xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(local)) == 0;
}

const xmlNode* child(const xmlNode* n, const char* local) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (is(c, local)) return c;
    }
    return nullptr;
}

// The value of attribute w:val (any namespace) on `n`, or "".
std::string val_of(const xmlNode* n, const char* attr = "val") {
    if (n == nullptr) return {};
    for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        if (xmlStrcmp(a->name, reinterpret_cast<const xmlChar*>(attr)) == 0 && a->children != nullptr &&
            a->children->content != nullptr) {
            return reinterpret_cast<const char*>(a->children->content);
        }
    }
    return {};
}

// Heading level of a style name: "heading 1".."heading 9" -> 1..6, "title" -> 1, else 0.
int heading_level_of(const std::string& style_name) {
    const std::string s = ascii_lower(style_name);
    if (s == "title") return 1;
    std::string digits;
    if (s.rfind("heading", 0) == 0) {
        for (char c : s.substr(7)) {
            if (c >= '0' && c <= '9')
                digits += c;
            else if (c != ' ')
                return 0;
        }
    }
    if (digits.empty() || digits.size() > 1) return 0;
    return std::min(6, digits[0] - '0');
}

// The text of runs under `n` (w:t, w:tab, w:br, w:cr), in order; deleted text (w:del) is skipped.
void collect_runs(const xmlNode* n, std::string* out) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is(c, "del") || is(c, "instrText") || is(c, "delText")) continue;
        if (is(c, "t")) {
            for (const xmlNode* t = c->children; t != nullptr; t = t->next) {
                if (t->content != nullptr) *out += reinterpret_cast<const char*>(t->content);
            }
        } else if (is(c, "tab")) {
            *out += '\t';
        } else if (is(c, "br") || is(c, "cr")) {
            *out += '\n';
        } else if (!is(c, "pPr") && !is(c, "rPr")) {
            collect_runs(c, out);
        }
    }
}

class DocxWalker {
  public:
    DocxWalker(ExtractedDocument* doc, const std::map<std::string, std::string>* style_names)
        : doc_(doc), style_names_(style_names) {}

    void walk(const xmlNode* parent) {
        for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
            if (is(c, "p")) {
                add_paragraph(c);
            } else if (is(c, "tbl")) {
                add_table(c);
            } else if (is(c, "sdt")) {
                if (const xmlNode* content = child(c, "sdtContent")) walk(content);
            } else if (is(c, "customXml") || is(c, "smartTag") || is(c, "ins")) {
                walk(c);
            }
        }
    }

  private:
    void add_paragraph(const xmlNode* p) {
        std::string text;
        collect_runs(p, &text);
        const xmlNode* ppr = child(p, "pPr");
        const std::string style_id = val_of(ppr != nullptr ? child(ppr, "pStyle") : nullptr);
        int level = 0;
        if (!style_id.empty()) {
            auto it = style_names_->find(style_id);
            level = heading_level_of(it != style_names_->end() ? it->second : style_id);
            if (level == 0) level = heading_level_of(style_id);
        }
        if (level == 0 && ppr != nullptr) {  // direct outline level (0-based) also marks a heading
            const std::string outline = val_of(child(ppr, "outlineLvl"));
            if (outline.size() == 1 && outline[0] >= '0' && outline[0] <= '5') level = outline[0] - '0' + 1;
        }
        if (level > 0) {
            add_block(doc_, Block::Kind::kHeading, text, level);
            if (doc_->title.empty() && ascii_lower(style_id) == "title") doc_->title = std::string(trim_space(text));
            return;
        }
        const bool list =
            (ppr != nullptr && child(ppr, "numPr") != nullptr) || ascii_lower(style_id) == "listparagraph" ||
            ascii_lower(style_id).rfind("listbullet", 0) == 0 || ascii_lower(style_id).rfind("listnumber", 0) == 0;
        add_block(doc_, list ? Block::Kind::kListItem : Block::Kind::kParagraph, text);
    }

    // One line per w:tr, cells (w:tc, their paragraphs joined by spaces) separated by " | ".
    void add_table(const xmlNode* tbl) {
        std::string table;
        for (const xmlNode* tr = tbl->children; tr != nullptr; tr = tr->next) {
            if (!is(tr, "tr")) continue;
            std::string row;
            bool first = true, any = false;
            for (const xmlNode* tc = tr->children; tc != nullptr; tc = tc->next) {
                if (!is(tc, "tc")) continue;
                std::string cell;
                for (const xmlNode* p = tc->children; p != nullptr; p = p->next) {
                    if (!is(p, "p")) continue;
                    std::string para;
                    collect_runs(p, &para);
                    if (!trim_space(para).empty()) {
                        if (!cell.empty()) cell += ' ';
                        cell += trim_space(para);
                    }
                }
                if (!first) row += " | ";
                row += cell;
                first = false;
                any = any || !cell.empty();
            }
            if (!any) continue;
            if (!table.empty()) table += '\n';
            table += row;
        }
        add_block(doc_, Block::Kind::kTable, table);
    }

    ExtractedDocument* doc_;
    const std::map<std::string, std::string>* style_names_;
};

}  // namespace

Result<ExtractedDocument> extract_docx(std::string_view bytes) {
    if (bytes.substr(0, 4) == "\xD0\xCF\x11\xE0") {
        return Status::error(
            "is an OLE container (an encrypted .docx or a legacy .doc), not a .docx zip; save it "
            "unprotected as .docx");
    }
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (src == nullptr) {
        zip_error_fini(&error);
        return Status::error("cannot read the zip container");
    }
    std::unique_ptr<zip_t, ZipCloser> zip(zip_open_from_source(src, ZIP_RDONLY, &error));
    if (zip == nullptr) {
        const std::string reason = zip_error_strerror(&error);
        zip_source_free(src);
        zip_error_fini(&error);
        return Status::error("not a readable .docx zip (" + reason + "); check the file is complete");
    }
    zip_error_fini(&error);

    bool found = false;
    Result<std::string> body = read_entry(zip.get(), "word/document.xml", &found);
    if (!body.ok()) return body.status();
    if (!found) return Status::error("the zip has no word/document.xml, so it is not a Word document");
    Result<XmlDocPtr> body_xml = parse_xml(*body, "word/document.xml");
    if (!body_xml.ok()) return body_xml.status();

    std::map<std::string, std::string> style_names;  // styleId -> name ("Heading1" -> "heading 1")
    Result<std::string> styles = read_entry(zip.get(), "word/styles.xml", &found);
    if (styles.ok() && found) {
        if (Result<XmlDocPtr> styles_xml = parse_xml(*styles, "word/styles.xml"); styles_xml.ok()) {
            for (const xmlNode* s = xmlDocGetRootElement(styles_xml->get())->children; s != nullptr; s = s->next) {
                if (is(s, "style")) style_names[val_of(s, "styleId")] = val_of(child(s, "name"));
            }
        }
    }

    ExtractedDocument doc;
    doc.format = "docx";
    Result<std::string> core = read_entry(zip.get(), "docProps/core.xml", &found);
    if (core.ok() && found) {
        if (Result<XmlDocPtr> core_xml = parse_xml(*core, "docProps/core.xml"); core_xml.ok()) {
            if (const xmlNode* title = child(xmlDocGetRootElement(core_xml->get()), "title")) {
                std::string text;
                for (const xmlNode* t = title->children; t != nullptr; t = t->next) {
                    if (t->type == XML_TEXT_NODE && t->content != nullptr)
                        text += reinterpret_cast<const char*>(t->content);
                }
                doc.title = std::string(trim_space(text));
            }
        }
    }
    const xmlNode* root = xmlDocGetRootElement(body_xml->get());
    const xmlNode* body_node = child(root, "body");
    if (body_node == nullptr) return Status::error("word/document.xml has no w:body; the file is corrupt");
    DocxWalker(&doc, &style_names).walk(body_node);
    return doc;
}

}  // namespace sinan::knowledge
