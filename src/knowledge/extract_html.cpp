// HTML extraction with libxml2's HTML parser (extract_formats.h).
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <climits>
#include <cstring>
#include <mutex>
#include <string>

#include "knowledge/extract_formats.h"

namespace sinan::knowledge {

namespace {

bool name_is(const xmlNode* n, const char* name) {
    return n->type == XML_ELEMENT_NODE && xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

bool name_in(const xmlNode* n, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        if (name_is(n, name)) return true;
    }
    return false;
}

int heading_level(const xmlNode* n) {
    if (n->type != XML_ELEMENT_NODE || xmlStrlen(n->name) != 2 || (n->name[0] | 0x20) != 'h') return 0;
    return n->name[1] >= '1' && n->name[1] <= '6' ? n->name[1] - '0' : 0;
}

bool is_dropped(const xmlNode* n) {
    return name_in(n, {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"});
}

// Elements that end the paragraph in progress (inline ones like span/a/b do not).
bool is_block(const xmlNode* n) {
    return heading_level(n) > 0 ||
           name_in(n,
                   {"p",          "div", "section", "article", "header",  "footer", "main",    "aside",   "nav",
                    "blockquote", "ul",  "ol",      "li",      "table",   "pre",    "hr",      "form",    "figure",
                    "figcaption", "dl",  "dt",      "dd",      "address", "body",   "details", "summary", "fieldset"});
}

// Appends `s` with runs of whitespace collapsed to one space.
void append_collapsed(std::string* out, const char* s) {
    for (; *s != '\0'; ++s) {
        const bool space = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r' || *s == '\f';
        if (!space) {
            *out += *s;
        } else if (!out->empty() && out->back() != ' ' && out->back() != '\n') {
            *out += ' ';
        }
    }
}

// The text under `n`, whitespace collapsed, dropped elements skipped; <br> is a line break.
void collect_text(const xmlNode* n, std::string* out) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content != nullptr) append_collapsed(out, reinterpret_cast<const char*>(c->content));
        } else if (c->type == XML_ELEMENT_NODE && !is_dropped(c)) {
            if (name_is(c, "br"))
                *out += '\n';
            else if (is_block(c) && !out->empty() && out->back() != ' ')
                *out += ' ';
            collect_text(c, out);
        }
    }
}

// The text under `n` exactly as written (for <pre>).
void collect_raw(const xmlNode* n, std::string* out) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content != nullptr) *out += reinterpret_cast<const char*>(c->content);
        } else if (c->type == XML_ELEMENT_NODE && !is_dropped(c)) {
            if (name_is(c, "br")) *out += '\n';
            collect_raw(c, out);
        }
    }
}

class HtmlWalker {
  public:
    explicit HtmlWalker(ExtractedDocument* doc) : doc_(doc) {}

    // Walks `first` and its following siblings.
    void walk(const xmlNode* first) {
        for (const xmlNode* c = first; c != nullptr; c = c->next) {
            if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
                if (c->content != nullptr) append_collapsed(&inline_, reinterpret_cast<const char*>(c->content));
                continue;
            }
            if (c->type != XML_ELEMENT_NODE || is_dropped(c)) continue;
            if (name_is(c, "br")) {
                inline_ += '\n';
            } else if (const int level = heading_level(c); level > 0) {
                flush();
                std::string text;
                collect_text(c, &text);
                add_block(doc_, Block::Kind::kHeading, text, level);
            } else if (name_is(c, "pre")) {
                flush();
                std::string text;
                collect_raw(c, &text);
                add_block(doc_, Block::Kind::kCode, text);
            } else if (name_is(c, "table")) {
                flush();
                add_table(c);
            } else if (name_is(c, "li")) {
                flush();
                walk(c->children);
                flush(Block::Kind::kListItem);
            } else if (is_block(c)) {
                flush();
                walk(c->children);
                flush();
            } else {
                walk(c->children);
            }
        }
    }

    void flush(Block::Kind kind = Block::Kind::kParagraph) {
        add_block(doc_, kind, inline_);
        inline_.clear();
    }

  private:
    // One line per <tr>, cells (<td>, <th>) joined with " | ".
    void add_table(const xmlNode* table) {
        std::string text;
        add_rows(table, &text);
        add_block(doc_, Block::Kind::kTable, text);
    }

    void add_rows(const xmlNode* n, std::string* text) {
        for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
            if (name_is(c, "tr")) {
                std::string row;
                bool first = true, any = false;
                for (const xmlNode* cell = c->children; cell != nullptr; cell = cell->next) {
                    if (!name_in(cell, {"td", "th"})) continue;
                    std::string value;
                    collect_text(cell, &value);
                    if (!first) row += " | ";
                    row += trim_space(value);
                    first = false;
                    any = any || !trim_space(value).empty();
                }
                if (!any) continue;
                if (!text->empty()) *text += '\n';
                *text += row;
            } else if (c->type == XML_ELEMENT_NODE && name_in(c, {"thead", "tbody", "tfoot"})) {
                add_rows(c, text);
            } else if (name_is(c, "caption")) {
                std::string caption;
                collect_text(c, &caption);
                add_block(doc_, Block::Kind::kParagraph, caption);
            }
        }
    }

    ExtractedDocument* doc_;
    std::string inline_;  // text of the paragraph in progress
};

const xmlNode* find_element(const xmlNode* n, const char* name) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (name_is(c, name)) return c;
        if (c->type == XML_ELEMENT_NODE) {
            if (const xmlNode* found = find_element(c, name)) return found;
        }
    }
    return nullptr;
}

}  // namespace

Result<ExtractedDocument> extract_html(std::string_view bytes) {
    if (bytes.size() > static_cast<size_t>(INT_MAX)) return Status::error("HTML file over 2 GiB; split it");
    static std::once_flag init;
    std::call_once(init, [] { xmlInitParser(); });
    const int flags = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
    htmlDocPtr parsed = htmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, flags);
    if (parsed == nullptr) return Status::error("cannot parse as HTML; check the file is an HTML page");
    ExtractedDocument doc;
    doc.format = "html";
    const xmlNode* root = xmlDocGetRootElement(parsed);
    if (root != nullptr) {
        if (const xmlNode* title = find_element(root, "title")) {
            std::string text;
            collect_text(title, &text);
            doc.title = std::string(trim_space(text));
        }
        HtmlWalker walker(&doc);
        walker.walk(root);
        walker.flush();
    }
    xmlFreeDoc(parsed);
    if (doc.title.empty()) {
        for (const Block& b : doc.blocks) {
            if (b.kind == Block::Kind::kHeading && b.level == 1) {
                doc.title = b.text;
                break;
            }
        }
    }
    return doc;
}

}  // namespace sinan::knowledge
