#include "text/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "text/jinja_strings.h"

namespace sinan::text::jinja {
namespace {

// Binds positional and keyword arguments of a builtin to parameter names, Python-style.
class Params {
  public:
    Params(const std::string& fn, const CallArgs& a, std::initializer_list<const char*> names)
        : fn_(fn), a_(a), names_(names) {
        if (a.args.size() > names_.size()) {
            throw_runtime(fn + "() takes at most " + std::to_string(names_.size()) + " arguments (" +
                          std::to_string(a.args.size()) + " given)");
        }
        for (const auto& kw : a.kwargs) {
            if (std::find_if(names_.begin(), names_.end(), [&](const char* n) { return kw.first == n; }) ==
                names_.end()) {
                throw_runtime(fn + "() got an unexpected keyword argument '" + kw.first + "'");
            }
        }
    }
    bool has(size_t i) const { return lookup(i) != nullptr; }
    Value get(size_t i, Value def = Value()) const {
        const Value* v = lookup(i);
        return v ? *v : def;
    }
    Value required(size_t i) const {
        const Value* v = lookup(i);
        if (!v) throw_runtime(fn_ + "() missing required argument '" + names_[i] + "'");
        return *v;
    }

  private:
    const Value* lookup(size_t i) const {
        if (i < a_.args.size()) return &a_.args[i];
        for (const auto& kw : a_.kwargs) {
            if (kw.first == names_[i]) return &kw.second;
        }
        return nullptr;
    }
    std::string fn_;
    const CallArgs& a_;
    std::vector<const char*> names_;
};

int64_t as_index(const Value& v, const char* what) {
    if (v.kind() != Value::Kind::kInt && v.kind() != Value::Kind::kBool) {
        throw_runtime(std::string(what) + " must be an integer, not " + type_name(v));
    }
    return v.as_int();
}

void check_size(size_t bytes, const RenderLimits& limits) {
    if (bytes > limits.max_output_bytes) {
        throw Error(ErrorKind::kLimit,
                    "value larger than the output limit of " + std::to_string(limits.max_output_bytes) + " bytes");
    }
}

// Memory a list's items hold (strings are copied with the list); nested containers count once.
size_t approx_bytes(const List& l) {
    size_t n = 0;
    for (const Value& v : l.items) n += sizeof(Value) + (v.is_string() ? v.as_string().size() : 0);
    return n;
}

// ---- numbers ----

Value python_round(double v, int64_t digits) {
    if (!std::isfinite(v)) return Value(v);
    if (digits == 0) return Value(std::nearbyint(v));
    char buf[512];
    if (digits > 0 && digits < 300) {
        std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), v);
        return Value(std::strtod(buf, nullptr));
    }
    double scale = std::pow(10.0, static_cast<double>(-digits));
    return Value(std::nearbyint(v / scale) * scale);
}

bool parse_int(const std::string& text, int64_t base, int64_t& out) {
    std::string s = strip(text, Value(), true, true);
    std::string cleaned;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_' && i > 0 && i + 1 < s.size()) continue;
        cleaned += s[i];
    }
    if (cleaned.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(cleaned.c_str(), &end, static_cast<int>(base));
    if (errno != 0 || *end != '\0') return false;
    out = v;
    return true;
}

bool parse_float(const std::string& text, double& out) {
    std::string s = strip(text, Value(), true, true);
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return *end == '\0';
}

// ---- sequences ----

// Follows a dotted attribute path ("a.b" or "0") as Jinja2's make_attrgetter does.
Value attr_path(const Value& v, const std::string& path) {
    Value cur = v;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        int64_t idx = 0;
        if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
            parse_int(part, 10, idx)) {
            cur = get_item(cur, Value(idx));
        } else {
            cur = get_item(cur, Value(part));
        }
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

Value sorted_copy(std::vector<Value> items, bool reverse, bool case_sensitive, const Value& attribute) {
    auto key = [&](const Value& v) {
        Value k = attribute.is_undefined() || attribute.is_none() ? v : attr_path(v, to_str(attribute));
        if (!case_sensitive && k.is_string()) return Value(lower(k.as_string()));
        return k;
    };
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& v : items) keyed.emplace_back(key(v), std::move(v));
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        return reverse ? compare(b.first, a.first) < 0 : compare(a.first, b.first) < 0;
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return Value::list(std::move(out));
}

Value list_of(std::vector<Value> items, ListForm form) { return Value::list(std::move(items), form); }

