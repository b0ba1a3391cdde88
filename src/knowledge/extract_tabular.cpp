// CSV and JSON extraction (extract_formats.h). JSON keeps its members in document order.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "knowledge/extract_formats.h"

namespace sinan::knowledge {

namespace {

// JSON nested deeper than this is refused (the flattening recurses).
constexpr int kMaxJsonDepth = 256;

// The delimiter of the first line: ',' unless ';' or tab is more frequent there (spreadsheets
// in locales with a decimal comma write ';').
char sniff_delimiter(std::string_view text) {
    const std::string_view first = text.substr(0, text.find('\n'));
    const auto n = [&](char c) { return std::count(first.begin(), first.end(), c); };
    if (n('\t') > n(',') && n('\t') >= n(';')) return '\t';
    if (n(';') > n(',')) return ';';
    return ',';
}

// One cell as it goes into a table line: its own line breaks and " | " would break the layout.
std::string clean_cell(std::string_view cell) {
    std::string out;
    for (char c : trim_space(cell)) out += c == '\n' || c == '\r' ? ' ' : c;
    return out;
}

void flatten(const nlohmann::ordered_json& v, const std::string& path, int depth, std::string* out) {
    if (depth > kMaxJsonDepth)
        throw std::runtime_error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), depth + 1, out);
        }
    } else if (v.is_array()) {
        for (size_t i = 0; i < v.size(); ++i) flatten(v[i], path + "[" + std::to_string(i) + "]", depth + 1, out);
    } else {
        if (!out->empty()) *out += '\n';
        const std::string value = v.is_string() ? v.get<std::string>() : v.dump();
        *out += path.empty() ? value : path + ": " + value;
    }
}

}  // namespace

Result<ExtractedDocument> extract_csv(std::string_view text) {
    const char delim = sniff_delimiter(text);
    std::vector<std::vector<std::string>> rows(1);
    std::string cell;
    bool quoted = false;
    int line = 1, quote_line = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') ++line;
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cell += c;
            }
        } else if (c == '"' && trim_space(cell).empty()) {
            quoted = true;
            quote_line = line;
            cell.clear();
        } else if (c == delim) {
            rows.back().push_back(clean_cell(cell));
            cell.clear();
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // the \n ends the row
            rows.back().push_back(clean_cell(cell));
            cell.clear();
            rows.emplace_back();
        } else {
            cell += c;
        }
    }
    if (quoted) {
        return Status::error("line " + std::to_string(quote_line) +
                             ": a quoted field is never closed; check the file is complete");
    }
    rows.back().push_back(clean_cell(cell));
    ExtractedDocument doc;
    doc.format = "csv";
    std::string table;
    for (const auto& row : rows) {
        bool any = false;
        for (const std::string& c : row) any = any || !c.empty();
        if (!any) continue;
        if (!table.empty()) table += '\n';
        for (size_t i = 0; i < row.size(); ++i) {
            if (i > 0) table += " | ";
            table += row[i];
        }
    }
    add_block(&doc, Block::Kind::kTable, table);
    return doc;
}

Result<ExtractedDocument> extract_json(std::string_view text) {
    nlohmann::ordered_json root = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return Status::error("not valid JSON; check the file is complete");
    ExtractedDocument doc;
    doc.format = "json";
    try {
        // One block per top-level member or element, so records stay together when chunked.
        if (root.is_object() || root.is_array()) {
            size_t i = 0;
            for (auto it = root.begin(); it != root.end(); ++it, ++i) {
                std::string lines;
                flatten(it.value(), root.is_object() ? it.key() : "[" + std::to_string(i) + "]", 1, &lines);
                add_block(&doc, Block::Kind::kParagraph, lines);
            }
        } else {
            std::string lines;
            flatten(root, "", 0, &lines);
            add_block(&doc, Block::Kind::kParagraph, lines);
        }
    } catch (const std::exception& e) {
        return Status::error(std::string("JSON ") + e.what() + "; flatten it before adding");
    }
    return doc;
}

}  // namespace sinan::knowledge
