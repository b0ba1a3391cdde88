// Python's str operations on UTF-8 text for the Jinja interpreter behind ChatTemplate (private to
// src/text): case mapping (utf8proc's simple mappings plus ß -> SS), strip/split/replace/
// splitlines with Python's whitespace and line-break sets, str.format without format specs, and
// the text filters of Jinja2 (title, indent, truncate, center, wordcount). Lengths and positions
// count code points, as Python does. Errors throw jinja::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "text/jinja_value.h"

namespace sinan::text::jinja {

// v's string, or a TypeError naming `what`.
const std::string& as_str_arg(const Value& v, const char* what);

std::string lower(const std::string& s);
std::string upper(const std::string& s);
std::string str_title(const std::string& s);    // str.title()
std::string jinja_title(const std::string& s);  // the title filter (words start after - ( { [ < space)
std::string capitalize(const std::string& s);
// str.strip/lstrip/rstrip; `chars` undefined or None strips whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right);
// str.split/rsplit; `sep` undefined or None splits on runs of whitespace; maxsplit < 0: no limit.
std::vector<Value> split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right);
// str.replace; count < 0 replaces all; throws Error kLimit past max_bytes.
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count,
                    size_t max_bytes);
std::vector<std::string> splitlines(const std::string& s);
// str.startswith / str.endswith with a string or a tuple of strings.
bool starts_or_ends(const std::string& s, const Value& what, bool ends);
// str.format with {}, {0}, {name} fields and {{ }} escapes.
std::string str_format(const std::string& fmt, const CallArgs& a);
size_t str_length(const std::string& s);  // in code points
std::string html_escape(const std::string& s);
// str.isdigit/isalpha/isalnum/isspace/islower/isupper (name is the method's).
bool str_predicate(const std::string& s, const std::string& name);
int64_t word_count(const std::string& s);  // the wordcount filter: runs of \w

std::string indent(const std::string& text, const std::string& prefix, bool first, bool blank);
std::string truncate(const std::string& s, int64_t length, bool killwords, const std::string& end, int64_t leeway);
std::string center(const std::string& s, int64_t width);

}  // namespace sinan::text::jinja
