// `sinan template`: renders a chat template (from a GGUF model or a .jinja file) with messages from
// a JSON file and prints the prompt exactly as the model would see it.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "text/chat_template.h"

namespace sinan::cli {
namespace {

struct TemplateOptions {
    std::string model;
    std::string template_file;
    std::string messages_file;
    bool no_generation_prompt = false;
    std::optional<std::string> bos_token;
    std::optional<std::string> eos_token;
    std::optional<int64_t> now_unix;
};

std::string read_text(const std::string& path, const char* what) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path + ": cannot open " + what + " file (check the path)");
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(path + ": cannot read " + what + " file");
    return ss.str();
}

text::ChatTemplate load_template(const TemplateOptions& o) {
    if (!o.model.empty()) {
        Result<gguf::File> file = gguf::File::open(o.model);
        if (!file.ok()) fail(file.message());
        Result<text::ChatTemplate> tmpl = text::ChatTemplate::from_gguf(*file);
        if (!tmpl.ok()) fail(tmpl.message());
        return std::move(*tmpl);
    }
    Result<text::ChatTemplate> tmpl = text::ChatTemplate::parse(read_text(o.template_file, "template"));
    if (!tmpl.ok()) fail(o.template_file + ": " + tmpl.message());
    return std::move(*tmpl);
}

void run(const TemplateOptions& o) {
    if (o.model.empty() == o.template_file.empty())
        fail("give exactly one of -m/--model FILE.gguf or --template FILE.jinja");
    text::ChatTemplate tmpl = load_template(o);
    tmpl.set_special_tokens(o.bos_token.value_or(tmpl.bos_token()), o.eos_token.value_or(tmpl.eos_token()));

    nlohmann::ordered_json input;
    try {
        input = nlohmann::ordered_json::parse(read_text(o.messages_file, "messages"));
    } catch (const nlohmann::json::exception& e) {
        fail(o.messages_file + ": invalid JSON: " + e.what());
    }
    nlohmann::ordered_json messages;
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();
    if (input.is_array()) {
        messages = std::move(input);
    } else if (input.is_object() && input.contains("messages") && input["messages"].is_array()) {
        for (auto& [key, value] : input.items()) {
            if (key != "messages") extra[key] = value;
        }
        messages = std::move(input["messages"]);
    } else {
        fail(o.messages_file + ": expected a JSON array of messages or an object with a \"messages\" array");
    }

    text::RenderOptions render_options;
    render_options.now_unix = o.now_unix;
    Result<std::string> prompt = tmpl.render(messages, !o.no_generation_prompt, extra, render_options);
    if (!prompt.ok()) fail(prompt.message());
    std::fwrite(prompt->data(), 1, prompt->size(), stdout);
    std::fflush(stdout);
}

}  // namespace

void register_template(CLI::App& app) {
    auto o = std::make_shared<TemplateOptions>();
    CLI::App* cmd = app.add_subcommand(
        "template",
        "Render a chat template with messages and print the prompt exactly (no newline added).\n"
        "The template comes from a GGUF model (tokenizer.chat_template, with its BOS/EOS tokens) or a .jinja\n"
        "file, and renders as Hugging Face's apply_chat_template does (Jinja2 with trim_blocks and lstrip_blocks).\n"
        "--messages FILE.json holds a JSON array of messages\n"
        "  [{\"role\": \"user\", \"content\": \"...\"}, ...]\n"
        "or an object {\"messages\": [...], \"tools\": [...], ...} whose other keys become template variables\n"
        "(tools, enable_thinking, ...). Use - to read it from stdin.\n"
        "Example: sinan template -m DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf --messages chat.json");
    auto* model = cmd->add_option("-m,--model", o->model, "GGUF model whose tokenizer.chat_template to render");
    auto* tmpl = cmd->add_option("--template", o->template_file, "Jinja template file to render instead of a model's");
    model->excludes(tmpl);
    cmd->add_option("--messages", o->messages_file, "JSON file with the messages (see above); - for stdin")->required();
    cmd->add_flag(
        "--no-generation-prompt", o->no_generation_prompt,
        "Render with add_generation_prompt=false (by default the prompt ends where the assistant's reply starts)");
    cmd->add_option("--bos-token", o->bos_token, "Text of bos_token (default: the model's, or empty with --template)");
    cmd->add_option("--eos-token", o->eos_token, "Text of eos_token (default: the model's, or empty with --template)");
    cmd->add_option("--now", o->now_unix,
                    "Seconds since the epoch that strftime_now formats (as UTC), for reproducible prompts; "
                    "default: the current local time");
    cmd->callback([o] { run(*o); });
}

}  // namespace sinan::cli
