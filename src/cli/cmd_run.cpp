// `sinan run`: generate text from a prompt with a GGUF model, streamed as it is produced.
// stdout carries only the generated answer (scripts compare it); a reasoning model's thinking
// goes to stderr (dimmed on a terminal), followed by the speed and the confidence score.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli/commands.h"
#include "cli/kv_type_option.h"
#include "engine/generate.h"
#include "model/model.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace sinan::cli {

namespace {

struct RunArgs {
    std::string model, prompt, prompt_file, system;
    int64_t n_predict = -1;
    int64_t n_ctx = 4096;
    int threads = 0;
    gguf::TensorType kv_type = gguf::TensorType::F16;
    int64_t swa_window = -1;  // -1: the model's own
    bool chat = false;
    bool interactive = false;
    bool hide_reasoning = false;
    bool context_shift = false;  // --context-shift (-p/-f; -i has it on unless --no-context-shift)
    bool no_context_shift = false;
    int64_t n_keep = -1;  // with --context-shift: tokens kept at the start (-1: the prompt, up to half the context)
    sampling::SamplingParams sampling;
    bool temperature_given = false, top_p_given = false;  // else a reasoning model's own defaults
    std::optional<uint64_t> seed;
};

struct Loaded {
    std::unique_ptr<model::Model> model;
    text::Tokenizer tokenizer;
    std::optional<text::ChatTemplate> chat_template;  // with --chat / -i
    bool reasoning = false;                           // engine::is_reasoning_model
};

Loaded load(const RunArgs& a) {
    model::LoadOptions lo;
    lo.n_threads = a.threads;
    lo.swa_window = a.swa_window;
    Result<std::unique_ptr<model::Model>> m = model::Model::load(a.model, lo);
    if (!m.ok()) fail(m.message());
    require_kv_type(**m, a.model, a.kv_type);
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf((*m)->file());
    if (!tok.ok()) fail(a.model + ": " + tok.message());
    Loaded l{std::move(m).value(), std::move(tok).value(), std::nullopt, false};
    Result<text::ChatTemplate> t = text::ChatTemplate::from_gguf(l.model->file());
    l.reasoning = engine::is_reasoning_model(l.tokenizer, t.ok() ? &*t : nullptr);
    if (a.chat || a.interactive) {
        if (!t.ok()) fail(t.message() + " (run without --chat to give the prompt as plain text)");
        l.chat_template = std::move(t).value();
    }
    return l;
}

// Tokens of a rendered chat prompt: BOS is added unless the template already wrote it.
std::vector<int32_t> tokenize_chat(const Loaded& l, const std::string& rendered) {
    const bool has_bos = !l.chat_template->bos_token().empty() && rendered.rfind(l.chat_template->bos_token(), 0) == 0;
    return l.tokenizer.encode(rendered, !has_bos, /*parse_special=*/true);
}

class Printer {
  public:
    explicit Printer(bool hide_reasoning) : hide_reasoning_(hide_reasoning), tty_(::isatty(2) != 0) {}
    void operator()(engine::TextKind kind, std::string_view text) {
        if (kind == engine::TextKind::kReasoning) {
            if (hide_reasoning_) return;
            if (!in_reasoning_) std::fputs(tty_ ? "\033[2m[thinking]\n" : "[thinking]\n", stderr);
            in_reasoning_ = true;
            std::fwrite(text.data(), 1, text.size(), stderr);
            std::fflush(stderr);
            return;
        }
        end_reasoning();
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
    }
    void end_reasoning() {
        if (!in_reasoning_) return;
        std::fputs(tty_ ? "\n[answer]\033[0m\n" : "\n[answer]\n", stderr);
        std::fflush(stderr);
        in_reasoning_ = false;
    }