// select/reject/selectattr/rejectattr share this: keep items whose test result == `keep`.
Value select_items(const Value& seq, CallArgs& a, bool keep, bool by_attr) {
    size_t first_arg = by_attr ? 1 : 0;
    std::string attr;
    if (by_attr) {
        if (a.args.empty()) throw_runtime("selectattr/rejectattr need an attribute name");
        attr = to_str(a.args[0]);
    }
    std::string test;
    CallArgs test_args;
    if (a.args.size() > first_arg) {
        test = to_str(a.args[first_arg]);
        test_args.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(first_arg) + 1, a.args.end());
    }
    test_args.kwargs = a.kwargs;
    std::vector<Value> out;
    for (const Value& item : iterate(seq)) {
        Value v = by_attr ? attr_path(item, attr) : item;
        bool r = test.empty() ? truthy(v) : apply_test(test, v, test_args);
        if (r == keep) out.push_back(item);
    }
    return list_of(std::move(out), ListForm::kGenerator);
}

Value map_items(const Value& seq, CallArgs& a, const RenderLimits& limits) {
    std::vector<Value> out;
    const Value* attribute = nullptr;
    const Value* def = nullptr;
    for (const auto& kw : a.kwargs) {
        if (kw.first == "attribute") attribute = &kw.second;
        if (kw.first == "default") def = &kw.second;
    }
    if (attribute) {
        for (const Value& item : iterate(seq)) {
            Value v = attr_path(item, to_str(*attribute));
            out.push_back(v.is_undefined() && def ? *def : v);
        }
        return list_of(std::move(out), ListForm::kGenerator);
    }
    if (a.args.empty()) throw_runtime("map() needs a filter name or attribute=");
    std::string filter = to_str(a.args[0]);
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    for (const Value& item : iterate(seq)) {
        CallArgs copy = rest;
        out.push_back(apply_filter(filter, item, copy, limits));
    }
    return list_of(std::move(out), ListForm::kGenerator);
}

Value min_max(const Value& seq, CallArgs& a, bool want_max) {
    Params p(want_max ? "max" : "min", a, {"case_sensitive", "attribute"});
    bool cs = truthy(p.get(0, Value(false)));
    Value attribute = p.get(1);
    std::vector<Value> items = iterate(seq);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    auto key = [&](const Value& v) {
        Value k = attribute.is_undefined() || attribute.is_none() ? v : attr_path(v, to_str(attribute));
        return !cs && k.is_string() ? Value(lower(k.as_string())) : k;
    };
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        int c = compare(key(items[i]), key(items[best]));
        if (want_max ? c > 0 : c < 0) best = i;
    }
    return items[best];
}

Value dict_items(const Dict& d) {
    std::vector<Value> out;
    for (const auto& [k, v] : d.entries) out.push_back(Value::list({k, v}, ListForm::kTuple));
    return Value::list(std::move(out));
}

Value first_item(const Value& v) {
    if (v.is_string()) {
        std::u32string cps = to_code_points(v.as_string());
        return cps.empty() ? Value::undefined("No first item, sequence was empty.")
                           : Value(from_code_points(cps.substr(0, 1)));
    }
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value last_item(const Value& v) {
    if (v.is_list() && v.as_list().form == ListForm::kGenerator) throw_runtime("'generator' object is not reversible");
    if (v.is_string()) {
        std::u32string cps = to_code_points(v.as_string());
        return cps.empty() ? Value::undefined("No last item, sequence was empty.")
                           : Value(from_code_points(cps.substr(cps.size() - 1)));
    }
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value length_of(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return Value(0);
        case Value::Kind::kString:
            return Value(static_cast<int64_t>(str_length(v.as_string())));
        case Value::Kind::kList:
            if (v.as_list().form == ListForm::kGenerator) throw_runtime("object of type 'generator' has no len()");
            return Value(static_cast<int64_t>(v.as_list().items.size()));
        case Value::Kind::kDict:
            return Value(static_cast<int64_t>(v.as_dict().entries.size()));
        default:
            throw_runtime("object of type '" + type_name(v) + "' has no len()");
    }
}

Value tojson(const Value& v, CallArgs& a) {
    Params p("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
    if (truthy(p.get(0, Value(false)))) throw_runtime("tojson(ensure_ascii=True) is not supported");
    JsonStyle style;
    Value ind = p.get(1, Value::none());
    if (ind.is_string()) {
        style.indent_text = ind.as_string();
        if (style.indent_text.empty()) style.indent = 0;
    } else if (!ind.is_none() && !ind.is_undefined()) {
        style.indent = static_cast<int>(std::clamp<int64_t>(as_index(ind, "indent"), 0, 64));
    }
    Value seps = p.get(2, Value::none());
    if (seps.is_list() && seps.as_list().items.size() == 2) {
        style.item_separator = as_str_arg(seps.as_list().items[0], "separator");
        style.key_separator = as_str_arg(seps.as_list().items[1], "separator");
        if (style.item_separator.empty() || style.key_separator.empty()) {
            throw_runtime("empty tojson separators are not supported");
        }
    }
    style.sort_keys = truthy(p.get(3, Value(false)));
    return Value(to_json(v, style));
}

Value string_method(const std::string& s, const std::string& name);

}  // namespace

std::vector<Value> iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return {};
        case Value::Kind::kList:
            return v.as_list().items;
        case Value::Kind::kDict: {
            std::vector<Value> keys;
            for (const auto& kv : v.as_dict().entries) keys.push_back(kv.first);
            return keys;
        }
        case Value::Kind::kString: {
            std::vector<Value> chars;
            for (char32_t c : to_code_points(v.as_string())) chars.emplace_back(from_code_points(std::u32string(1, c)));
            return chars;
        }
        default:
            throw_runtime("'" + type_name(v) + "' object is not iterable");
    }
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::kUndefined:
            return false;
        case Value::Kind::kString:
            if (!item.is_string()) {
                require_defined(item);
                throw_runtime("'in <string>' requires string as left operand, not " + type_name(item));
            }
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::kList:
            for (const Value& v : container.as_list().items) {
                if (equals(v, item)) return true;
            }
            return false;
        case Value::Kind::kDict:
            return container.as_dict().find(item) != nullptr;
        default:
            throw_runtime("argument of type '" + type_name(container) + "' is not iterable");
    }
}

