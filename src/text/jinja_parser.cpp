#include "text/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

#include "text/jinja_builtins.h"

namespace sinan::text::jinja {
namespace {

std::string describe(const Token& t) {
    switch (t.type) {
        case TokenType::kText:
            return "text";
        case TokenType::kVarBegin:
            return "'{{'";
        case TokenType::kVarEnd:
            return "end of print statement '}}'";
        case TokenType::kBlockBegin:
            return "'{%'";
        case TokenType::kBlockEnd:
            return "end of statement block '%}'";
        case TokenType::kName:
            return "'" + t.value + "'";
        case TokenType::kString:
            return "string literal";
        case TokenType::kInt:
        case TokenType::kFloat:
            return "number " + t.value;
        case TokenType::kOperator:
            return "'" + t.value + "'";
        case TokenType::kEof:
            return "end of template";
    }
    return "token";
}

class Parser {
  public:
    explicit Parser(const std::vector<Token>& tokens) : toks_(tokens) {}

    std::vector<Node> parse() {
        std::vector<Node> nodes = parse_body({}, "");
        if (cur().type != TokenType::kEof) fail_unexpected();
        return nodes;
    }

  private:
    struct DepthGuard {
        explicit DepthGuard(Parser& p) : p(p) {
            if (++p.depth_ > kMaxNesting) {
                throw Error(ErrorKind::kSyntax, "template nested too deeply (more than 200 levels)", p.cur().offset);
            }
        }
        ~DepthGuard() { --p.depth_; }
        Parser& p;
    };

    const Token& cur() const { return toks_[pos_]; }
    const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
    const Token& advance() {
        const Token& t = toks_[pos_];
        if (pos_ + 1 < toks_.size()) ++pos_;
        return t;
    }
    bool is_op(const char* op) const { return cur().type == TokenType::kOperator && cur().value == op; }
    bool is_name(const char* name) const { return cur().type == TokenType::kName && cur().value == name; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }
    [[noreturn]] void fail(const std::string& what) const { throw Error(ErrorKind::kSyntax, what, cur().offset); }
    [[noreturn]] void fail_unexpected() const { fail("unexpected " + describe(cur())); }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail("expected '" + std::string(op) + "', got " + describe(cur()));
    }
    void expect(TokenType type) {
        if (cur().type != type) {
            Token want;
            want.type = type;
            fail("expected " + describe(want) + ", got " + describe(cur()));
        }
        advance();
    }
    std::string expect_identifier() {
        if (cur().type != TokenType::kName) fail("expected a name, got " + describe(cur()));
        return advance().value;
    }

    static ExprPtr make(Expr::Kind kind, size_t offset) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->offset = offset;
        return e;
    }

    // ---- statements ----

    // Parses nodes until a block tag named in `end_tags` (left unconsumed) or the end of input.
    std::vector<Node> parse_body(std::initializer_list<const char*> end_tags, const char* block) {
        DepthGuard guard(*this);
        std::vector<Node> nodes;
        while (true) {
            const Token& t = cur();
            if (t.type == TokenType::kEof) {
                if (end_tags.size() == 0) return nodes;
                std::string want;
                for (const char* e : end_tags) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
                fail("unexpected end of template: '" + std::string(block) + "' block is not closed (expected " + want +
                     ")");
            }
            if (t.type == TokenType::kText) {
                Node n;
                n.kind = Node::Kind::kText;
                n.offset = t.offset;
                n.text = t.value;
                nodes.push_back(std::move(n));
                advance();
            } else if (t.type == TokenType::kVarBegin) {
                Node n;
                n.kind = Node::Kind::kOutput;
                n.offset = t.offset;
                advance();
                n.expr = parse_tuple(true);
                expect(TokenType::kVarEnd);
                nodes.push_back(std::move(n));
            } else if (t.type == TokenType::kBlockBegin) {
                const Token& name = peek();
                if (name.type == TokenType::kName &&
                    std::any_of(end_tags.begin(), end_tags.end(), [&](const char* e) { return name.value == e; })) {
                    return nodes;
                }
                nodes.push_back(parse_statement());
            } else {
                fail_unexpected();
            }
        }
    }

    // Consumes `{% name` of a closing or middle tag that parse_body stopped at; returns the name.
    std::string take_tag() {
        expect(TokenType::kBlockBegin);
        return advance().value;
    }