  private:
    bool hide_reasoning_, tty_;
    bool in_reasoning_ = false;
};

void print_stats(const engine::GenerateResult& r) {
    auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
    std::fprintf(stderr,
                 "\nprompt: %lld tokens in %.2f s (%.1f tokens/s); generation: %lld tokens in %.2f s (%.1f tokens/s)\n",
                 static_cast<long long>(r.n_prompt), r.prompt_seconds, rate(r.n_prompt, r.prompt_seconds),
                 static_cast<long long>(r.n_generated), r.generate_seconds, rate(r.n_generated, r.generate_seconds));
    const std::string why(engine::finish_reason_name(r.finish));
    std::fprintf(stderr, "finish: %s; confidence %.3f (mean p %.3f, min p %.3f, certainty %.3f)\n", why.c_str(),
                 r.confidence.score, r.confidence.geometric_mean_prob, r.confidence.min_prob, r.confidence.certainty);
}

void report_shift(int64_t n_dropped) {
    if (n_dropped > 0)
        std::fprintf(stderr, "context shift: %lld old tokens dropped to keep going\n",
                     static_cast<long long>(n_dropped));
}

// The tokens a session with context shift keeps at the start: --keep, else the prompt, at most
// half the context either way.
int64_t kept_start(const RunArgs& a, const engine::Session& session, size_t n_prompt) {
    const int64_t half = session.n_ctx() / 2;
    return a.n_keep >= 0 ? std::min(a.n_keep, half) : std::min<int64_t>(static_cast<int64_t>(n_prompt), half);
}

engine::GenerateOptions generate_options(const RunArgs& a, const std::string& rendered) {
    engine::GenerateOptions o;
    o.n_predict = a.n_predict;
    o.sampling = a.sampling;
    o.context_shift = a.context_shift;
    const std::string open = "<think>";
    size_t end = rendered.find_last_not_of(" \n");
    o.starts_in_reasoning = end != std::string::npos && end + 1 >= open.size() &&
                            rendered.compare(end + 1 - open.size(), open.size(), open) == 0;
    return o;
}

void run_once(const RunArgs& a, Loaded& l) {
    std::string rendered = a.prompt;
    std::vector<int32_t> tokens;
    if (l.chat_template) {
        nlohmann::ordered_json messages = nlohmann::ordered_json::array();
        if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
        messages.push_back({{"role", "user"}, {"content", a.prompt}});
        Result<std::string> r = l.chat_template->render(messages, true);
        if (!r.ok()) fail(r.message());
        rendered = *r;
        tokens = tokenize_chat(l, rendered);
    } else {
        tokens = l.tokenizer.encode(rendered, /*add_special=*/true, /*parse_special=*/true);
    }
    engine::Session session(*l.model, std::min<int64_t>(a.n_ctx, l.model->hparams().n_ctx_train), 512, a.kv_type);
    if (a.context_shift) session.set_context_shift(kept_start(a, session, tokens.size()));
    Printer print(a.hide_reasoning);
    Result<engine::GenerateResult> r =
        engine::generate(session, l.tokenizer, tokens, generate_options(a, rendered), std::ref(print));
    print.end_reasoning();
    if (!r.ok()) fail(r.message());
    print_stats(*r);
    report_shift(session.n_shifted());
}

// With context shift, the history of an interactive chat is cut to fit: the oldest exchanges (a
// user message and its answer; the system message stays) go until the rendered prompt leaves a
// quarter of the context for the answer. The rendered prompt is left in *rendered; false when
// even the newest message alone does not fit (or, without context shift, the history does not).
bool fit_history(const RunArgs& a, const Loaded& l, int64_t n_ctx, nlohmann::ordered_json& messages,
                 std::string* rendered, std::vector<int32_t>* tokens) {
    const size_t first = !messages.empty() && messages[0]["role"] == "system" ? 1 : 0;
    const auto room = static_cast<size_t>(a.context_shift ? n_ctx - n_ctx / 4 : n_ctx);
    int dropped = 0;
    for (;;) {
        Result<std::string> r = l.chat_template->render(messages, true);
        if (!r.ok()) fail(r.message());
        *rendered = std::move(r).value();
        *tokens = tokenize_chat(l, *rendered);
        if (tokens->size() <= room || !a.context_shift || messages.size() <= first + 1) break;
        const size_t n = messages.size() > first + 2 ? 2 : 1;  // a user message and its answer
        messages.erase(messages.begin() + static_cast<long>(first), messages.begin() + static_cast<long>(first + n));
        ++dropped;
    }
    if (dropped > 0)
        std::fprintf(
            stderr, "sinan: %s left the history to fit the context (-c %lld)\n",
            dropped == 1 ? "the oldest exchange" : ("the " + std::to_string(dropped) + " oldest exchanges").c_str(),
            static_cast<long long>(n_ctx));
    if (tokens->size() <= room) return true;
    std::fprintf(stderr,
                 "sinan: error: the %s has %zu tokens but may take at most %lld of the %lld-token context; "
                 "raise it with -c%s\n",
                 a.context_shift ? "message" : "conversation", tokens->size(), static_cast<long long>(room),
                 static_cast<long long>(n_ctx),
                 a.context_shift ? "" : ", or leave --no-context-shift out to let old exchanges go");
    return false;
}

void run_interactive(const RunArgs& a, Loaded& l) {
    engine::Session session(*l.model, std::min<int64_t>(a.n_ctx, l.model->hparams().n_ctx_train), 512, a.kv_type);
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    std::fprintf(stderr, "sinan: chatting with %s; an empty line or end of input quits\n", a.model.c_str());
    std::string line;
    while (true) {
        std::fputs("> ", stderr);
        std::fflush(stderr);
        if (!std::getline(std::cin, line) || line.empty()) break;
        messages.push_back({{"role", "user"}, {"content", line}});
        std::string rendered;
        std::vector<int32_t> tokens;
        if (!fit_history(a, l, session.n_ctx(), messages, &rendered, &tokens)) {
            messages.erase(messages.end() - 1);  // the message that does not fit; the chat goes on
            continue;
        }
        if (a.context_shift) session.set_context_shift(kept_start(a, session, tokens.size()));
        const int64_t shifted_before = session.n_shifted();
        Printer print(a.hide_reasoning);
        Result<engine::GenerateResult> r =
            engine::generate(session, l.tokenizer, tokens, generate_options(a, rendered), std::ref(print));
        print.end_reasoning();
        if (!r.ok()) fail(r.message());
        std::fputs("\n", stdout);
        print_stats(*r);
        report_shift(session.n_shifted() - shifted_before);
        // History keeps the answer: reasoning models are not shown their own earlier thinking.
        messages.push_back({{"role", "assistant"}, {"content", r->answer}});
    }
}

void run(RunArgs a) {
    if (!a.prompt.empty() && !a.prompt_file.empty()) fail("give the prompt with -p or -f, not both");
    if (!a.prompt_file.empty()) {
        std::ifstream in(a.prompt_file, std::ios::binary);
        if (!in) fail(a.prompt_file + ": cannot read the prompt file");
        std::stringstream ss;
        ss << in.rdbuf();
        a.prompt = ss.str();
    }
    if (a.prompt.empty() && !a.interactive) fail("no prompt: give one with -p TEXT or -f FILE, or use --interactive");
    if (a.context_shift && a.no_context_shift) fail("give --context-shift or --no-context-shift, not both");
    if (a.interactive && !a.no_context_shift) a.context_shift = true;
    if (a.n_ctx < 1) fail("-c must be at least 1");
    if (a.n_predict < -1) fail("-n must be -1 (until the model stops) or 0 or more");
    if (!a.seed) a.seed = std::random_device{}();
    a.sampling.seed = *a.seed;
    Loaded l = load(a);
    if (l.reasoning && !(a.temperature_given && a.top_p_given)) {
        if (!a.temperature_given) a.sampling.temperature = sampling::kReasoningTemperature;
        if (!a.top_p_given) a.sampling.top_p = sampling::kReasoningTopP;
        if (a.sampling.temperature > 0) {  // greedy (--temp 0) draws nothing: no note
            std::fprintf(stderr,
                         "sinan: a reasoning model: sampling at temperature %g, top-p %g (DeepSeek's recommendation "
                         "for R1; --temp and --top-p change it)\n",
                         static_cast<double>(a.sampling.temperature), static_cast<double>(a.sampling.top_p));
        }
    }
    if (Status s = sampling::validate(a.sampling, l.tokenizer.n_vocab()); !s.is_ok()) fail(s.message());
    if (a.sampling.temperature > 0)
        std::fprintf(stderr, "sinan: seed %llu\n", static_cast<unsigned long long>(*a.seed));
    if (a.interactive)
        run_interactive(a, l);
    else
        run_once(a, l);
}

}  // namespace