Value binary_op(const std::string& op, const Value& a, const Value& b, const RenderLimits& limits) {
    if (op == "~") {
        std::string s = to_str(a) + to_str(b);
        check_size(s.size(), limits);
        return Value(std::move(s));
    }
    require_defined(a);
    require_defined(b);
    bool nums = a.is_number() && b.is_number();
    bool floats = nums && (a.kind() == Value::Kind::kFloat || b.kind() == Value::Kind::kFloat);
    auto unsupported = [&]() {
        throw_runtime("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
    };
    if (op == "+") {
        if (nums) {
            if (floats) return Value(a.as_float() + b.as_float());
            int64_t r;
            if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) throw_runtime("integer overflow");
            return Value(r);
        }
        if (a.is_string() && b.is_string()) {
            check_size(a.as_string().size() + b.as_string().size(), limits);
            return Value(a.as_string() + b.as_string());
        }
        if (a.is_list() && b.is_list() && a.as_list().form == b.as_list().form &&
            a.as_list().form != ListForm::kGenerator) {
            std::vector<Value> items = a.as_list().items;
            check_size(approx_bytes(a.as_list()) + approx_bytes(b.as_list()), limits);
            items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
            return Value::list(std::move(items), a.as_list().form);
        }
        if (a.is_string()) throw_runtime("can only concatenate str (not \"" + type_name(b) + "\") to str");
        if (a.is_list())
            throw_runtime("can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " +
                          type_name(a));
        unsupported();
    }
    if (op == "*") {
        if (nums) {
            if (floats) return Value(a.as_float() * b.as_float());
            int64_t r;
            if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) throw_runtime("integer overflow");
            return Value(r);
        }
        const Value* seq = a.is_number() ? &b : &a;
        const Value* count = a.is_number() ? &a : &b;
        if (count->kind() == Value::Kind::kFloat || !count->is_number()) unsupported();
        int64_t n = std::max<int64_t>(0, count->as_int());
        if (seq->is_string()) {
            check_size(seq->as_string().size() * static_cast<size_t>(std::min<int64_t>(n, INT32_MAX)), limits);
            std::string out;
            for (int64_t i = 0; i < n; ++i) out += seq->as_string();
            return Value(std::move(out));
        }
        if (seq->is_list() && seq->as_list().form != ListForm::kGenerator) {
            check_size(approx_bytes(seq->as_list()) * static_cast<size_t>(std::min<int64_t>(n, INT32_MAX)), limits);
            std::vector<Value> out;
            for (int64_t i = 0; i < n; ++i)
                out.insert(out.end(), seq->as_list().items.begin(), seq->as_list().items.end());
            return Value::list(std::move(out), seq->as_list().form);
        }
        unsupported();
    }
    if (!nums) {
        if (op == "%" && a.is_string()) throw_runtime("printf-style string formatting (%) is not supported");
        unsupported();
    }
    if (op == "-") {
        if (floats) return Value(a.as_float() - b.as_float());
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) throw_runtime("integer overflow");
        return Value(r);
    }
    if (op == "/") {
        if (b.as_float() == 0.0) throw_runtime(floats ? "float division by zero" : "division by zero");
        return Value(a.as_float() / b.as_float());
    }
    if (op == "//" || op == "%") {
        if (floats) {
            double x = a.as_float(), y = b.as_float();
            if (y == 0.0) throw_runtime(op == "%" ? "float modulo" : "float floor division by zero");
            // CPython's float_divmod.
            double m = std::fmod(x, y);
            double div = (x - m) / y;
            if (m != 0 && ((y < 0) != (m < 0))) {
                m += y;
                div -= 1.0;
            }
            if (op == "%") return Value(m != 0 ? m : std::copysign(0.0, y));
            double floordiv = div != 0 ? std::floor(div) : std::copysign(0.0, x / y);
            if (div != 0 && div - floordiv > 0.5) floordiv += 1.0;
            return Value(floordiv);
        }
        int64_t x = a.as_int(), y = b.as_int();
        if (y == 0)
            throw_runtime(op == "%" ? "integer division or modulo by zero" : "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) throw_runtime("integer overflow");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
            m += y;
            --q;
        }
        return op == "%" ? Value(m) : Value(q);
    }
    if (op == "**") {
        if (!floats && b.as_int() >= 0) {
            int64_t base = a.as_int(), r = 1;
            for (int64_t e = b.as_int(); e > 0; --e) {
                if (__builtin_mul_overflow(r, base, &r)) throw_runtime("integer overflow");
                if (r == 0 || r == 1) break;
            }
            return Value(r);
        }
        if (a.as_float() == 0.0 && b.as_float() < 0) throw_runtime("0.0 cannot be raised to a negative power");
        return Value(std::pow(a.as_float(), b.as_float()));
    }
    throw_runtime("unsupported operator '" + op + "'");
}

