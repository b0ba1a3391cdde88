// The `sinan` subcommands. Each register_* adds one subcommand (with its --help text) to the
// app; its callback does the work and returns through exit_with(). Conventions for every command:
// stdout carries only the command's output (scripts read it), logs and progress go to stderr,
// a user error prints one line "sinan: error: ..." and exits with code 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sinan::cli {

void register_model(CLI::App& app);       // model info, model synth
void register_model_synth(CLI::App& model);  // model synth (called by register_model)
void register_tokenize(CLI::App& app);    // tokenize, detokenize
void register_template(CLI::App& app);    // template
void register_logits(CLI::App& app);      // logits
void register_run(CLI::App& app);         // run
void register_bench(CLI::App& app);       // bench
void register_perplexity(CLI::App& app);  // perplexity
void register_quantize(CLI::App& app);    // quantize
void register_keys(CLI::App& app);        // keys create, keys list, keys revoke
void register_serve(CLI::App& app);       // serve
void register_kb(CLI::App& app);          // kb eval, and the commands of register_kb_manage
void register_kb_manage(CLI::App& kb);    // kb create, ls, add, rm, search, jobs, resume (called by register_kb)
void register_embed(CLI::App& app);       // embed
void register_rerank(CLI::App& app);      // rerank

// Prints "sinan: error: <message>" to stderr and exits with code 2.
[[noreturn]] void fail(const std::string& message);

}  // namespace sinan::cli