void register_run(CLI::App& app) {
    auto a = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streamed as it is produced");
    cmd->add_option("-m,--model", a->model, "The .gguf model")->required();
    cmd->add_option("-p,--prompt", a->prompt, "The prompt text");
    cmd->add_option("-f,--file", a->prompt_file, "Read the prompt from this file");
    cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most (-1: until the model stops)")
        ->capture_default_str();
    cmd->add_option("-c,--ctx-size", a->n_ctx, "Context size in tokens (prompt + answer)")->capture_default_str();
    cmd->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
    add_kv_type_option(cmd, &a->kv_type);
    cmd->add_option("--swa-window", a->swa_window,
                    "Sliding-window attention over the last N positions, keeping only those in the KV cache "
                    "(0 = full attention; default: the model's own attention.sliding_window, else full)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
    cmd->add_flag("--context-shift", a->context_shift,
                  "When the context (-c) is full, drop the older half of what follows the kept start and go on "
                  "instead of stopping; with -i (where it is on by default) also let the oldest exchanges go when "
                  "the history outgrows the context");
    cmd->add_flag("--no-context-shift", a->no_context_shift,
                  "With -i: stop an answer at a full context, and refuse a history that does not fit");
    cmd->add_option("--keep", a->n_keep,
                    "With --context-shift: tokens kept at the start (default: the prompt, up to half the context)");
    cmd->add_flag("--chat", a->chat, "Wrap the prompt in the model's chat template as a user message");
    cmd->add_flag("-i,--interactive", a->interactive,
                  "Chat turn by turn on stdin, keeping the history (implies --chat)");
    cmd->add_option("--system", a->system, "System message for --chat / --interactive");
    cmd->add_flag("--hide-reasoning", a->hide_reasoning, "Do not show a reasoning model's thinking on stderr");
    CLI::Option* temp =
        cmd->add_option("--temp", a->sampling.temperature,
                        "Temperature (0 = greedy; default: 0.6 for a reasoning model such as DeepSeek-R1, else 1)");
    cmd->add_option("--top-k", a->sampling.top_k, "Keep the k most likely tokens (0 = off)")->capture_default_str();
    CLI::Option* top_p = cmd->add_option(
        "--top-p", a->sampling.top_p, "Nucleus sampling mass (1 = off; default: 0.95 for a reasoning model, else 1)");
    cmd->add_option("--min-p", a->sampling.min_p, "Drop tokens below min-p x the top probability (0 = off)")
        ->capture_default_str();
    cmd->add_option("--repeat-penalty", a->sampling.repetition_penalty, "Repetition penalty (1 = off)")
        ->capture_default_str();
    cmd->add_option("--presence-penalty", a->sampling.presence_penalty, "OpenAI presence penalty")
        ->capture_default_str();
    cmd->add_option("--frequency-penalty", a->sampling.frequency_penalty, "OpenAI frequency penalty")
        ->capture_default_str();
    cmd->add_option("--stop", a->sampling.stop, "Stop when this text appears (repeatable)");
    cmd->add_option_function<uint64_t>(
        "--seed", [a](uint64_t s) { a->seed = s; }, "Random seed (default: random, printed on stderr)");
    cmd->callback([a, temp, top_p] {
        a->temperature_given = temp->count() > 0;
        a->top_p_given = top_p->count() > 0;
        run(*a);
    });
}

}  // namespace sinan::cli