Value get_slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
    require_defined(obj);
    auto opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
        if (v.is_undefined() || v.is_none()) return std::nullopt;
        return as_index(v, what);
    };
    std::optional<int64_t> start = opt(start_v, "slice index"), stop = opt(stop_v, "slice index"),
                           step_o = opt(step_v, "slice step");
    int64_t step = step_o.value_or(1);
    if (step == 0) throw_runtime("slice step cannot be zero");
    auto pick = [&](int64_t len, auto&& take) {
        auto norm = [&](std::optional<int64_t> v, int64_t def) {
            if (!v) return def;
            int64_t x = *v < 0 ? *v + len : *v;
            if (step > 0) return std::clamp<int64_t>(x, 0, len);
            return std::clamp<int64_t>(x, -1, len - 1);
        };
        int64_t b = norm(start, step > 0 ? 0 : len - 1);
        int64_t e = norm(stop, step > 0 ? len : -1);
        for (int64_t i = b; step > 0 ? i < e : i > e; i += step) take(static_cast<size_t>(i));
    };
    if (obj.is_string()) {
        std::u32string cps = to_code_points(obj.as_string());
        std::u32string out;
        pick(static_cast<int64_t>(cps.size()), [&](size_t i) { out += cps[i]; });
        return Value(from_code_points(out));
    }
    if (obj.is_list() && obj.as_list().form != ListForm::kGenerator) {
        const auto& items = obj.as_list().items;
        std::vector<Value> out;
        pick(static_cast<int64_t>(items.size()), [&](size_t i) { out.push_back(items[i]); });
        return Value::list(std::move(out), obj.as_list().form);
    }
    throw_runtime("'" + type_name(obj) + "' object is not subscriptable");
}

namespace {

Value bound(const std::string& name, std::function<Value(CallArgs&)> f) { return Value::function(name, std::move(f)); }

Value string_method(const std::string& s, const std::string& name) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        return bound(name, [s, name](CallArgs& a) {
            Params p(name, a, {"chars"});
            return Value(strip(s, p.get(0), name != "rstrip", name != "lstrip"));
        });
    }
    if (name == "split" || name == "rsplit") {
        return bound(name, [s, name](CallArgs& a) {
            Params p(name, a, {"sep", "maxsplit"});
            return Value::list(split(s, p.get(0), as_index(p.get(1, Value(-1)), "maxsplit"), name == "rsplit"));
        });
    }
    if (name == "splitlines") {
        return bound(name, [s](CallArgs&) {
            std::vector<Value> out;
            for (auto& l : splitlines(s)) out.emplace_back(std::move(l));
            return Value::list(std::move(out));
        });
    }
    if (name == "startswith" || name == "endswith") {
        return bound(name, [s, name](CallArgs& a) {
            Params p(name, a, {"prefix"});
            return Value(starts_or_ends(s, p.required(0), name == "endswith"));
        });
    }
    if (name == "replace") {
        return bound(name, [s](CallArgs& a) {
            Params p("replace", a, {"old", "new", "count"});
            return Value(replace(s, as_str_arg(p.required(0), "old"), as_str_arg(p.required(1), "new"),
                                 as_index(p.get(2, Value(-1)), "count"), RenderLimits{}.max_output_bytes));
        });
    }
    if (name == "lower") return bound(name, [s](CallArgs&) { return Value(lower(s)); });
    if (name == "upper") return bound(name, [s](CallArgs&) { return Value(upper(s)); });
    if (name == "title") return bound(name, [s](CallArgs&) { return Value(str_title(s)); });
    if (name == "capitalize") return bound(name, [s](CallArgs&) { return Value(capitalize(s)); });
    if (name == "find" || name == "rfind" || name == "count" || name == "index") {
        return bound(name, [s, name](CallArgs& a) {
            Params p(name, a, {"sub"});
            const std::string sub = as_str_arg(p.required(0), "substring");
            if (name == "count") {
                if (sub.empty()) return Value(static_cast<int64_t>(str_length(s) + 1));
                int64_t n = 0;
                for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
                return Value(n);
            }
            size_t pos = name == "rfind" ? s.rfind(sub) : s.find(sub);
            if (pos == std::string::npos) {
                if (name == "index") throw_runtime("substring not found");
                return Value(-1);
            }
            return Value(static_cast<int64_t>(str_length(s.substr(0, pos))));
        });
    }
    if (name == "join") {
        return bound(name, [s](CallArgs& a) {
            Params p("join", a, {"iterable"});
            std::string out;
            bool first = true;
            for (const Value& v : iterate(p.required(0))) {
                if (!first) out += s;
                first = false;
                out += as_str_arg(v, "sequence item");
            }
            return Value(std::move(out));
        });
    }
    if (name == "format") return bound(name, [s](CallArgs& a) { return Value(str_format(s, a)); });
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
        name == "isupper") {
        return bound(name, [s, name](CallArgs&) { return Value(str_predicate(s, name)); });
    }
    return Value::undefined("'str object' has no attribute '" + name + "'");
}

