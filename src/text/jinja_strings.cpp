#include "text/jinja_strings.h"

#include <utf8proc.h>

#include <algorithm>

namespace sinan::text::jinja {
namespace {

template <typename F>
std::string map_code_points(const std::string& s, F f) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
        std::string out = s;
        for (char& c : out) c = static_cast<char>(f(static_cast<char32_t>(c)));
        return out;
    }
    std::u32string cps = to_code_points(s);
    for (char32_t& c : cps) c = f(c);
    return from_code_points(cps);
}

char32_t lower_cp(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
char32_t upper_cp(char32_t c) {
    if (c == 0xdf) return c;  // sharp s: upper() expands it to "SS" below, as Python does
    return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t title_cp(char32_t c) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))); }
bool is_cased(char32_t c) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
bool is_alnum_cp(char32_t c) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

}  // namespace

const std::string& as_str_arg(const Value& v, const char* what) {
    if (!v.is_string()) throw_runtime(std::string(what) + " must be str, not " + type_name(v));
    return v.as_string();
}

std::string lower(const std::string& s) { return map_code_points(s, lower_cp); }
// Python's full upper-case mapping differs from the simple one for a few characters; the German
// sharp s is the one that appears in real text.
std::string upper(const std::string& s) {
    std::string out = map_code_points(s, upper_cp);
    for (size_t pos = out.find("\xC3\x9F"); pos != std::string::npos; pos = out.find("\xC3\x9F", pos)) {
        out.replace(pos, 2, "SS");
    }
    return out;
}

// Python's str.title(): a cased character after an uncased one starts a word.
std::string str_title(const std::string& s) {
    std::u32string cps = to_code_points(s);
    bool prev_cased = false;
    for (char32_t& c : cps) {
        bool cased = is_cased(c);
        c = prev_cased ? lower_cp(c) : title_cp(c);
        prev_cased = cased;
    }
    return from_code_points(cps);
}

// Jinja2's title filter: words start after '-', whitespace, '(', '{', '[' or '<'.
std::string jinja_title(const std::string& s) {
    std::u32string cps = to_code_points(s);
    bool at_start = true;
    for (char32_t& c : cps) {
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || python_isspace(c);
        if (sep) {
            at_start = true;
            continue;
        }
        c = at_start ? upper_cp(c) : lower_cp(c);
        at_start = false;
    }
    return from_code_points(cps);
}

std::string capitalize(const std::string& s) {
    std::u32string cps = to_code_points(s);
    for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? title_cp(cps[i]) : lower_cp(cps[i]);
    return from_code_points(cps);
}

// str.strip/lstrip/rstrip; chars undefined/None strips whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
    std::u32string cps = to_code_points(s);
    std::u32string set;
    bool ws = chars.is_undefined() || chars.is_none();
    if (!ws) set = to_code_points(as_str_arg(chars, "strip chars"));
    auto strip_it = [&](char32_t c) { return ws ? python_isspace(c) : set.find(c) != std::u32string::npos; };
    size_t b = 0, e = cps.size();
    if (left) {
        while (b < e && strip_it(cps[b])) ++b;
    }
    if (right) {
        while (e > b && strip_it(cps[e - 1])) --e;
    }
    return from_code_points(std::u32string_view(cps).substr(b, e - b));
}

std::vector<Value> split(const std::string& s, const Value& sep_v, int64_t maxsplit, bool from_right) {
    std::vector<Value> parts;
    if (sep_v.is_undefined() || sep_v.is_none()) {
        std::u32string cps = to_code_points(s);
        std::vector<std::u32string> words;
        if (!from_right) {
            size_t i = 0;
            while (i < cps.size()) {
                while (i < cps.size() && python_isspace(cps[i])) ++i;
                if (i >= cps.size()) break;
                if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
                    size_t e = cps.size();
                    while (e > i && python_isspace(cps[e - 1])) --e;
                    words.push_back(cps.substr(i, e - i));
                    break;
                }
                size_t j = i;
                while (j < cps.size() && !python_isspace(cps[j])) ++j;
                words.push_back(cps.substr(i, j - i));
                i = j;
            }
        } else {
            size_t i = cps.size();
            while (i > 0) {
                while (i > 0 && python_isspace(cps[i - 1])) --i;
                if (i == 0) break;
                if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
                    size_t b = 0;
                    while (b < i && python_isspace(cps[b])) ++b;
                    words.push_back(cps.substr(b, i - b));
                    break;
                }
                size_t j = i;
                while (j > 0 && !python_isspace(cps[j - 1])) --j;
                words.push_back(cps.substr(j, i - j));
                i = j;
            }
            std::reverse(words.begin(), words.end());
        }
        for (auto& w : words) parts.emplace_back(from_code_points(w));
        return parts;
    }
    const std::string& sep = as_str_arg(sep_v, "separator");
    if (sep.empty()) throw_runtime("empty separator");
    std::vector<std::string> pieces;
    if (!from_right) {
        size_t pos = 0;
        while (true) {
            size_t f = (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) >= maxsplit) ? std::string::npos
                                                                                          : s.find(sep, pos);
            if (f == std::string::npos) {
                pieces.push_back(s.substr(pos));
                break;
            }
            pieces.push_back(s.substr(pos, f - pos));
            pos = f + sep.size();
        }
    } else {
        size_t end = s.size();
        while (true) {
            size_t f = (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) >= maxsplit) || end < sep.size()
                           ? std::string::npos
                           : s.rfind(sep, end - sep.size());
            if (f == std::string::npos) {
                pieces.push_back(s.substr(0, end));
                break;
            }
            pieces.push_back(s.substr(f + sep.size(), end - f - sep.size()));
            end = f;
        }
        std::reverse(pieces.begin(), pieces.end());
    }
    for (auto& p : pieces) parts.emplace_back(std::move(p));
    return parts;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count,
                    size_t max_bytes) {
    auto check_size = [max_bytes](size_t n) {
        if (n > max_bytes)
            throw Error(ErrorKind::kLimit, "replace: result larger than " + std::to_string(max_bytes) + " bytes");
    };
    std::string out;
    if (from.empty()) {
        std::u32string cps = to_code_points(s);
        int64_t n = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
            if (count < 0 || n < count) {
                out += to;
                ++n;
            }
            if (i < cps.size()) out += from_code_points(std::u32string(1, cps[i]));
            check_size(out.size());
        }
        return out;
    }
    size_t pos = 0;
    int64_t n = 0;
    while (count < 0 || n < count) {
        size_t f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        check_size(out.size());
        pos = f + from.size();
        ++n;
    }
    out.append(s, pos, std::string::npos);
    return out;
}

