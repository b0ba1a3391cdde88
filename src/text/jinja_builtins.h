// Built-in filters, tests, attribute lookup and Python methods of the Jinja interpreter behind
// ChatTemplate (private to src/text). Each follows Jinja2 3.1 / Python 3 semantics closely enough
// that real chat templates render byte-for-byte as with Hugging Face's environment; tojson is HF's
// override (json.dumps with ensure_ascii=False, indent, separators, sort_keys). The differences
// that remain are listed in docs/chat-templates.md.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "text/jinja_value.h"

namespace sinan::text::jinja {

// Caps on what one render may produce, so hostile templates end with an error instead of exhausting
// memory or time. Checked by the interpreter and by builtins that build big values.
struct RenderLimits {
    size_t max_output_bytes = size_t{64} << 20;  // also the largest string or list a template may build
    int64_t max_loop_iterations = 1'000'000;     // for-loop iterations, all loops of one render together
    int max_call_depth = 64;                     // nested macro calls
};

// Whether a filter / test of that name exists (Jinja2 rejects unknown ones when compiling).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// Applies a filter (`value | name(args)`); throws Error for unknown filters and bad arguments.
Value apply_filter(const std::string& name, const Value& value, CallArgs& args, const RenderLimits& limits);
// Evaluates a test (`value is name(args)`); throws Error for unknown tests.
bool apply_test(const std::string& name, const Value& value, CallArgs& args);

// Jinja2's getattr (`obj.name`): Python attributes (str/dict/list methods) first, then items.
// Undefined for a missing attribute; throws when obj itself is undefined.
Value get_attribute(const Value& obj, const std::string& name);
// Jinja2's getitem (`obj[key]`): items first, then attributes for string keys.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on strings, lists and tuples; null parts are None.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// The elements of a for loop over `v`: list items, dict keys, string characters; empty for an
// undefined; throws a TypeError for values that are not iterable.
std::vector<Value> iterate(const Value& v);
// `item in container`.
bool contains(const Value& container, const Value& item);
// Arithmetic and `~` (op: + - * / // % ** ~) with Python's rules for int, float, str and list.
Value binary_op(const std::string& op, const Value& a, const Value& b, const RenderLimits& limits);

// Global functions every template sees: range, namespace, dict.
Value make_range(CallArgs& args, const RenderLimits& limits);
Value make_namespace(CallArgs& args);
Value make_dict(CallArgs& args);

}  // namespace sinan::text::jinja
