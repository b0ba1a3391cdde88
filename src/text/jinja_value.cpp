#include "text/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/utf8.h"

namespace sinan::text::jinja {

void throw_runtime(const std::string& message) { throw Error(ErrorKind::kRuntime, message); }

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : entries) {
        if (equals(k, key)) return &v;
    }
    return nullptr;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : entries) {
        if (k.is_string() && k.as_string() == key) return &v;
    }
    return nullptr;
}

void Dict::set(Value key, Value value) {
    for (auto& [k, v] : entries) {
        if (equals(k, key)) {
            v = std::move(value);
            return;
        }
    }
    entries.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string hint) {
    Value v;
    v.s_ = std::move(hint);
    return v;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::kNone;
    return v;
}

Value Value::list(std::vector<Value> items, ListForm form) {
    auto l = std::make_shared<List>();
    l->items = std::move(items);
    l->form = form;
    Value v;
    v.kind_ = Kind::kList;
    v.obj_ = std::move(l);
    return v;
}

Value Value::dict(std::shared_ptr<Dict> dict) {
    Value v;
    v.kind_ = Kind::kDict;
    v.obj_ = std::move(dict);
    return v;
}

namespace {
thread_local NamespaceArena* current_arena = nullptr;
}  // namespace

NamespaceArena::NamespaceArena() : previous_(current_arena) { current_arena = this; }

NamespaceArena::~NamespaceArena() {
    current_arena = previous_;
    for (const auto& weak : made_) {
        if (std::shared_ptr<Dict> ns = weak.lock()) {
            std::vector<std::pair<Value, Value>> entries;
            entries.swap(ns->entries);  // destroyed here, after ns no longer refers to them
        }
    }
}

void NamespaceArena::record(const std::shared_ptr<Dict>& ns) {
    if (made_.size() >= prune_at_) {
        std::erase_if(made_, [](const std::weak_ptr<Dict>& w) { return w.expired(); });
        prune_at_ = std::max<size_t>(1024, made_.size() * 2);
    }
    made_.push_back(ns);
}

NamespaceArena* NamespaceArena::current() { return current_arena; }

Value Value::new_namespace() {
    auto ns = std::make_shared<Dict>();
    if (NamespaceArena* arena = NamespaceArena::current()) arena->record(ns);
    Value v;
    v.kind_ = Kind::kNamespace;
    v.obj_ = std::move(ns);
    return v;
}

Value Value::function(std::string name, std::function<Value(CallArgs&)> call) {
    auto f = std::make_shared<Function>();
    f->name = std::move(name);
    f->call = std::move(call);
    Value v;
    v.kind_ = Kind::kFunction;
    v.obj_ = std::move(f);
    return v;
}

void require_defined(const Value& v) {
    if (v.is_undefined()) throw_runtime(v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
}

bool truthy(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
        case Value::Kind::kNone:
            return false;
        case Value::Kind::kBool:
            return v.as_bool();
        case Value::Kind::kInt:
            return v.as_int() != 0;
        case Value::Kind::kFloat:
            return v.as_float() != 0.0;
        case Value::Kind::kString:
            return !v.as_string().empty();
        case Value::Kind::kList:
            return v.as_list().form == ListForm::kGenerator || !v.as_list().items.empty();
        case Value::Kind::kDict:
            return !v.as_dict().entries.empty();
        case Value::Kind::kNamespace:
        case Value::Kind::kFunction:
            return true;
    }
    return false;
}

std::string type_name(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return "Undefined";
        case Value::Kind::kNone:
            return "NoneType";
        case Value::Kind::kBool:
            return "bool";
        case Value::Kind::kInt:
            return "int";
        case Value::Kind::kFloat:
            return "float";
        case Value::Kind::kString:
            return "str";
        case Value::Kind::kList:
            switch (v.as_list().form) {
                case ListForm::kList:
                    return "list";
                case ListForm::kTuple:
                    return "tuple";
                case ListForm::kGenerator:
                    return "generator";
            }
            return "list";
        case Value::Kind::kDict:
            return "dict";
        case Value::Kind::kNamespace:
            return "Namespace";
        case Value::Kind::kFunction:
            return "function";
    }
    return "object";
}

