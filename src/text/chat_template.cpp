#include "text/chat_template.h"

#include "text/jinja_interpreter.h"
#include "text/jinja_lexer.h"
#include "text/jinja_parser.h"
#include "text/jinja_value.h"

namespace sinan::text {

struct ChatTemplate::Parsed {
    std::string source;      // as given
    std::string normalized;  // what error offsets refer to
    std::vector<jinja::Node> nodes;
};

namespace {

std::string where(const std::string& normalized, size_t offset) {
    if (offset == jinja::Error::kNoOffset) return "";
    auto [line, column] = jinja::line_column(normalized, offset);
    return " at line " + std::to_string(line) + ", column " + std::to_string(column);
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
    auto parsed = std::make_shared<Parsed>();
    parsed->source = source;
    parsed->normalized = jinja::normalize_source(source);
    try {
        parsed->nodes = jinja::parse_template(jinja::tokenize(parsed->normalized));
    } catch (const jinja::Error& e) {
        return Status::error("chat template syntax error" + where(parsed->normalized, e.offset) + ": " + e.what());
    }
    return ChatTemplate(std::move(parsed));
}

Result<ChatTemplate> ChatTemplate::from_gguf(const gguf::File& file) {
    std::optional<std::string_view> source = file.get_string("tokenizer.chat_template");
    if (!source) {
        return Status::error(file.path() +
                             ": no tokenizer.chat_template in the model; pass a template file (--template FILE.jinja)");
    }
    Result<ChatTemplate> tmpl = parse(std::string(*source));
    if (!tmpl.ok()) return tmpl.status().annotate(file.path() + ": ");
    const gguf::Array* tokens = file.get_array("tokenizer.ggml.tokens");
    auto token = [&](const char* key) -> std::string {
        std::optional<uint64_t> id = file.get_uint(key);
        if (!id || !tokens || tokens->elem_type != gguf::ValueType::STRING || *id >= tokens->strings.size()) return "";
        return std::string(tokens->strings[*id]);
    };
    tmpl->set_special_tokens(token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"));
    return tmpl;
}

void ChatTemplate::set_special_tokens(std::string bos_token, std::string eos_token) {
    bos_token_ = std::move(bos_token);
    eos_token_ = std::move(eos_token);
}

const std::string& ChatTemplate::source() const { return parsed_->source; }

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& extra, const RenderOptions& options) const {
    if (!extra.is_object()) return Status::error("chat template context must be a JSON object");
    jinja::RenderSettings settings;
    settings.now_unix = options.now_unix;
    settings.limits.max_output_bytes = options.max_output_bytes;
    settings.limits.max_loop_iterations = options.max_loop_iterations;
    try {
        jinja::Dict context;
        context.set(jinja::Value("messages"), jinja::from_json(messages));
        context.set(jinja::Value("add_generation_prompt"), jinja::Value(add_generation_prompt));
        context.set(jinja::Value("bos_token"), jinja::Value(bos_token_));
        context.set(jinja::Value("eos_token"), jinja::Value(eos_token_));
        for (const auto& [key, value] : extra.items()) context.set(jinja::Value(key), jinja::from_json(value));
        return jinja::render_nodes(parsed_->nodes, context, settings);
    } catch (const jinja::Error& e) {
        if (e.kind == jinja::ErrorKind::kRaised)
            return Status::error(std::string("chat template raised an exception: ") + e.what());
        return Status::error("chat template error" + where(parsed_->normalized, e.offset) + ": " + e.what());
    } catch (const std::exception& e) {  // std::bad_alloc and the like: a bad template must not crash
        return Status::error(std::string("chat template error: ") + e.what());
    }
}

}  // namespace sinan::text
