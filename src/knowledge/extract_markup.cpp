// Plain text and Markdown extraction (extract_formats.h).
#include <string>
#include <string_view>
#include <vector>

#include "knowledge/extract_formats.h"

namespace sinan::knowledge {

namespace {

bool is_blank(std::string_view line) { return trim_space(line).empty(); }

// Lines without their terminators (\n, \r\n or \r).
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n' && text[i] != '\r') continue;
        lines.push_back(text.substr(start, i - start));
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < text.size()) lines.push_back(text.substr(start));
    return lines;
}

size_t leading_spaces(std::string_view line) {
    size_t n = 0;
    while (n < line.size() && line[n] == ' ') ++n;
    return n;
}

// "#".."######" followed by a space or the end: the level, else 0.
int atx_level(std::string_view line) {
    if (leading_spaces(line) > 3) return 0;
    line = trim_space(line);
    int level = 0;
    while (level < static_cast<int>(line.size()) && line[level] == '#') ++level;
    if (level == 0 || level > 6) return 0;
    if (level < static_cast<int>(line.size()) && line[level] != ' ' && line[level] != '\t') return 0;
    return level;
}

std::string_view atx_text(std::string_view line) {
    line = trim_space(line);
    while (!line.empty() && line.front() == '#') line.remove_prefix(1);
    line = trim_space(line);
    // A closing sequence of #s preceded by a space is not part of the text.
    size_t end = line.size();
    while (end > 0 && line[end - 1] == '#') --end;
    if (end == 0 || line[end - 1] == ' ') line = line.substr(0, end);
    return trim_space(line);
}

// A line made of one repeated character c (3+ times for breaks, 1+ for setext), spaces allowed.
bool is_rule_of(std::string_view line, char c, size_t min_count) {
    if (leading_spaces(line) > 3) return false;
    size_t n = 0;
    for (char ch : line) {
        if (ch == c)
            ++n;
        else if (ch != ' ' && ch != '\t')
            return false;
    }
    return n >= min_count;
}

bool is_thematic_break(std::string_view line) {
    return is_rule_of(line, '-', 3) || is_rule_of(line, '*', 3) || is_rule_of(line, '_', 3);
}

// Setext underline level for the line below a paragraph: 1 for ===, 2 for ---, else 0.
int setext_level(std::string_view line) {
    const std::string_view t = trim_space(line);
    if (t.empty() || t.find(' ') != std::string_view::npos) return 0;
    if (is_rule_of(line, '=', 1)) return 1;
    if (is_rule_of(line, '-', 1)) return 2;
    return 0;
}

// "```" or "~~~" (3+) fence: the fence string, else empty.
std::string_view fence_of(std::string_view line) {
    if (leading_spaces(line) > 3) return {};
    line = trim_space(line);
    if (line.size() < 3 || (line[0] != '`' && line[0] != '~')) return {};
    size_t n = 0;
    while (n < line.size() && line[n] == line[0]) ++n;
    return n >= 3 ? line.substr(0, n) : std::string_view{};
}

// A list item's marker ("- ", "* ", "+ ", "1. ", "1) "): the item's text, or nullopt-like empty
// view with `is_item` false.
bool list_item_text(std::string_view line, std::string_view* text) {
    const size_t indent = leading_spaces(line);
    std::string_view t = line.substr(indent);
    size_t marker = 0;
    if (!t.empty() && (t[0] == '-' || t[0] == '*' || t[0] == '+')) {
        marker = 1;
    } else {
        while (marker < t.size() && marker < 9 && t[marker] >= '0' && t[marker] <= '9') ++marker;
        if (marker == 0 || marker >= t.size() || (t[marker] != '.' && t[marker] != ')')) return false;
        ++marker;
    }
    if (marker < t.size() && t[marker] != ' ' && t[marker] != '\t') return false;
    *text = trim_space(t.substr(marker));
    return true;
}

// The cells of a pipe-table row, trimmed ("| a | b |" -> {a, b}); "\|" is a literal pipe.
std::vector<std::string> table_cells(std::string_view line) {
    line = trim_space(line);
    if (!line.empty() && line.front() == '|') line.remove_prefix(1);
    if (!line.empty() && line.back() == '|' && (line.size() < 2 || line[line.size() - 2] != '\\'))
        line.remove_suffix(1);
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
            cell += '|';
            ++i;
        } else if (line[i] == '|') {
            cells.emplace_back(trim_space(cell));
            cell.clear();
        } else {
            cell += line[i];
        }
    }
    cells.emplace_back(trim_space(cell));
    return cells;
}

// "|---|:--:|" and the like: the row under a pipe table's header.
bool is_table_separator(std::string_view line) {
    if (line.find('-') == std::string_view::npos || line.find('|') == std::string_view::npos) return false;
    for (char c : line) {
        if (c != '|' && c != '-' && c != ':' && c != ' ' && c != '\t') return false;
    }
    return true;
}

std::string join_cells(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) out += " | ";
        out += cells[i];
    }
    return out;
}

