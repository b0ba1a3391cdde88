// Tokeniser of the Jinja interpreter behind ChatTemplate (private to src/text).
//
// Splits a template into text and tag tokens with the whitespace rules of the environment Hugging
// Face renders chat templates in: trim_blocks (the first newline after a block or comment tag is
// removed), lstrip_blocks (spaces and tabs before a block or comment tag at the start of a line are
// removed), explicit control with `{%-`, `-%}`, `{{-`, `-}}`, `{#-`, `-#}` and `+` to opt out;
// newlines normalised to "\n" and one trailing newline of the template dropped
// (keep_trailing_newline=False). Comments produce no tokens; `{% raw %}` blocks become text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sinan::text::jinja {

enum class TokenType {
    kText,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOperator,
    kEof
};

struct Token {
    TokenType type = TokenType::kEof;
    std::string value;  // text, name, decoded string literal or operator
    int64_t int_value = 0;
    double float_value = 0;
    size_t offset = 0;  // in the normalised source
};

// The source with newlines normalised and the trailing newline dropped, as the lexer sees it
// (offsets of tokens and errors refer to it).
std::string normalize_source(std::string_view source);

// Tokenises normalize_source(source); throws Error(kSyntax) with the offset of the problem. The last
// token is kEof.
std::vector<Token> tokenize(const std::string& normalized);

// 1-based line and column (in bytes) of `offset` in `source`.
std::pair<int, int> line_column(std::string_view source, size_t offset);

}  // namespace sinan::text::jinja
