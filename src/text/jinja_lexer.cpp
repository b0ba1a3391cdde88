#include "text/jinja_lexer.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "text/jinja_value.h"

namespace sinan::text::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Python's str.rstrip() (Unicode whitespace).
std::string rstrip_python(std::string_view text) {
    std::u32string cps = to_code_points(text);
    size_t n = cps.size();
    while (n > 0 && python_isspace(cps[n - 1])) --n;
    if (n == cps.size()) return std::string(text);
    return from_code_points(std::u32string_view(cps).substr(0, n));
}

bool all_python_space(std::string_view text) {
    if (text.empty()) return false;
    for (char32_t c : to_code_points(text)) {
        if (!python_isspace(c)) return false;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Python's unicode-escape decoding, which Jinja2 applies to string literals.
std::string decode_escapes(std::string_view raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\' || i + 1 >= raw.size()) {
            out += c;
            continue;
        }
        char e = raw[++i];
        switch (e) {
            case '\n':
                break;  // line continuation
            case '\\':
                out += '\\';
                break;
            case '\'':
                out += '\'';
                break;
            case '"':
                out += '"';
                break;
            case 'a':
                out += '\a';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'v':
                out += '\v';
                break;
            case 'x':
            case 'u':
            case 'U': {
                size_t n_digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
                char32_t cp = 0;
                bool ok = true;
                for (size_t k = 1; ok && k <= n_digits; ++k) {
                    int h = i + k < raw.size() ? hex_value(raw[i + k]) : -1;
                    if (h < 0)
                        ok = false;
                    else
                        cp = cp * 16 + static_cast<char32_t>(h);
                }
                if (!ok || cp > 0x10ffff)
                    throw Error(ErrorKind::kSyntax, "invalid \\" + std::string(1, e) + " escape in a string");
                out += from_code_points(std::u32string(1, cp));
                i += n_digits;
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    char32_t cp = 0;
                    size_t k = 0;
                    while (k < 3 && i + k < raw.size() && raw[i + k] >= '0' && raw[i + k] <= '7') {
                        cp = cp * 8 + static_cast<char32_t>(raw[i + k] - '0');
                        ++k;
                    }
                    out += from_code_points(std::u32string(1, cp));
                    i += k - 1;
                } else {
                    out += '\\';
                    out += e;
                }
        }
    }
    return out;
}

constexpr const char* kOperators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[",
                                      "]",  "(",  ")",  "{",  "}",  "<",  ">", "=", ".", ":", "|", ",", ";"};

