// Syntax tree and parser of the Jinja interpreter behind ChatTemplate (private to src/text).
//
// Grammar and operator precedence follow Jinja2's parser: conditional expression < or < and < not
// < comparisons (==, !=, <, <=, >, >=, in, not in) < + - < ~ < * / // % < ** < unary - + < postfix
// (.attr, [item], [a:b:c], call) < filters and tests (|f(args), is [not] t). Statements: if/elif/
// else, for (tuple targets, `if` filter, else), set (expression or block), macro, break, continue,
// with. Parsing is limited to kMaxNesting levels of nested expressions and blocks so hostile input
// cannot overflow the stack.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja_lexer.h"
#include "text/jinja_value.h"

namespace sinan::text::jinja {

constexpr int kMaxNesting = 200;

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        kLiteral,  // literal
        kName,     // name
        kList,     // args
        kTuple,    // args
        kDict,     // args: key, value, key, value ...
        kAttr,     // args[0].name
        kItem,     // args[0][args[1]]
        kSlice,    // args[0][args[1]:args[2]:args[3]], missing parts are null
        kCall,     // args[0](args[1..], kwargs)
        kFilter,   // args[0] | name(args[1..], kwargs)
        kTest,     // args[0] is [not] name(args[1..], kwargs)
        kUnary,    // name ("-", "+", "not") args[0]
        kBinary,   // args[0] name args[1]; name is an arithmetic operator, "~", "and" or "or"
        kCompare,  // args[0] ops[0] args[1] ops[1] args[2] ...
        kCond,     // args[1] if args[0] else args[2] (args[2] may be null)
    };
    Kind kind = Kind::kLiteral;
    size_t offset = 0;
    Value literal;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;
    bool negated = false;
};

struct Node {
    enum class Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue, kWith };
    Kind kind = Kind::kText;
    size_t offset = 0;
    std::string text;  // kText; kMacro and kSetBlock: the name
    ExprPtr expr;      // kOutput; kSet: the value; kFor: the iterable
    ExprPtr target;    // kSet, kFor: a name, a tuple of names or (kSet only) ns.attr
    ExprPtr filter;    // kFor: the `if` condition, may be null
    std::vector<std::pair<ExprPtr, std::vector<Node>>> branches;  // kIf: condition and body per if/elif
    std::vector<Node> body;                                       // kFor, kSetBlock, kMacro, kWith
    std::vector<Node> else_body;                                  // kIf, kFor
    std::vector<std::pair<std::string, ExprPtr>> params;          // kMacro (defaults may be null), kWith
};

// Parses a token stream (from tokenize) into nodes; throws Error(kSyntax) with an offset.
std::vector<Node> parse_template(const std::vector<Token>& tokens);

}  // namespace sinan::text::jinja