    Node parse_statement() {
        expect(TokenType::kBlockBegin);
        Node n;
        n.offset = cur().offset;
        if (cur().type != TokenType::kName) fail("expected a statement name, got " + describe(cur()));
        std::string tag = advance().value;
        if (tag == "if") {
            n.kind = Node::Kind::kIf;
            ExprPtr cond = parse_expression(true);
            expect(TokenType::kBlockEnd);
            while (true) {
                std::vector<Node> body = parse_body({"elif", "else", "endif"}, "if");
                n.branches.emplace_back(std::move(cond), std::move(body));
                std::string t = take_tag();
                if (t == "elif") {
                    cond = parse_expression(true);
                    expect(TokenType::kBlockEnd);
                    continue;
                }
                if (t == "else") {
                    expect(TokenType::kBlockEnd);
                    n.else_body = parse_body({"endif"}, "if");
                    take_tag();
                }
                expect(TokenType::kBlockEnd);
                break;
            }
        } else if (tag == "for") {
            n.kind = Node::Kind::kFor;
            n.target = parse_assign_target(false);
            if (!skip_name("in")) fail("expected 'in' in for loop, got " + describe(cur()));
            n.expr = parse_tuple(false);
            if (skip_name("if")) n.filter = parse_expression(true);
            if (is_name("recursive")) fail("recursive for loops are not supported");
            expect(TokenType::kBlockEnd);
            n.body = parse_body({"else", "endfor"}, "for");
            if (take_tag() == "else") {
                expect(TokenType::kBlockEnd);
                n.else_body = parse_body({"endfor"}, "for");
                take_tag();
            }
            expect(TokenType::kBlockEnd);
        } else if (tag == "set") {
            n.target = parse_assign_target(true);
            if (skip_op("=")) {
                n.kind = Node::Kind::kSet;
                n.expr = parse_tuple(true);
                expect(TokenType::kBlockEnd);
            } else {
                if (n.target->kind != Expr::Kind::kName) fail("block set needs a plain name");
                n.kind = Node::Kind::kSetBlock;
                n.text = n.target->name;
                if (is_op("|")) fail("filters on block set are not supported");
                expect(TokenType::kBlockEnd);
                n.body = parse_body({"endset"}, "set");
                take_tag();
                expect(TokenType::kBlockEnd);
            }
        } else if (tag == "macro") {
            n.kind = Node::Kind::kMacro;
            n.text = expect_identifier();
            expect_op("(");
            while (!is_op(")")) {
                if (!n.params.empty()) expect_op(",");
                if (is_op(")")) break;
                std::string param = expect_identifier();
                ExprPtr def;
                if (skip_op("=")) def = parse_expression(true);
                n.params.emplace_back(std::move(param), std::move(def));
            }
            expect_op(")");
            expect(TokenType::kBlockEnd);
            n.body = parse_body({"endmacro"}, "macro");
            take_tag();
            if (cur().type == TokenType::kName) advance();  // {% endmacro name %}
            expect(TokenType::kBlockEnd);
        } else if (tag == "break" || tag == "continue") {
            n.kind = tag == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
            expect(TokenType::kBlockEnd);
        } else if (tag == "with") {
            n.kind = Node::Kind::kWith;
            while (cur().type != TokenType::kBlockEnd) {
                if (!n.params.empty()) expect_op(",");
                std::string var = expect_identifier();
                expect_op("=");
                n.params.emplace_back(std::move(var), parse_expression(true));
            }
            expect(TokenType::kBlockEnd);
            n.body = parse_body({"endwith"}, "with");
            take_tag();
            expect(TokenType::kBlockEnd);
        } else if (tag == "call" || tag == "filter" || tag == "include" || tag == "import" ||
                   tag == "from" || tag == "extends" || tag == "block" || tag == "do" || tag == "generation") {
            pos_ -= 1;
            fail("the '" + tag + "' tag is not supported by sinan's Jinja subset");
        } else {
            pos_ -= 1;
            fail("unknown tag '" + tag + "'");
        }
        return n;
    }