// Inline Markdown to plain text: ![alt](url) -> alt, [text](url) -> text, `code` -> code,
// **strong** / __strong__ -> strong. Single * and _ stay (they are often part of words).
std::string strip_inline(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\\' && i + 1 < s.size() &&
            std::string_view("\\`*_[]()#+-.!|").find(s[i + 1]) != std::string_view::npos) {
            out += s[++i];
        } else if (c == '`') {
            continue;
        } else if ((c == '*' || c == '_') && i + 1 < s.size() && s[i + 1] == c) {
            ++i;
        } else if (c == '[' || (c == '!' && i + 1 < s.size() && s[i + 1] == '[')) {
            // [text](target): keep text, drop target.
            const size_t open = c == '!' ? i + 1 : i;
            const size_t close = s.find(']', open);
            if (close != std::string_view::npos && close + 1 < s.size() && s[close + 1] == '(') {
                const size_t paren = s.find(')', close + 2);
                if (paren != std::string_view::npos) {
                    out += strip_inline(s.substr(open + 1, close - open - 1));
                    i = paren;
                    continue;
                }
            }
            out += c;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string_view trim_space(std::string_view s) {
    constexpr std::string_view kIdeographicSpace = "\xE3\x80\x80";
    for (;;) {
        if (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r' ||
                           s.front() == '\f' || s.front() == '\v')) {
            s.remove_prefix(1);
        } else if (s.substr(0, 3) == kIdeographicSpace) {
            s.remove_prefix(3);
        } else {
            break;
        }
    }
    for (;;) {
        if (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r' ||
                           s.back() == '\f' || s.back() == '\v')) {
            s.remove_suffix(1);
        } else if (s.size() >= 3 && s.substr(s.size() - 3) == kIdeographicSpace) {
            s.remove_suffix(3);
        } else {
            break;
        }
    }
    return s;
}

void add_block(ExtractedDocument* doc, Block::Kind kind, std::string_view text, int level, int page) {
    text = trim_space(text);
    if (text.empty()) return;
    Block b;
    b.kind = kind;
    b.level = kind == Block::Kind::kHeading ? level : 0;
    b.text = std::string(text);
    b.page = page;
    doc->blocks.push_back(std::move(b));
}

ExtractedDocument extract_plain_text(std::string_view text) {
    ExtractedDocument doc;
    doc.format = "text";
    std::string paragraph;
    for (std::string_view line : split_lines(text)) {
        if (is_blank(line)) {
            add_block(&doc, Block::Kind::kParagraph, paragraph);
            paragraph.clear();
            continue;
        }
        if (!paragraph.empty()) paragraph += '\n';
        paragraph += trim_space(line);
    }
    add_block(&doc, Block::Kind::kParagraph, paragraph);
    return doc;
}

ExtractedDocument extract_markdown(std::string_view text) {
    ExtractedDocument doc;
    doc.format = "markdown";
    const std::vector<std::string_view> lines = split_lines(text);
    std::string paragraph;  // lines of the paragraph in progress, joined with spaces
    Block::Kind paragraph_kind = Block::Kind::kParagraph;
    auto flush = [&] {
        add_block(&doc, paragraph_kind, strip_inline(paragraph));
        paragraph.clear();
        paragraph_kind = Block::Kind::kParagraph;
    };
    for (size_t i = 0; i < lines.size(); ++i) {
        std::string_view line = lines[i];
        if (is_blank(line)) {
            flush();
            continue;
        }
        if (const std::string_view fence = fence_of(line); !fence.empty()) {
            flush();
            std::string code;
            for (++i; i < lines.size(); ++i) {
                const std::string_view t = trim_space(lines[i]);
                if (t.substr(0, fence.size()) == fence && t.find_first_not_of(fence[0]) == std::string_view::npos)
                    break;
                if (!code.empty()) code += '\n';
                code += lines[i];
            }
            add_block(&doc, Block::Kind::kCode, code);
            continue;
        }
        if (const int level = atx_level(line); level > 0) {
            flush();
            add_block(&doc, Block::Kind::kHeading, strip_inline(atx_text(line)), level);
            continue;
        }
        if (!paragraph.empty() && paragraph_kind == Block::Kind::kParagraph) {
            if (const int level = setext_level(line); level > 0) {
                add_block(&doc, Block::Kind::kHeading, strip_inline(paragraph), level);
                paragraph.clear();
                continue;
            }
        }
        if (is_thematic_break(line)) {
            flush();
            continue;
        }
        if (line.find('|') != std::string_view::npos && i + 1 < lines.size() && is_table_separator(lines[i + 1])) {
            flush();
            std::string table = join_cells(table_cells(line));
            for (i += 2; i < lines.size() && !is_blank(lines[i]) && lines[i].find('|') != std::string_view::npos; ++i) {
                table += '\n';
                table += strip_inline(join_cells(table_cells(lines[i])));
            }
            --i;
            add_block(&doc, Block::Kind::kTable, strip_inline(table));
            continue;
        }
        std::string_view item;
        if (list_item_text(line, &item)) {
            flush();
            paragraph_kind = Block::Kind::kListItem;
            paragraph = item;
            continue;
        }
        // Block quotes read as their content.
        std::string_view content = trim_space(line);
        while (!content.empty() && content.front() == '>') content = trim_space(content.substr(1));
        if (!paragraph.empty()) paragraph += ' ';
        paragraph += content;
    }
    flush();
    for (const Block& b : doc.blocks) {
        if (b.kind == Block::Kind::kHeading && (doc.title.empty() || b.level == 1)) {
            doc.title = b.text;
            if (b.level == 1) break;
        }
    }
    return doc;
}

}  // namespace sinan::knowledge