std::vector<std::string> splitlines(const std::string& s) {
    std::u32string cps = to_code_points(s);
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i < cps.size(); ++i) {
        char32_t c = cps[i];
        bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e ||
                   c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) continue;
        lines.push_back(from_code_points(std::u32string_view(cps).substr(start, i - start)));
        if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < cps.size()) lines.push_back(from_code_points(std::u32string_view(cps).substr(start)));
    return lines;
}

bool starts_or_ends(const std::string& s, const Value& what, bool ends) {
    auto one = [&](const std::string& p) {
        if (p.size() > s.size()) return false;
        return ends ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0;
    };
    if (what.is_list() && what.as_list().form == ListForm::kTuple) {
        for (const Value& p : what.as_list().items) {
            if (one(as_str_arg(p, "prefix"))) return true;
        }
        return false;
    }
    return one(as_str_arg(what, ends ? "endswith argument" : "startswith argument"));
}

// str.format with automatic ({}), positional ({0}) and keyword ({name}) fields; no format specs.
std::string str_format(const std::string& fmt, const CallArgs& a) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (c == '{') {
            size_t close = fmt.find('}', i);
            if (close == std::string::npos) throw_runtime("Single '{' encountered in format string");
            std::string field = fmt.substr(i + 1, close - i - 1);
            if (field.find_first_of(":!") != std::string::npos) throw_runtime("format specs are not supported");
            const Value* v = nullptr;
            if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
                size_t idx = field.empty() ? auto_index++ : std::stoul(field);
                if (idx >= a.args.size()) throw_runtime("Replacement index " + std::to_string(idx) + " out of range");
                v = &a.args[idx];
            } else {
                for (const auto& kw : a.kwargs) {
                    if (kw.first == field) v = &kw.second;
                }
                if (!v) throw_runtime("KeyError: '" + field + "'");
            }
            out += to_str(*v);
            i = close;
        } else if (c == '}') {
            throw_runtime("Single '}' encountered in format string");
        } else {
            out += c;
        }
    }
    return out;
}

size_t str_length(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

bool str_predicate(const std::string& s, const std::string& name) {
    std::u32string cps = to_code_points(s);
    if (cps.empty()) return false;
    if (name == "islower" || name == "isupper") {
        bool any = false;
        for (char32_t c : cps) {
            if (!is_cased(c)) continue;
            any = true;
            if (name == "islower" ? lower_cp(c) != c : upper_cp(c) != c) return false;
        }
        return any;
    }
    for (char32_t c : cps) {
        auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
        bool ok = name == "isdigit"   ? cat == UTF8PROC_CATEGORY_ND
                  : name == "isalpha" ? (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO)
                  : name == "isalnum" ? is_alnum_cp(c)
                                      : python_isspace(c);
        if (!ok) return false;
    }
    return true;
}

int64_t word_count(const std::string& s) {
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : to_code_points(s)) {
        bool w = c == '_' || is_alnum_cp(c);
        if (w && !in_word) ++n;
        in_word = w;
    }
    return n;
}

std::string indent(const std::string& text, const std::string& ind, bool first, bool blank) {
    std::vector<std::string> lines = splitlines(text + "\n");
    std::string rv;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            rv += '\n';
            if (blank || !lines[i].empty()) rv += ind;
        }
        rv += lines[i];
    }
    return first ? ind + rv : rv;
}

std::string truncate(const std::string& s, int64_t length, bool killwords, const std::string& end, int64_t leeway) {
    std::u32string cps = to_code_points(s);
    auto end_len = static_cast<int64_t>(to_code_points(end).size());
    if (length < end_len)
        throw_runtime("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
    if (leeway < 0) throw_runtime("expected leeway >= 0, got " + std::to_string(leeway));
    if (static_cast<int64_t>(cps.size()) <= length + leeway) return s;
    std::u32string head = cps.substr(0, static_cast<size_t>(length - end_len));
    if (killwords) return from_code_points(head) + end;
    size_t space = head.rfind(U' ');
    if (space != std::u32string::npos) head.resize(space);
    return from_code_points(head) + end;
}

std::string center(const std::string& s, int64_t width) {
    auto len = static_cast<int64_t>(str_length(s));
    if (width <= len) return s;
    int64_t marg = width - len;
    int64_t left = marg / 2 + (marg & width & 1);
    return std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' ');
}

}  // namespace sinan::text::jinja