    // for targets: name or tuple of names; set targets also allow ns.attr.
    ExprPtr parse_assign_target(bool allow_attr) {
        size_t offset = cur().offset;
        auto one = [&]() -> ExprPtr {
            if (skip_op("(")) {
                ExprPtr t = parse_assign_target(false);
                expect_op(")");
                return t;
            }
            auto e = make(Expr::Kind::kName, cur().offset);
            e->name = expect_identifier();
            if (allow_attr && is_op(".")) {
                advance();
                auto attr = make(Expr::Kind::kAttr, e->offset);
                attr->name = expect_identifier();
                attr->args.push_back(std::move(e));
                return attr;
            }
            return e;
        };
        ExprPtr first = one();
        if (!is_op(",")) return first;
        auto tuple = make(Expr::Kind::kTuple, offset);
        tuple->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (cur().type != TokenType::kName && !is_op("(")) break;
            tuple->args.push_back(one());
        }
        for (const auto& a : tuple->args) {
            if (a->kind == Expr::Kind::kAttr) fail("cannot assign to an attribute inside a tuple");
        }
        return tuple;
    }

    // ---- expressions ----

    // An expression, or a tuple of them without parentheses (`{{ a, b }}`, `set x = a, b`).
    ExprPtr parse_tuple(bool with_condexpr) {
        size_t offset = cur().offset;
        ExprPtr first = parse_expression(with_condexpr);
        if (!is_op(",")) return first;
        auto tuple = make(Expr::Kind::kTuple, offset);
        tuple->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (cur().type == TokenType::kVarEnd || cur().type == TokenType::kBlockEnd || is_name("if")) break;
            tuple->args.push_back(parse_expression(with_condexpr));
        }
        return tuple;
    }

    ExprPtr parse_expression(bool with_condexpr) {
        DepthGuard guard(*this);
        if (!with_condexpr) return parse_or();
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            size_t offset = cur().offset;
            advance();
            auto cond = make(Expr::Kind::kCond, offset);
            cond->args.push_back(parse_or());
            cond->args.push_back(std::move(expr));
            cond->args.push_back(skip_name("else") ? parse_expression(true) : nullptr);
            expr = std::move(cond);
        }
        return expr;
    }

    ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, size_t offset) {
        auto e = make(Expr::Kind::kBinary, offset);
        e->name = op;
        e->args.push_back(std::move(left));
        e->args.push_back(std::move(right));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (is_name("or")) {
            size_t offset = advance().offset;
            left = binary("or", std::move(left), parse_and(), offset);
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (is_name("and")) {
            size_t offset = advance().offset;
            left = binary("and", std::move(left), parse_not(), offset);
        }
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this);
            auto e = make(Expr::Kind::kUnary, advance().offset);
            e->name = "not";
            e->args.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        size_t offset = cur().offset;
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            const Token& t = cur();
            if (t.type == TokenType::kOperator && (t.value == "==" || t.value == "!=" || t.value == "<" ||
                                                   t.value == ">" || t.value == "<=" || t.value == ">=")) {
                op = t.value;
                advance();
            } else if (is_name("in")) {
                op = "in";
                advance();
            } else if (is_name("not") && peek().type == TokenType::kName && peek().value == "in") {
                op = "not in";
                advance();
                advance();
            } else {
                break;
            }
            if (!cmp) {
                cmp = make(Expr::Kind::kCompare, offset);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& t = advance();
            left = binary(t.value, std::move(left), parse_concat(), t.offset);
        }
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        while (is_op("~")) {
            size_t offset = advance().offset;
            left = binary("~", std::move(left), parse_math2(), offset);
        }
        return left;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& t = advance();
            left = binary(t.value, std::move(left), parse_pow(), t.offset);
        }
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (is_op("**")) {
            size_t offset = advance().offset;
            left = binary("**", std::move(left), parse_unary(true), offset);
        }
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            const Token& t = advance();
            node = make(Expr::Kind::kUnary, t.offset);
            node->name = t.value;
            node->args.push_back(parse_unary(false));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    ExprPtr parse_primary() {
        const Token& t = cur();
        switch (t.type) {
            case TokenType::kName: {
                advance();
                auto e = make(Expr::Kind::kLiteral, t.offset);
                if (t.value == "true" || t.value == "True") {
                    e->literal = Value(true);
                } else if (t.value == "false" || t.value == "False") {
                    e->literal = Value(false);
                } else if (t.value == "none" || t.value == "None") {
                    e->literal = Value::none();
                } else {
                    e->kind = Expr::Kind::kName;
                    e->name = t.value;
                }
                return e;
            }
            case TokenType::kString: {
                auto e = make(Expr::Kind::kLiteral, t.offset);
                std::string s;
                while (cur().type == TokenType::kString) s += advance().value;
                e->literal = Value(std::move(s));
                return e;
            }
            case TokenType::kInt: {
                auto e = make(Expr::Kind::kLiteral, t.offset);
                e->literal = Value(t.int_value);
                advance();
                return e;
            }
            case TokenType::kFloat: {
                auto e = make(Expr::Kind::kLiteral, t.offset);
                e->literal = Value(t.float_value);
                advance();
                return e;
            }
            case TokenType::kOperator:
                if (t.value == "(") return parse_paren();
                if (t.value == "[") return parse_list();
                if (t.value == "{") return parse_dict();
                break;
            default:
                break;
        }
        fail_unexpected();
    }

    ExprPtr parse_paren() {
        size_t offset = advance().offset;
        if (skip_op(")")) return make(Expr::Kind::kTuple, offset);
        ExprPtr first = parse_expression(true);
        if (skip_op(")")) return first;
        auto tuple = make(Expr::Kind::kTuple, offset);
        tuple->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (is_op(")")) break;
            tuple->args.push_back(parse_expression(true));
        }
        expect_op(")");
        return tuple;
    }

    ExprPtr parse_list() {
        auto e = make(Expr::Kind::kList, advance().offset);
        while (!is_op("]")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("]")) break;
            e->args.push_back(parse_expression(true));
        }
        expect_op("]");
        return e;
    }

    ExprPtr parse_dict() {
        auto e = make(Expr::Kind::kDict, advance().offset);
        while (!is_op("}")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("}")) break;
            e->args.push_back(parse_expression(true));
            expect_op(":");
            e->args.push_back(parse_expression(true));
        }
        expect_op("}");
        return e;
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (is_op(".")) {
                size_t offset = advance().offset;
                if (cur().type == TokenType::kInt) {
                    auto item = make(Expr::Kind::kItem, offset);
                    auto idx = make(Expr::Kind::kLiteral, cur().offset);
                    idx->literal = Value(advance().int_value);
                    item->args.push_back(std::move(node));
                    item->args.push_back(std::move(idx));
                    node = std::move(item);
                    continue;
                }
                auto attr = make(Expr::Kind::kAttr, offset);
                attr->name = expect_identifier();
                attr->args.push_back(std::move(node));
                node = std::move(attr);
            } else if (is_op("[")) {
                node = parse_subscript(std::move(node));
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        size_t offset = advance().offset;
        ExprPtr parts[3];
        bool is_slice = false;
        for (int i = 0; i < 3; ++i) {
            if (!is_op(":") && !is_op("]")) parts[i] = parse_expression(true);
            if (i < 2 && skip_op(":")) {
                is_slice = true;
                continue;
            }
            break;
        }
        expect_op("]");
        if (!is_slice) {
            if (!parts[0]) fail("expected an index");
            auto item = make(Expr::Kind::kItem, offset);
            item->args.push_back(std::move(node));
            item->args.push_back(std::move(parts[0]));
            return item;
        }
        auto slice = make(Expr::Kind::kSlice, offset);
        slice->args.push_back(std::move(node));
        for (auto& p : parts) slice->args.push_back(std::move(p));
        return slice;
    }

    // Parses `(args, name=value)` into e->args (after any already there) and e->kwargs.
    void parse_call_args(Expr& e) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
            if (cur().type == TokenType::kName && peek().type == TokenType::kOperator && peek().value == "=") {
                std::string key = advance().value;
                advance();
                e.kwargs.emplace_back(std::move(key), parse_expression(true));
            } else {
                if (!e.kwargs.empty()) fail("positional argument after a keyword argument");
                e.args.push_back(parse_expression(true));
            }
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr node) {
        auto call = make(Expr::Kind::kCall, cur().offset);
        call->args.push_back(std::move(node));
        parse_call_args(*call);
        return call;
    }

    std::string dotted_name() {
        std::string name = expect_identifier();
        while (is_op(".") && peek().type == TokenType::kName) {
            advance();
            name += "." + advance().value;
        }
        return name;
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (is_op("|")) {
                auto f = make(Expr::Kind::kFilter, advance().offset);
                f->name = dotted_name();
                if (!is_known_filter(f->name))
                    throw Error(ErrorKind::kSyntax, "no filter named '" + f->name + "'", f->offset);
                f->args.push_back(std::move(node));
                if (is_op("(")) parse_call_args(*f);
                node = std::move(f);
            } else if (is_name("is")) {
                auto t = make(Expr::Kind::kTest, advance().offset);
                t->negated = skip_name("not");
                t->name = dotted_name();
                if (!is_known_test(t->name))
                    throw Error(ErrorKind::kSyntax, "no test named '" + t->name + "'", t->offset);
                t->args.push_back(std::move(node));
                const Token& c = cur();
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if ((c.type == TokenType::kName || c.type == TokenType::kString || c.type == TokenType::kInt ||
                            c.type == TokenType::kFloat || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail("you cannot chain multiple tests with is");
                    t->args.push_back(parse_postfix(parse_primary()));
                }
                node = std::move(t);
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    const std::vector<Token>& toks_;
    size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

std::vector<Node> parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse(); }

}  // namespace sinan::text::jinja