class Lexer {
  public:
    explicit Lexer(const std::string& src) : src_(src) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < src_.size()) {
            size_t start = find_tag(pos);
            if (start == std::string::npos) {
                emit_text(src_.substr(pos), pos);
                break;
            }
            char kind = src_[start + 1];
            char sign =
                start + 2 < src_.size() && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
            std::string text = src_.substr(pos, start - pos);
            if (sign == '-') {
                text = rstrip_python(text);
            } else if (sign != '+' && kind != '{') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && all_python_space(std::string_view(text).substr(l_pos))) {
                    text.resize(l_pos);
                }
            }
            emit_text(std::move(text), pos);
            size_t p = start + 2 + (sign ? 1 : 0);
            if (kind == '#') {
                pos = skip_comment(start, p);
            } else if (size_t body = kind == '%' ? raw_begin_end(p) : 0) {
                pos = lex_raw(start, body);
            } else {
                pos = lex_tag(kind, start, p);
            }
            line_starting = src_[pos - 1] == '\n';
        }
        Token eof;
        eof.offset = src_.size();
        tokens_.push_back(std::move(eof));
        return std::move(tokens_);
    }

  private:
    size_t find_tag(size_t pos) const {
        for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
            if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
        }
        return std::string::npos;
    }

    void emit_text(std::string text, size_t offset) {
        if (text.empty()) return;
        Token t;
        t.type = TokenType::kText;
        t.value = std::move(text);
        t.offset = offset;
        tokens_.push_back(std::move(t));
    }

    size_t skip_ws(size_t q) const {
        while (q < src_.size() && is_space(src_[q])) ++q;
        return q;
    }

    // When `{%` at p-2 opens `{% raw %}`, the position after that tag (its `-%}` eats whitespace);
    // else 0.
    size_t raw_begin_end(size_t p) const {
        size_t q = skip_ws(p);
        if (!at(q, "raw")) return 0;
        q = skip_ws(q + 3);
        if (at(q, "-%}")) return skip_ws(q + 3);
        if (at(q, "%}")) return q + 2;
        return 0;
    }

    // Emits the text of a raw block starting at `body` as is; returns the position after its
    // `{% endraw %}` (which takes whitespace control, lstrip_blocks and trim_blocks like any tag).
    size_t lex_raw(size_t start, size_t body) {
        for (size_t q = src_.find("{%", body); q != std::string::npos; q = src_.find("{%", q + 1)) {
            size_t r = q + 2;
            char sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r] : 0;
            if (sign) ++r;
            r = skip_ws(r);
            if (!at(r, "endraw")) continue;
            r = skip_ws(r + 6);
            size_t end;
            if (at(r, "+%}")) {
                end = r + 3;
            } else if (at(r, "-%}")) {
                end = skip_ws(r + 3);
            } else if (at(r, "%}")) {
                end = r + 2;
                if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
            } else {
                continue;
            }
            std::string text = src_.substr(body, q - body);
            if (sign == '-') {
                text = rstrip_python(text);
            } else if (sign != '+') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || src_[body - 1] == '\n') && all_python_space(std::string_view(text).substr(l_pos))) {
                    text.resize(l_pos);
                }
            }
            emit_text(std::move(text), body);
            return end;
        }
        throw Error(ErrorKind::kSyntax, "missing end of raw directive ({% endraw %})", start);
    }

    size_t skip_comment(size_t start, size_t p) const {
        size_t end = src_.find("#}", p);
        if (end == std::string::npos) throw Error(ErrorKind::kSyntax, "missing end of comment tag", start);
        size_t q = end + 2;
        if (end > p && src_[end - 1] == '-') return skip_ws(q);
        if (end > p && src_[end - 1] == '+') return q;
        if (q < src_.size() && src_[q] == '\n') ++q;  // trim_blocks
        return q;
    }

    void push(TokenType type, std::string value, size_t offset) {
        Token t;
        t.type = type;
        t.value = std::move(value);
        t.offset = offset;
        tokens_.push_back(std::move(t));
    }

    bool at(size_t i, const char* s) const { return src_.compare(i, std::strlen(s), s) == 0; }

    // Lexes the inside of a {{ }} or {% %} tag; returns the position after its end.
    size_t lex_tag(char kind, size_t start, size_t i) {
        push(kind == '{' ? TokenType::kVarBegin : TokenType::kBlockBegin, "", start);
        int depth = 0;
        const char close = kind == '{' ? '}' : '%';
        while (true) {
            i = skip_ws(i);
            if (i >= src_.size()) {
                throw Error(ErrorKind::kSyntax,
                            std::string("unexpected end of template, expected '") + (kind == '{' ? "}}" : "%}") +
                                "' to close the tag",
                            start);
            }
            if (depth == 0) {
                if (src_[i] == '-' && i + 2 < src_.size() && src_[i + 1] == close && src_[i + 2] == '}') {
                    push(kind == '{' ? TokenType::kVarEnd : TokenType::kBlockEnd, "", i);
                    return skip_ws(i + 3);
                }
                if (kind == '%' && src_[i] == '+' && at(i + 1, "%}")) {
                    push(TokenType::kBlockEnd, "", i);
                    return i + 3;
                }
                if (src_[i] == close && i + 1 < src_.size() && src_[i + 1] == '}') {
                    push(kind == '{' ? TokenType::kVarEnd : TokenType::kBlockEnd, "", i);
                    size_t q = i + 2;
                    if (kind == '%' && q < src_.size() && src_[q] == '\n') ++q;  // trim_blocks
                    return q;
                }
            }
            char c = src_[i];
            if (is_name_start(c)) {
                size_t j = i;
                while (j < src_.size() && is_name_char(src_[j])) ++j;
                push(TokenType::kName, src_.substr(i, j - i), i);
                i = j;
            } else if (is_digit(c)) {
                i = lex_number(i);
            } else if (c == '\'' || c == '"') {
                size_t j = i + 1;
                while (j < src_.size() && src_[j] != c) j += src_[j] == '\\' ? 2 : 1;
                if (j >= src_.size()) throw Error(ErrorKind::kSyntax, "unterminated string literal", i);
                try {
                    push(TokenType::kString, decode_escapes(std::string_view(src_).substr(i + 1, j - i - 1)), i);
                } catch (Error& e) {
                    throw Error(ErrorKind::kSyntax, e.what(), i);
                }
                i = j + 1;
            } else {
                const char* op = nullptr;
                for (const char* o : kOperators) {
                    if (at(i, o)) {
                        op = o;
                        break;
                    }
                }
                if (!op) throw Error(ErrorKind::kSyntax, std::string("unexpected character '") + c + "'", i);
                if (op[0] == '(' || op[0] == '[' || op[0] == '{') ++depth;
                if ((op[0] == ')' || op[0] == ']' || op[0] == '}') && depth > 0) --depth;
                push(TokenType::kOperator, op, i);
                i += std::strlen(op);
            }
        }
    }

    size_t lex_digits(size_t j) const {
        while (j < src_.size() &&
               (is_digit(src_[j]) || (src_[j] == '_' && j + 1 < src_.size() && is_digit(src_[j + 1])))) {
            ++j;
        }
        return j;
    }

    size_t lex_number(size_t i) {
        size_t j = lex_digits(i);
        bool is_float = false;
        if (j + 1 < src_.size() && src_[j] == '.' && is_digit(src_[j + 1])) {
            j = lex_digits(j + 1);
            is_float = true;
        }
        if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
            size_t k = j + 1;
            if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
            if (k < src_.size() && is_digit(src_[k])) {
                j = lex_digits(k);
                is_float = true;
            }
        }
        std::string text;
        for (size_t k = i; k < j; ++k) {
            if (src_[k] != '_') text += src_[k];
        }
        Token t;
        t.offset = i;
        t.value = text;
        if (is_float) {
            t.type = TokenType::kFloat;
            t.float_value = std::strtod(text.c_str(), nullptr);
        } else {
            t.type = TokenType::kInt;
            errno = 0;
            t.int_value = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) throw Error(ErrorKind::kSyntax, "integer literal out of range", i);
        }
        tokens_.push_back(std::move(t));
        return j;
    }

    const std::string& src_;
    std::vector<Token> tokens_;
};

}  // namespace

std::string normalize_source(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::vector<Token> tokenize(const std::string& normalized) { return Lexer(normalized).run(); }

std::pair<int, int> line_column(std::string_view source, size_t offset) {
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < source.size(); ++i) {
        if (source[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    return {line, static_cast<int>(offset - line_start) + 1};
}

}  // namespace sinan::text::jinja