Value dict_method(const Value& obj, const std::string& name) {
    if (name == "items") return bound(name, [obj](CallArgs&) { return dict_items(obj.as_dict()); });
    if (name == "keys") {
        return bound(name, [obj](CallArgs&) {
            std::vector<Value> keys;
            for (const auto& kv : obj.as_dict().entries) keys.push_back(kv.first);
            return Value::list(std::move(keys));
        });
    }
    if (name == "values") {
        return bound(name, [obj](CallArgs&) {
            std::vector<Value> values;
            for (const auto& kv : obj.as_dict().entries) values.push_back(kv.second);
            return Value::list(std::move(values));
        });
    }
    if (name == "get") {
        return bound(name, [obj](CallArgs& a) {
            Params p("get", a, {"key", "default"});
            const Value* v = obj.as_dict().find(p.required(0));
            return v ? *v : p.get(1, Value::none());
        });
    }
    return Value();
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
    switch (obj.kind()) {
        case Value::Kind::kUndefined:
            require_defined(obj);
            break;
        case Value::Kind::kString:
            return string_method(obj.as_string(), name);
        case Value::Kind::kDict: {
            Value m = dict_method(obj, name);
            if (m.kind() == Value::Kind::kFunction) return m;
            const Value* v = obj.as_dict().find(std::string_view(name));
            if (v) return *v;
            return Value::undefined("'dict object' has no attribute '" + name + "'");
        }
        case Value::Kind::kNamespace: {
            const Value* v = obj.as_dict().find(std::string_view(name));
            if (v) return *v;
            break;
        }
        case Value::Kind::kList:
            if (obj.as_list().form != ListForm::kGenerator && (name == "count" || name == "index")) {
                return bound(name, [obj, name](CallArgs& a) {
                    Params p(name, a, {"value"});
                    Value x = p.required(0);
                    const auto& items = obj.as_list().items;
                    int64_t n = 0;
                    for (size_t i = 0; i < items.size(); ++i) {
                        if (!equals(items[i], x)) continue;
                        if (name == "index") return Value(static_cast<int64_t>(i));
                        ++n;
                    }
                    if (name == "index") throw_runtime(repr(x) + " is not in list");
                    return Value(n);
                });
            }
            break;
        default:
            break;
    }
    return Value::undefined("'" + (obj.is_none() ? std::string("None") : type_name(obj) + " object") +
                            "' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
    switch (obj.kind()) {
        case Value::Kind::kUndefined:
            require_defined(obj);
            break;
        case Value::Kind::kDict: {
            const Value* v = obj.as_dict().find(key);
            if (v) return *v;
            break;
        }
        case Value::Kind::kString:
        case Value::Kind::kList:
            if (key.kind() == Value::Kind::kInt || key.kind() == Value::Kind::kBool) {
                if (obj.is_list() && obj.as_list().form == ListForm::kGenerator) break;
                int64_t i = key.as_int();
                if (obj.is_string()) {
                    std::u32string cps = to_code_points(obj.as_string());
                    auto n = static_cast<int64_t>(cps.size());
                    if (i < 0) i += n;
                    if (i >= 0 && i < n) return Value(from_code_points(cps.substr(static_cast<size_t>(i), 1)));
                    return Value::undefined("string index out of range");
                }
                const auto& items = obj.as_list().items;
                auto n = static_cast<int64_t>(items.size());
                if (i < 0) i += n;
                if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
                return Value::undefined("'" + type_name(obj) + " object' has no element " +
                                        std::to_string(key.as_int()));
            }
            break;
        default:
            break;
    }
    if (key.is_string()) return get_attribute(obj, key.as_string());
    return Value::undefined("'" + type_name(obj) + " object' has no element " + repr(key));
}

Value make_range(CallArgs& a, const RenderLimits& limits) {
    if (!a.kwargs.empty() || a.args.empty() || a.args.size() > 3)
        throw_runtime("range expected 1 to 3 integer arguments");
    int64_t start = 0, stop, step = 1;
    if (a.args.size() == 1) {
        stop = as_index(a.args[0], "range argument");
    } else {
        start = as_index(a.args[0], "range argument");
        stop = as_index(a.args[1], "range argument");
        if (a.args.size() == 3) step = as_index(a.args[2], "range argument");
    }
    if (step == 0) throw_runtime("range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        out.emplace_back(i);
        if (static_cast<int64_t>(out.size()) > limits.max_loop_iterations) {
            throw Error(ErrorKind::kLimit, "range() longer than the loop iteration limit");
        }
    }
    return Value::list(std::move(out));
}

Value make_namespace(CallArgs& a) {
    Value ns = Value::new_namespace();
    for (const Value& init : a.args) {
        if (!init.is_dict()) throw_runtime("namespace() positional argument must be a dict");
        for (const auto& kv : init.as_dict().entries) ns.as_dict().set(kv.first, kv.second);
    }
    for (const auto& kw : a.kwargs) ns.as_dict().set(Value(kw.first), kw.second);
    return ns;
}

Value make_dict(CallArgs& a) {
    auto d = std::make_shared<Dict>();
    for (const Value& init : a.args) {
        if (!init.is_dict()) throw_runtime("dict() positional argument must be a dict");
        for (const auto& kv : init.as_dict().entries) d->set(kv.first, kv.second);
    }
    for (const auto& kw : a.kwargs) d->set(Value(kw.first), kw.second);
    return Value::dict(std::move(d));
}

bool is_known_filter(const std::string& name) {
    static const char* const kFilters[] = {
        "abs",     "attr",  "capitalize", "center",      "count",      "d",        "default", "dictsort",   "e",
        "escape",  "first", "float",      "forceescape", "indent",     "int",      "items",   "join",       "last",
        "length",  "list",  "lower",      "map",         "max",        "min",      "reject",  "rejectattr", "replace",
        "reverse", "round", "safe",       "select",      "selectattr", "sort",     "string",  "sum",        "title",
        "tojson",  "trim",  "truncate",   "unique",      "upper",      "wordcount"};
    return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool is_known_test(const std::string& name) {
    static const char* const kTests[] = {
        "defined",     "undefined", "none",        "boolean",  "true",     "false",    "integer", "float",
        "number",      "string",    "mapping",     "iterable", "sequence", "callable", "sameas",  "escaped",
        "odd",         "even",      "divisibleby", "lower",    "upper",    "eq",       "equalto", "==",
        "ne",          "!=",        "lt",          "lessthan", "<",        "le",       "<=",      "gt",
        "greaterthan", ">",         "ge",          ">=",       "in"};
    return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

Value apply_filter(const std::string& name, const Value& v, CallArgs& a, const RenderLimits& limits) {
    auto no_args = [&]() { Params p(name, a, {}); };
    if (name == "default" || name == "d") {
        Params p(name, a, {"default_value", "boolean"});
        bool boolean = truthy(p.get(1, Value(false)));
        if (v.is_undefined() || (boolean && !truthy(v))) return p.get(0, Value(""));
        return v;
    }
    if (name == "safe") {
        no_args();
        return v;
    }
    if (name == "string") {
        no_args();
        return Value(to_str(v));
    }
    if (name == "tojson") return tojson(v, a);
    if (name == "length" || name == "count") {
        no_args();
        return length_of(v);
    }
    if (name == "list") {
        no_args();
        return Value::list(iterate(v));
    }
    if (name == "first") {
        no_args();
        return first_item(v);
    }
    if (name == "last") {
        no_args();
        return last_item(v);
    }
    if (name == "items") {
        no_args();
        if (v.is_undefined()) return Value::list({}, ListForm::kGenerator);
        if (!v.is_dict()) throw_runtime("items filter needs a mapping, got " + type_name(v));
        Value items = dict_items(v.as_dict());
        return Value::list(items.as_list().items, ListForm::kGenerator);
    }
    if (name == "map") return map_items(v, a, limits);
    if (name == "select" || name == "reject") return select_items(v, a, name == "select", false);
    if (name == "selectattr" || name == "rejectattr") return select_items(v, a, name == "selectattr", true);
    if (name == "join") {
        Params p("join", a, {"d", "attribute"});
        std::string sep = to_str(p.get(0, Value("")));
        Value attribute = p.get(1);
        std::string out;
        bool first = true;
        for (const Value& item : iterate(v)) {
            if (!first) out += sep;
            first = false;
            out += to_str(attribute.is_undefined() || attribute.is_none() ? item : attr_path(item, to_str(attribute)));
            check_size(out.size(), limits);
        }
        return Value(std::move(out));
    }
    if (name == "sort") {
        Params p("sort", a, {"reverse", "case_sensitive", "attribute"});
        return sorted_copy(iterate(v), truthy(p.get(0, Value(false))), truthy(p.get(1, Value(false))), p.get(2));
    }
    if (name == "dictsort") {
        Params p("dictsort", a, {"case_sensitive", "by", "reverse"});
        if (!v.is_dict()) throw_runtime("You can only sort by either \"key\" or \"value\" of a mapping");
        std::string by = to_str(p.get(1, Value("key")));
        if (by != "key" && by != "value") throw_runtime("You can only sort by either \"key\" or \"value\"");
        Value items = dict_items(v.as_dict());
        return sorted_copy(items.as_list().items, truthy(p.get(2, Value(false))), truthy(p.get(0, Value(false))),
                           Value(by == "key" ? "0" : "1"));
    }
    if (name == "unique") {
        Params p("unique", a, {"case_sensitive", "attribute"});
        bool cs = truthy(p.get(0, Value(false)));
        Value attribute = p.get(1);
        std::vector<Value> seen, out;
        for (const Value& item : iterate(v)) {
            Value k = attribute.is_undefined() || attribute.is_none() ? item : attr_path(item, to_str(attribute));
            if (!cs && k.is_string()) k = Value(lower(k.as_string()));
            if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
                seen.push_back(k);
                out.push_back(item);
            }
        }
        return Value::list(std::move(out), ListForm::kGenerator);
    }
    if (name == "reverse") {
        no_args();
        if (v.is_string()) {
            std::u32string cps = to_code_points(v.as_string());
            std::reverse(cps.begin(), cps.end());
            return Value(from_code_points(cps));
        }
        if (v.is_list() && v.as_list().form == ListForm::kGenerator)
            throw_runtime("argument to reversed() must be a sequence");
        std::vector<Value> items = iterate(v);
        std::reverse(items.begin(), items.end());
        return Value::list(std::move(items), ListForm::kGenerator);
    }
    if (name == "min" || name == "max") return min_max(v, a, name == "max");
    if (name == "sum") {
        Params p("sum", a, {"attribute", "start"});
        Value attribute = p.get(0);
        Value total = p.get(1, Value(0));
        for (const Value& item : iterate(v)) {
            total = binary_op(
                "+", total, attribute.is_undefined() || attribute.is_none() ? item : attr_path(item, to_str(attribute)),
                limits);
        }
        return total;
    }
    if (name == "attr") {
        Params p("attr", a, {"name"});
        std::string attr = to_str(p.required(0));
        if (v.is_dict()) {  // Python getattr only: methods, never keys
            Value m = dict_method(v, attr);
            return m.kind() == Value::Kind::kFunction
                       ? m
                       : Value::undefined("'dict object' has no attribute '" + attr + "'");
        }
        return get_attribute(v, attr);
    }
    if (name == "abs") {
        no_args();
        if (v.kind() == Value::Kind::kFloat) return Value(std::fabs(v.as_float()));
        if (v.is_number()) {
            if (v.as_int() == INT64_MIN) throw_runtime("integer overflow");
            return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
        }
        require_defined(v);
        throw_runtime("bad operand type for abs(): '" + type_name(v) + "'");
    }
    if (name == "int") {
        Params p("int", a, {"default", "base"});
        Value def = p.get(0, Value(0));
        int64_t base = as_index(p.get(1, Value(10)), "base");
        if (v.kind() == Value::Kind::kFloat) {
            if (!std::isfinite(v.as_float())) return def;
            return Value(static_cast<int64_t>(std::trunc(v.as_float())));
        }
        if (v.is_number()) return Value(v.as_int());
        if (v.is_string()) {
            int64_t out;
            if (parse_int(v.as_string(), base, out)) return Value(out);
            double f;
            if (parse_float(v.as_string(), f) && std::isfinite(f)) return Value(static_cast<int64_t>(std::trunc(f)));
        }
        return def;
    }
    if (name == "float") {
        Params p("float", a, {"default"});
        if (v.is_number()) return Value(v.as_float());
        double f;
        if (v.is_string() && parse_float(v.as_string(), f)) return Value(f);
        return p.get(0, Value(0.0));
    }
    if (name == "round") {
        Params p("round", a, {"precision", "method"});
        int64_t precision = as_index(p.get(0, Value(0)), "precision");
        std::string method = to_str(p.get(1, Value("common")));
        if (method != "common" && method != "ceil" && method != "floor") {
            throw_runtime("method must be 'common', 'ceil' or 'floor'");
        }
        require_defined(v);
        if (!v.is_number()) throw_runtime("type " + type_name(v) + " doesn't define __round__ method");
        if (method == "common") {
            if (v.kind() != Value::Kind::kFloat) return Value(v.as_int());
            return python_round(v.as_float(), precision);
        }
        double scale = std::pow(10.0, static_cast<double>(precision));
        double x = v.as_float() * scale;
        return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
    }
    // String filters: Jinja2 converts the input with str() first.
    std::string s = to_str(v);
    if (name == "trim") {
        Params p("trim", a, {"chars"});
        return Value(strip(s, p.get(0), true, true));
    }
    if (name == "lower") {
        no_args();
        return Value(lower(s));
    }
    if (name == "upper") {
        no_args();
        return Value(upper(s));
    }
    if (name == "title") {
        no_args();
        return Value(jinja_title(s));
    }
    if (name == "capitalize") {
        no_args();
        return Value(capitalize(s));
    }
    if (name == "replace") {
        Params p("replace", a, {"old", "new", "count"});
        Value count = p.get(2, Value::none());
        return Value(replace(s, to_str(p.required(0)), to_str(p.required(1)),
                             count.is_none() ? -1 : as_index(count, "count"), limits.max_output_bytes));
    }
    if (name == "escape" || name == "e" || name == "forceescape") {
        no_args();
        return Value(html_escape(s));
    }
    if (name == "wordcount") {
        no_args();
        return Value(word_count(s));
    }
    if (name == "center") {
        Params p("center", a, {"width"});
        return Value(center(s, as_index(p.get(0, Value(80)), "width")));
    }
    if (name == "indent") {
        Params p("indent", a, {"width", "first", "blank"});
        Value width = p.get(0, Value(4));
        std::string prefix =
            width.is_string()
                ? width.as_string()
                : std::string(static_cast<size_t>(std::max<int64_t>(0, as_index(width, "indent width"))), ' ');
        return Value(indent(s, prefix, truthy(p.get(1, Value(false))), truthy(p.get(2, Value(false)))));
    }
    if (name == "truncate") {
        Params p("truncate", a, {"length", "killwords", "end", "leeway"});
        return Value(truncate(s, as_index(p.get(0, Value(255)), "length"), truthy(p.get(1, Value(false))),
                              to_str(p.get(2, Value("..."))), as_index(p.get(3, Value(5)), "leeway")));
    }
    throw_runtime("no filter named '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, CallArgs& a) {
    auto arg = [&]() -> Value {
        if (a.args.empty()) throw_runtime("test '" + name + "' needs an argument");
        return a.args[0];
    };
    using K = Value::Kind;
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "boolean") return v.kind() == K::kBool;
    if (name == "true") return v.kind() == K::kBool && v.as_bool();
    if (name == "false") return v.kind() == K::kBool && !v.as_bool();
    if (name == "integer") return v.kind() == K::kInt;
    if (name == "float") return v.kind() == K::kFloat;
    if (name == "number") return v.is_number();
    if (name == "string") return v.is_string();
    if (name == "mapping") return v.is_dict();
    if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
    if (name == "sequence") {
        return v.is_undefined() || v.is_string() || v.is_dict() ||
               (v.is_list() && v.as_list().form != ListForm::kGenerator);
    }
    if (name == "callable") return v.kind() == K::kFunction;
    if (name == "sameas") {
        Value o = arg();
        if (v.is_none() || v.kind() == K::kBool || v.is_undefined()) return v.kind() == o.kind() && equals(v, o);
        // CPython shares the objects of small integers, so `1 is 1` holds.
        if (v.kind() == K::kInt)
            return o.kind() == K::kInt && v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
        return v.same_object(o);
    }
    if (name == "escaped") return false;
    if (name == "odd" || name == "even") {
        if (!v.is_number() || v.kind() == K::kFloat) {
            require_defined(v);
            throw_runtime("odd/even tests need an integer");
        }
        return (v.as_int() % 2 != 0) == (name == "odd");
    }
    if (name == "divisibleby") {
        Value d = arg();
        if (!v.is_number() || !d.is_number()) throw_runtime("divisibleby needs numbers");
        Value r = binary_op("%", v, d, RenderLimits{});
        return !truthy(r);
    }
    if (name == "lower") return v.is_string() && lower(v.as_string()) == v.as_string();
    if (name == "upper") return v.is_string() && upper(v.as_string()) == v.as_string();
    if (name == "eq" || name == "equalto" || name == "==") return equals(v, arg());
    if (name == "ne" || name == "!=") return !equals(v, arg());
    if (name == "lt" || name == "lessthan" || name == "<") return compare(v, arg()) < 0;
    if (name == "le" || name == "<=") return compare(v, arg()) <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, arg()) > 0;
    if (name == "ge" || name == ">=") return compare(v, arg()) >= 0;
    if (name == "in") return contains(arg(), v);
    throw_runtime("no test named '" + name + "'");
}

}  // namespace sinan::text::jinja
