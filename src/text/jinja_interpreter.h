// Evaluator of the Jinja interpreter behind ChatTemplate (private to src/text): walks the nodes of
// a parsed template with a context of variables and returns the rendered text.
//
// Scoping follows Jinja2: the template body is one scope; each for-loop iteration, macro call and
// `with` block gets a fresh child scope, so `set` inside them does not leak out (namespace()
// objects are how templates carry state out of loops). Globals: range, namespace, dict,
// raise_exception (throws Error kRaised with the message) and strftime_now (formats `now_unix`
// as UTC when given, else the current local time). Limits (RenderLimits) end runaway templates
// with Error kLimit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "text/jinja_builtins.h"
#include "text/jinja_parser.h"
#include "text/jinja_value.h"

namespace sinan::text::jinja {

struct RenderSettings {
    RenderLimits limits;
    std::optional<int64_t> now_unix;  // fixed instant for strftime_now (tests, reproducible prompts)
};

// Renders `nodes` with `context` (variable name -> value). Throws Error; runtime errors carry the
// offset of the expression or statement that failed.
std::string render_nodes(const std::vector<Node>& nodes, const Dict& context, const RenderSettings& settings);

}  // namespace sinan::text::jinja