// Python's float repr: the shortest digits that round-trip, in fixed notation when the decimal
// exponent is in [-4, 16), otherwise d.ddde+XX.
std::string float_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool negative = sci[0] == '-';
    if (negative) sci.erase(0, 1);
    size_t e_pos = sci.find('e');
    std::string digits;
    for (size_t i = 0; i < e_pos; ++i) {
        if (sci[i] != '.') digits += sci[i];
    }
    int exp = std::stoi(sci.substr(e_pos + 1));
    std::string out = negative ? "-" : "";
    if (exp < -4 || exp >= 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char e[16];
        std::snprintf(e, sizeof(e), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        return out + e;
    }
    if (exp < 0) return out + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    size_t int_digits = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_digits) return out + digits + std::string(int_digits - digits.size(), '0') + ".0";
    return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

namespace {

std::string repr_string(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (char32_t c : to_code_points(s)) {
        char buf[16];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == static_cast<char32_t>(quote)) {
            out += '\\';
            out += quote;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad) {
            std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
            out += buf;
        } else if (c == 0x2028 || c == 0x2029) {
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += from_code_points(std::u32string(1, c));
        }
    }
    out += quote;
    return out;
}

std::string repr_at(const Value& v, int depth);

std::string repr_list(const List& l, int depth) {
    if (l.form == ListForm::kGenerator) return "<generator object>";
    std::string out = l.form == ListForm::kTuple ? "(" : "[";
    for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += repr_at(l.items[i], depth + 1);
    }
    if (l.form == ListForm::kTuple && l.items.size() == 1) out += ",";
    out += l.form == ListForm::kTuple ? ")" : "]";
    return out;
}

std::string repr_dict(const Dict& d, int depth) {
    std::string out = "{";
    for (size_t i = 0; i < d.entries.size(); ++i) {
        if (i) out += ", ";
        out += repr_at(d.entries[i].first, depth + 1) + ": " + repr_at(d.entries[i].second, depth + 1);
    }
    return out + "}";
}

}  // namespace

std::string to_str(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return "";
        case Value::Kind::kString:
            return v.as_string();
        default:
            return repr(v);
    }
}

namespace {

// A namespace can hold itself (`set ns.me = ns`): the depth bound turns that into an error.
std::string repr_at(const Value& v, int depth) {
    if (depth > kMaxJsonDepth) throw Error(ErrorKind::kLimit, "value nested too deeply to print");
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return "Undefined";
        case Value::Kind::kNone:
            return "None";
        case Value::Kind::kBool:
            return v.as_bool() ? "True" : "False";
        case Value::Kind::kInt:
            return std::to_string(v.as_int());
        case Value::Kind::kFloat:
            return float_repr(v.as_float());
        case Value::Kind::kString:
            return repr_string(v.as_string());
        case Value::Kind::kList:
            return repr_list(v.as_list(), depth);
        case Value::Kind::kDict:
            return repr_dict(v.as_dict(), depth);
        case Value::Kind::kNamespace:
            return "<Namespace " + repr_dict(v.as_dict(), depth) + ">";
        case Value::Kind::kFunction:
            return "<function " + v.as_function().name + ">";
    }
    return "";
}

}  // namespace

std::string repr(const Value& v) { return repr_at(v, 0); }

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Value::Kind::kFloat || b.kind() == Value::Kind::kFloat) return a.as_float() == b.as_float();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::kUndefined:
        case Value::Kind::kNone:
            return true;
        case Value::Kind::kString:
            return a.as_string() == b.as_string();
        case Value::Kind::kList: {
            const List& x = a.as_list();
            const List& y = b.as_list();
            if (x.form == ListForm::kGenerator || y.form == ListForm::kGenerator) return a.same_object(b);
            if (x.form != y.form || x.items.size() != y.items.size()) return false;
            for (size_t i = 0; i < x.items.size(); ++i) {
                if (!equals(x.items[i], y.items[i])) return false;
            }
            return true;
        }
        case Value::Kind::kDict: {
            const Dict& x = a.as_dict();
            const Dict& y = b.as_dict();
            if (x.entries.size() != y.entries.size()) return false;
            for (const auto& [k, v] : x.entries) {
                const Value* other = y.find(k);
                if (!other || !equals(v, *other)) return false;
            }
            return true;
        }
        default:
            return a.same_object(b);
    }
}

int compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Value::Kind::kFloat || b.kind() == Value::Kind::kFloat) {
            double x = a.as_float(), y = b.as_float();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list() && a.as_list().form == b.as_list().form &&
        a.as_list().form != ListForm::kGenerator) {
        const auto& x = a.as_list().items;
        const auto& y = b.as_list().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return compare(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    require_defined(a);
    require_defined(b);
    throw_runtime("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

namespace {

void json_string(const std::string& s, std::string& out) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

std::string json_float(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
    return float_repr(v);
}

std::string json_key(const Value& k) {
    switch (k.kind()) {
        case Value::Kind::kString:
            return k.as_string();
        case Value::Kind::kInt:
            return std::to_string(k.as_int());
        case Value::Kind::kFloat:
            return json_float(k.as_float());
        case Value::Kind::kBool:
            return k.as_bool() ? "true" : "false";
        case Value::Kind::kNone:
            return "null";
        default:
            throw_runtime("keys must be str, int, float, bool or None, not " + type_name(k));
    }
}

struct JsonWriter {
    const JsonStyle& style;
    std::string item_sep;
    std::string key_sep;
    std::string out;
    int depth = 0;

    void newline(int level) {
        if (style.indent < 0 && style.indent_text.empty()) return;
        out += '\n';
        for (int i = 0; i < level; ++i)
            out += style.indent_text.empty() ? std::string(style.indent, ' ') : style.indent_text;
    }

    void write(const Value& v) {
        if (++depth > kMaxJsonDepth) throw Error(ErrorKind::kLimit, "tojson: nesting too deep");
        switch (v.kind()) {
            case Value::Kind::kNone:
                out += "null";
                break;
            case Value::Kind::kBool:
                out += v.as_bool() ? "true" : "false";
                break;
            case Value::Kind::kInt:
                out += std::to_string(v.as_int());
                break;
            case Value::Kind::kFloat:
                out += json_float(v.as_float());
                break;
            case Value::Kind::kString:
                json_string(v.as_string(), out);
                break;
            case Value::Kind::kList: {
                const List& l = v.as_list();
                if (l.form == ListForm::kGenerator) throw_runtime("Object of type generator is not JSON serializable");
                if (l.items.empty()) {
                    out += "[]";
                    break;
                }
                out += '[';
                for (size_t i = 0; i < l.items.size(); ++i) {
                    if (i) out += item_sep;
                    newline(depth);
                    write(l.items[i]);
                }
                newline(depth - 1);
                out += ']';
                break;
            }
            case Value::Kind::kDict: {
                std::vector<std::pair<std::string, const Value*>> items;
                for (const auto& [k, val] : v.as_dict().entries) items.emplace_back(json_key(k), &val);
                if (style.sort_keys) {
                    std::stable_sort(items.begin(), items.end(),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
                }
                if (items.empty()) {
                    out += "{}";
                    break;
                }
                out += '{';
                for (size_t i = 0; i < items.size(); ++i) {
                    if (i) out += item_sep;
                    newline(depth);
                    json_string(items[i].first, out);
                    out += key_sep;
                    write(*items[i].second);
                }
                newline(depth - 1);
                out += '}';
                break;
            }
            default:
                throw_runtime("Object of type " + type_name(v) + " is not JSON serializable");
        }
        --depth;
    }
};

}  // namespace

std::string to_json(const Value& v, const JsonStyle& style) {
    bool indented = style.indent >= 0 || !style.indent_text.empty();
    JsonWriter w{style, style.item_separator, style.key_separator, {}, 0};
    if (w.item_sep.empty()) w.item_sep = indented ? "," : ", ";
    if (w.key_sep.empty()) w.key_sep = ": ";
    w.write(v);
    return std::move(w.out);
}

namespace {

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
    if (depth > kMaxJsonDepth) throw Error(ErrorKind::kLimit, "JSON input nested deeper than 256 levels");
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null:
            return Value::none();
        case nlohmann::ordered_json::value_t::boolean:
            return Value(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
            return Value(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float:
            return Value(j.get<double>());
        case nlohmann::ordered_json::value_t::string:
            return Value(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            auto d = std::make_shared<Dict>();
            for (const auto& [k, e] : j.items()) d->entries.emplace_back(Value(k), from_json_at(e, depth + 1));
            return Value::dict(std::move(d));
        }
        default:
            throw_runtime("unsupported JSON value (binary)");
    }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

std::u32string to_code_points(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    while (!s.empty()) {
        Utf8Step step = decode_utf8(s);
        if (step.kind == Utf8Step::kOk) {
            out += static_cast<char32_t>(step.cp);
        } else {
            out += U'\uFFFD';
        }
        s.remove_prefix(std::max<size_t>(step.len, 1));
    }
    return out;
}

std::string from_code_points(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) append_utf8(static_cast<uint32_t>(c), &out);
    return out;
}

bool python_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

}  // namespace sinan::text::jinja
