// `sinan tokenize` and `sinan detokenize`: the model's tokenizer on stdin, for checking prompts
// and debugging token boundaries.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace sinan::cli {
namespace {

std::string read_stdin() {
    std::ios::sync_with_stdio(false);
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

text::Tokenizer load_tokenizer(const std::string& path) {
    Result<gguf::File> file = gguf::File::open(path);
    if (!file.ok()) fail(file.message());
    Result<text::Tokenizer> tok = text::Tokenizer::from_gguf(*file);
    if (!tok.ok()) fail(tok.message());
    return std::move(*tok);
}

// A piece shown between single quotes: printable text as it is, \n \t \r \\ \' escaped, other
// control bytes and bytes of unfinished UTF-8 characters as \xAB.
std::string quote_piece(const std::string& piece) {
    std::string out = "'";
    size_t i = 0;
    while (i < piece.size()) {
        const auto c = static_cast<unsigned char>(piece[i]);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
        } else {
            const text::Utf8Step step = text::decode_utf8(std::string_view(piece).substr(i));
            if (step.kind == text::Utf8Step::kOk && c >= 0x80) {
                out.append(piece, i, step.len);
                i += step.len;
                continue;
            }
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
        ++i;
    }
    return out + "'";
}

}  // namespace

void register_tokenize(CLI::App& app) {
    struct TokenizeOptions {
        std::string model;
        bool pieces = false;
        bool no_special = false;
        bool no_parse_special = false;
    };
    auto tok_opts = std::make_shared<TokenizeOptions>();
    CLI::App* tok = app.add_subcommand(
        "tokenize",
        "Print the token ids of the UTF-8 text on stdin, space-separated on one line.\n"
        "The text is taken byte for byte: a trailing newline from `echo` is a token too (use printf or echo -n).");
    tok->add_option("-m,--model", tok_opts->model, "GGUF model or vocab file whose tokenizer to use")->required();
    tok->add_flag("--pieces", tok_opts->pieces, "Print id:'piece' for each token (the bytes it stands for)");
    tok->add_flag("--no-special", tok_opts->no_special, "Do not add BOS/EOS ([CLS]/[SEP]) tokens");
    tok->add_flag("--no-parse-special", tok_opts->no_parse_special,
                  "Encode control tokens written in the text (<｜end▁of▁sentence｜>, <s> ...) as plain text");
    tok->callback([tok_opts] {
        const text::Tokenizer tokenizer = load_tokenizer(tok_opts->model);
        const std::string input = read_stdin();
        const size_t bad = text::find_invalid_utf8(input);
        if (bad != input.size()) {
            fail("stdin is not valid UTF-8 (byte " + std::to_string(bad) + "); convert the text to UTF-8 first");
        }
        const std::vector<int32_t> ids = tokenizer.encode(input, !tok_opts->no_special, !tok_opts->no_parse_special);
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i > 0) line += ' ';
            line += std::to_string(ids[i]);
            if (tok_opts->pieces) line += ":" + quote_piece(tokenizer.token_to_piece(ids[i]));
        }
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
    });

    struct DetokenizeOptions {
        std::string model;
        bool skip_special = false;
    };
    auto detok_opts = std::make_shared<DetokenizeOptions>();
    CLI::App* detok = app.add_subcommand(
        "detokenize", "Print the text of the token ids on stdin (decimal, separated by white space or commas).");
    detok->add_option("-m,--model", detok_opts->model, "GGUF model or vocab file whose tokenizer to use")->required();
    detok->add_flag("--skip-special", detok_opts->skip_special, "Leave out control tokens (BOS, EOS, ...)");
    detok->callback([detok_opts] {
        const text::Tokenizer tokenizer = load_tokenizer(detok_opts->model);
        std::string input = read_stdin();
        for (char& c : input) {
            if (c == ',') c = ' ';
        }
        std::istringstream in(input);
        std::vector<int32_t> ids;
        for (std::string word; in >> word;) {
            size_t used = 0;
            long long id = -1;
            try {
                id = std::stoll(word, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != word.size()) fail("'" + word + "' on stdin is not a token id (a decimal integer)");
            if (id < 0 || id >= tokenizer.n_vocab()) {
                fail("token id " + word + " is out of range: this vocab has ids 0.." +
                     std::to_string(tokenizer.n_vocab() - 1));
            }
            ids.push_back(static_cast<int32_t>(id));
        }
        const std::string text = tokenizer.decode(ids, detok_opts->skip_special);
        std::fwrite(text.data(), 1, text.size(), stdout);
    });
}

}  // namespace sinan::cli
