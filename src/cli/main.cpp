// sinan: the one binary. Subcommands are registered from one file each (commands.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/cpu.h"
#include "base/log.h"
#include "cli/commands.h"

namespace sinan::cli {

void fail(const std::string& message) {
    std::fprintf(stderr, "sinan: error: %s\n", message.c_str());
    std::exit(2);
}

}  // namespace sinan::cli

int main(int argc, char** argv) {
    using namespace sinan;
    CLI::App app{"sinan: a private AI platform. Runs DeepSeek-R1-family GGUF models on this machine; nothing leaves it."};
    app.require_subcommand(1);
    app.set_version_flag("--version",
                         std::string("sinan 0.1.0, cpu: ") + cpu::describe() + " on " + cpu::describe_processor());
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Log more to stderr (also SINAN_LOG=debug)");
    app.parse_complete_callback([&] {
        const char* env = std::getenv("SINAN_LOG");
        if (verbose || (env != nullptr && std::strcmp(env, "debug") == 0)) log::set_level(log::Level::kDebug);
    });

    cli::register_model(app);
    cli::register_tokenize(app);
    cli::register_template(app);
    cli::register_logits(app);
    cli::register_run(app);
    cli::register_bench(app);
    cli::register_perplexity(app);
    cli::register_quantize(app);
    cli::register_keys(app);
    cli::register_serve(app);
    cli::register_kb(app);
    cli::register_embed(app);
    cli::register_rerank(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // Usage errors: one line and exit code 2, like any other user error.
        std::fprintf(stderr, "sinan: error: %s (see --help)\n", e.what());
        return 2;
    }
    return 0;
}
