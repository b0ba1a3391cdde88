// Values of the Jinja interpreter behind ChatTemplate (private to src/text). They model the Python
// objects Jinja2 works with, so that printing, truthiness, equality and JSON output match Python:
// None, bool, int, float, str, list/tuple/generator, dict (insertion-ordered), namespace,
// callables, and Jinja2's default Undefined (prints empty, is falsy, fails on attribute access).
//
// Lists, dicts and namespaces are shared by reference (std::shared_ptr), as in Python; a template
// can only mutate namespaces (`set ns.x = ...`), lists and dicts are never changed after creation.
// Not thread-safe: one interpreter run owns its values.
//
// Errors inside the interpreter are thrown as jinja::Error and caught by ChatTemplate's public
// functions; nothing here is called from outside src/text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sinan::text::jinja {

enum class ErrorKind {
    kSyntax,   // the template does not parse
    kRuntime,  // TypeError, UndefinedError, ... while rendering
    kRaised,   // raise_exception(message) in the template
    kLimit,    // output size, loop iterations or recursion depth exceeded
};

class Error : public std::runtime_error {
  public:
    static constexpr size_t kNoOffset = static_cast<size_t>(-1);
    Error(ErrorKind kind, const std::string& message, size_t offset = kNoOffset)
        : std::runtime_error(message), kind(kind), offset(offset) {}
    ErrorKind kind;
    size_t offset;  // byte offset in the template source, kNoOffset until known
};

[[noreturn]] void throw_runtime(const std::string& message);

class Value;

struct CallArgs {
    std::vector<Value> args;
    std::vector<std::pair<std::string, Value>> kwargs;
};

struct Object {
    virtual ~Object() = default;
};

// A list, a tuple (prints with parentheses) or a generator (what Jinja2 filters such as map and
// selectattr return: iterable, always truthy, no len(), not JSON-serialisable).
enum class ListForm { kList, kTuple, kGenerator };

struct List : Object {
    std::vector<Value> items;
    ListForm form = ListForm::kList;
};

// Insertion-ordered mapping; keys compare with Python equality (linear lookup: template dicts are
// small). Also the attribute table of namespaces and loop objects.
struct Dict : Object {
    std::vector<std::pair<Value, Value>> entries;
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value value);
};

struct Function : Object {
    std::string name;
    std::function<Value(CallArgs&)> call;
};

class Value {
  public:
    enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kFunction };

    Value() = default;                                                // undefined
    Value(bool v) : kind_(Kind::kBool), b_(v) {}                      // NOLINT
    Value(int64_t v) : kind_(Kind::kInt), i_(v) {}                    // NOLINT
    Value(int v) : kind_(Kind::kInt), i_(v) {}                        // NOLINT
    Value(double v) : kind_(Kind::kFloat), f_(v) {}                   // NOLINT
    Value(std::string v) : kind_(Kind::kString), s_(std::move(v)) {}  // NOLINT
    Value(const char* v) : kind_(Kind::kString), s_(v) {}             // NOLINT

    static Value undefined(std::string hint);  // hint: the UndefinedError message if it is used
    static Value none();
    static Value list(std::vector<Value> items, ListForm form = ListForm::kList);
    static Value dict(std::shared_ptr<Dict> dict);
    static Value new_namespace();
    static Value function(std::string name, std::function<Value(CallArgs&)> call);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::kUndefined; }
    bool is_none() const { return kind_ == Kind::kNone; }
    bool is_string() const { return kind_ == Kind::kString; }
    bool is_list() const { return kind_ == Kind::kList; }
    bool is_dict() const { return kind_ == Kind::kDict; }
    bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }

    bool as_bool() const { return b_; }
    int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }  // bool is an int in Python
    double as_float() const { return kind_ == Kind::kFloat ? f_ : static_cast<double>(as_int()); }
    const std::string& as_string() const { return s_; }
    const std::string& undefined_hint() const { return s_; }
    List& as_list() const { return *static_cast<List*>(obj_.get()); }
    Dict& as_dict() const { return *static_cast<Dict*>(obj_.get()); }  // dicts and namespaces
    Function& as_function() const { return *static_cast<Function*>(obj_.get()); }
    bool same_object(const Value& other) const { return obj_ && obj_ == other.obj_; }

  private:
    Kind kind_ = Kind::kUndefined;
    bool b_ = false;
    int64_t i_ = 0;
    double f_ = 0;
    std::string s_;  // string value, or the hint of an undefined
    std::shared_ptr<Object> obj_;
};

// Namespaces are the only values a template can change, so the only way to build a reference
// cycle (`set ns.me = ns`), which shared_ptr alone would leak. While an arena is alive on a thread,
// every namespace created on that thread is recorded, and the arena empties them all when it ends.
// One arena per render; values must not outlive it (a render returns only text).
class NamespaceArena {
  public:
    NamespaceArena();
    ~NamespaceArena();
    NamespaceArena(const NamespaceArena&) = delete;
    NamespaceArena& operator=(const NamespaceArena&) = delete;
    void record(const std::shared_ptr<Dict>& ns);
    static NamespaceArena* current();

  private:
    std::vector<std::weak_ptr<Dict>> made_;
    size_t prune_at_ = 1024;  // drop expired entries when made_ reaches this size (one loop object per iteration)
    NamespaceArena* previous_;
};

// Python semantics.
bool truthy(const Value& v);
std::string to_str(const Value& v);  // str(v); undefined -> ""
std::string repr(const Value& v);    // repr(v)
bool equals(const Value& a, const Value& b);
int compare(const Value& a, const Value& b);  // <0, 0, >0; throws a TypeError for unordered types
std::string type_name(const Value& v);        // Python's class name, for error messages
std::string float_repr(double v);
// Throws UndefinedError when v is undefined (for operations Jinja2's Undefined refuses).
void require_defined(const Value& v);

// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...) as HF's tojson.
// indent < 0: no indentation (separators ", " / ": "); otherwise items on their own lines.
struct JsonStyle {
    int indent = -1;
    std::string indent_text;     // used instead of `indent` spaces when not empty
    std::string item_separator;  // empty: Python's default for the indent mode
    std::string key_separator;
    bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonStyle& style);

// JSON input (messages, tools) to values; keeps object key order. Throws for nesting deeper than
// kMaxJsonDepth.
constexpr int kMaxJsonDepth = 256;
Value from_json(const nlohmann::ordered_json& j);

// UTF-8 <-> code points (on top of text/utf8.h); invalid bytes decode to U+FFFD.
std::u32string to_code_points(std::string_view s);
std::string from_code_points(std::u32string_view s);
bool python_isspace(char32_t c);

}  // namespace sinan::text::jinja
