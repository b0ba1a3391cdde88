// Chat templates: renders a model's `tokenizer.chat_template` (a Jinja template) into the prompt
// text, exactly as Hugging Face's apply_chat_template does with Python's Jinja2 (3.1):
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with loop controls, HF's
// tojson (json.dumps with ensure_ascii=False, key order kept), raise_exception(msg) and
// strftime_now(fmt). The supported Jinja subset and the known differences are in
// docs/chat-templates.md; golden outputs from the real Jinja2 are in tests/data/chat-templates/.
//
// Usage:
//   auto tmpl = ChatTemplate::from_gguf(file);             // or ChatTemplate::parse(source)
//   auto prompt = tmpl->render(messages, /*add_generation_prompt=*/true, {{"tools", tools}});
//
// messages: a JSON array of {role, content, [reasoning_content], [tool_calls], [name],
// [tool_call_id]} objects. Use nlohmann::ordered_json so that objects keep their key order
// (tool schemas printed with tojson must list keys in the order the client sent them, as Python
// does; a plain nlohmann::json converts implicitly but arrives with its keys sorted). The render
// context is: messages, add_generation_prompt, bos_token, eos_token, then every
// key of `extra` (tools, enable_thinking, ... ; extra wins on a clash).
//
// Errors (Status messages): "chat template syntax error at line L, column C: ..." from parse;
// from render "chat template raised an exception: <message>" for raise_exception(message) and
// "chat template error at line L, column C: ..." for everything else (undefined attribute, type
// error, output over RenderOptions::max_output_bytes, too many loop iterations, macro recursion).
// Bad templates never crash the process.
//
// Thread-safety: a ChatTemplate is immutable after creation; render may be called from many threads
// at once. Copies are cheap (the parsed template is shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"

namespace sinan::text {

struct RenderOptions {
    // strftime_now formats this instant (seconds since the epoch, as UTC) instead of the current
    // local time: for reproducible prompts and tests.
    std::optional<int64_t> now_unix;
    size_t max_output_bytes = size_t{64} << 20;
    int64_t max_loop_iterations = 1'000'000;  // all loops of one render together
};

class ChatTemplate {
  public:
    // Parses a template; bos_token and eos_token start empty (set_special_tokens).
    static Result<ChatTemplate> parse(const std::string& source);
    // tokenizer.chat_template of a GGUF model, with bos_token/eos_token looked up from
    // tokenizer.ggml.bos_token_id / eos_token_id in tokenizer.ggml.tokens (empty when absent).
    // Error when the file has no chat template.
    static Result<ChatTemplate> from_gguf(const gguf::File& file);

    void set_special_tokens(std::string bos_token, std::string eos_token);
    const std::string& bos_token() const { return bos_token_; }
    const std::string& eos_token() const { return eos_token_; }
    const std::string& source() const;

    Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                               const nlohmann::ordered_json& extra = nlohmann::ordered_json::object(),
                               const RenderOptions& options = {}) const;

  private:
    struct Parsed;
    explicit ChatTemplate(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}

    std::shared_ptr<const Parsed> parsed_;
    std::string bos_token_;
    std::string eos_token_;
};

}  // namespace sinan::text
