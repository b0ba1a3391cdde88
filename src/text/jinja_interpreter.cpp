#include "text/jinja_interpreter.h"

#include <ctime>

namespace sinan::text::jinja {
namespace {

struct Scope {
    explicit Scope(std::shared_ptr<Scope> parent) : parent(std::move(parent)) {}

    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent.get()) {
            for (const auto& [k, v] : s->vars) {
                if (k == name) return &v;
            }
        }
        return nullptr;
    }
    void set(const std::string& name, Value v) {
        for (auto& [k, old] : vars) {
            if (k == name) {
                old = std::move(v);
                return;
            }
        }
        vars.emplace_back(name, std::move(v));
    }

    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { kNormal, kBreak, kContinue };

std::string format_time(const std::string& fmt, const std::optional<int64_t>& now_unix) {
    std::tm tm{};
    if (now_unix) {
        auto t = static_cast<std::time_t>(*now_unix);
        gmtime_r(&t, &tm);
    } else {
        std::time_t t = std::time(nullptr);
        localtime_r(&t, &tm);
    }
    if (fmt.empty()) return "";
    std::vector<char> buf(fmt.size() * 8 + 256);
    size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n == 0) throw_runtime("strftime_now: format '" + fmt + "' produced no output or is too long");
    return std::string(buf.data(), n);
}

class Interpreter {
  public:
    explicit Interpreter(const RenderSettings& settings) : settings_(settings) {}

    std::string render(const std::vector<Node>& nodes, const Dict& context) {
        NamespaceArena arena;  // declared first: it empties namespaces after everything else is gone
        auto root = std::make_shared<Scope>(nullptr);
        add_globals(*root);
        for (const auto& [k, v] : context.entries) root->set(to_str(k), v);
        std::string out;
        exec_body(nodes, out, root);
        return out;
    }

  private:
    void add_globals(Scope& s) {
        const RenderLimits& limits = settings_.limits;
        s.set("range", Value::function("range", [limits](CallArgs& a) { return make_range(a, limits); }));
        s.set("namespace", Value::function("namespace", [](CallArgs& a) { return make_namespace(a); }));
        s.set("dict", Value::function("dict", [](CallArgs& a) { return make_dict(a); }));
        s.set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
                  throw Error(ErrorKind::kRaised, a.args.empty() ? std::string() : to_str(a.args[0]));
              }));
        std::optional<int64_t> now = settings_.now_unix;
        s.set("strftime_now", Value::function("strftime_now", [now](CallArgs& a) {
                  if (a.args.size() != 1 || !a.args[0].is_string())
                      throw_runtime("strftime_now(format) needs one string");
                  return Value(format_time(a.args[0].as_string(), now));
              }));
    }

    void append(std::string& out, const std::string& text) const {
        if (out.size() + text.size() > settings_.limits.max_output_bytes) {
            throw Error(ErrorKind::kLimit,
                        "rendered output exceeds " + std::to_string(settings_.limits.max_output_bytes) + " bytes");
        }
        out += text;
    }

    Flow exec_body(const std::vector<Node>& nodes, std::string& out, const ScopePtr& scope) {
        for (const Node& n : nodes) {
            Flow f;
            try {
                f = exec(n, out, scope);
            } catch (Error& e) {
                if (e.offset == Error::kNoOffset) e.offset = n.offset;
                throw;
            }
            if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
    }

    Flow exec(const Node& n, std::string& out, const ScopePtr& scope) {
        switch (n.kind) {
            case Node::Kind::kText:
                append(out, n.text);
                return Flow::kNormal;
            case Node::Kind::kOutput:
                append(out, to_str(eval(*n.expr, scope)));
                return Flow::kNormal;
            case Node::Kind::kIf:
                for (const auto& [cond, body] : n.branches) {
                    if (truthy(eval(*cond, scope))) return exec_body(body, out, scope);
                }
                return exec_body(n.else_body, out, scope);
            case Node::Kind::kFor:
                return exec_for(n, out, scope);
            case Node::Kind::kSet:
                assign(*n.target, eval(*n.expr, scope), scope);
                return Flow::kNormal;
            case Node::Kind::kSetBlock: {
                std::string captured;
                exec_body(n.body, captured, scope);
                scope->set(n.text, Value(std::move(captured)));
                return Flow::kNormal;
            }
            case Node::Kind::kMacro:
                scope->set(n.text, make_macro(n, scope));
                return Flow::kNormal;
            case Node::Kind::kBreak:
                return Flow::kBreak;
            case Node::Kind::kContinue:
                return Flow::kContinue;
            case Node::Kind::kWith: {
                auto inner = std::make_shared<Scope>(scope);
                for (const auto& [name, expr] : n.params) inner->set(name, eval(*expr, scope));
                return exec_body(n.body, out, inner);
            }
        }
        return Flow::kNormal;
    }

    void assign(const Expr& target, Value value, const ScopePtr& scope) {
        if (target.kind == Expr::Kind::kName) {
            scope->set(target.name, std::move(value));
        } else if (target.kind == Expr::Kind::kAttr) {
            Value ns = eval(*target.args[0], scope);
            if (ns.kind() != Value::Kind::kNamespace) {
                require_defined(ns);
                throw_runtime("cannot assign attribute on non-namespace object");
            }
            ns.as_dict().set(Value(target.name), std::move(value));
        } else {
            std::vector<Value> items = iterate(value);
            if (items.size() != target.args.size()) {
                throw_runtime(items.size() < target.args.size()
                                  ? "not enough values to unpack (expected " + std::to_string(target.args.size()) +
                                        ", got " + std::to_string(items.size()) + ")"
                                  : "too many values to unpack (expected " + std::to_string(target.args.size()) + ")");
            }
            for (size_t i = 0; i < items.size(); ++i) assign(*target.args[i], std::move(items[i]), scope);
        }
    }

    void count_iteration() {
        if (++iterations_ > settings_.limits.max_loop_iterations) {
            throw Error(ErrorKind::kLimit,
                        "more than " + std::to_string(settings_.limits.max_loop_iterations) + " loop iterations");
        }
    }

    Flow exec_for(const Node& n, std::string& out, const ScopePtr& scope) {
        std::vector<Value> items = iterate(eval(*n.expr, scope));
        if (n.filter) {
            std::vector<Value> kept;
            for (Value& item : items) {
                count_iteration();
                auto probe = std::make_shared<Scope>(scope);
                assign(*n.target, item, probe);
                if (truthy(eval(*n.filter, probe))) kept.push_back(std::move(item));
            }
            items = std::move(kept);
        }
        if (items.empty()) {
            exec_body(n.else_body, out, std::make_shared<Scope>(scope));
            return Flow::kNormal;
        }
        auto length = static_cast<int64_t>(items.size());
        auto last_changed = std::make_shared<std::optional<Value>>();
        for (int64_t i = 0; i < length; ++i) {
            count_iteration();
            auto inner = std::make_shared<Scope>(scope);
            assign(*n.target, items[static_cast<size_t>(i)], inner);
            Value loop = Value::new_namespace();
            Dict& l = loop.as_dict();
            l.set("index", Value(i + 1));
            l.set("index0", Value(i));
            l.set("revindex", Value(length - i));
            l.set("revindex0", Value(length - i - 1));
            l.set("first", Value(i == 0));
            l.set("last", Value(i == length - 1));
            l.set("length", Value(length));
            l.set("depth", Value(1));
            l.set("depth0", Value(0));
            l.set("previtem",
                  i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
            l.set("nextitem",
                  i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
            l.set("cycle", Value::function("cycle", [i](CallArgs& a) {
                      if (a.args.empty()) throw_runtime("no items for cycling given");
                      return a.args[static_cast<size_t>(i) % a.args.size()];
                  }));
            l.set("changed", Value::function("changed", [last_changed](CallArgs& a) {
                      Value now = Value::list(a.args, ListForm::kTuple);
                      if (*last_changed && equals(**last_changed, now)) return Value(false);
                      *last_changed = now;
                      return Value(true);
                  }));
            inner->set("loop", std::move(loop));
            if (exec_body(n.body, out, inner) == Flow::kBreak) break;
        }
        return Flow::kNormal;
    }

    Value make_macro(const Node& n, const ScopePtr& scope) {
        std::weak_ptr<Scope> def_scope = scope;  // the macro lives in that scope: avoid a cycle
        return Value::function(n.text, [this, &n, def_scope](CallArgs& a) {
            ScopePtr parent = def_scope.lock();
            if (!parent) throw_runtime("macro '" + n.text + "' called after its scope ended");
            if (++call_depth_ > settings_.limits.max_call_depth) {
                --call_depth_;
                throw Error(ErrorKind::kLimit, "macro calls nested deeper than " +
                                                   std::to_string(settings_.limits.max_call_depth) + " levels");
            }
            struct DepthRestore {
                int& d;
                ~DepthRestore() { --d; }
            } restore{call_depth_};
            auto inner = std::make_shared<Scope>(parent);
            std::vector<Value> varargs;
            for (size_t i = 0; i < a.args.size(); ++i) {
                if (i < n.params.size())
                    inner->set(n.params[i].first, a.args[i]);
                else
                    varargs.push_back(a.args[i]);
            }
            auto kwargs = std::make_shared<Dict>();
            for (const auto& [k, v] : a.kwargs) {
                bool is_param = false;
                for (const auto& p : n.params) is_param |= p.first == k;
                if (is_param)
                    inner->set(k, v);
                else
                    kwargs->set(Value(k), v);
            }
            for (size_t i = a.args.size(); i < n.params.size(); ++i) {
                const auto& [pname, def] = n.params[i];
                bool given = false;
                for (const auto& kw : a.kwargs) given |= kw.first == pname;
                if (!given)
                    inner->set(pname, def ? eval(*def, inner)
                                          : Value::undefined("parameter '" + pname + "' was not provided"));
            }
            inner->set("varargs", Value::list(std::move(varargs)));
            inner->set("kwargs", Value::dict(kwargs));
            std::string out;
            exec_body(n.body, out, inner);
            return Value(std::move(out));
        });
    }

    Value call(const Value& callee, CallArgs& args) {
        if (callee.kind() != Value::Kind::kFunction) {
            require_defined(callee);
            throw_runtime("'" + type_name(callee) + "' object is not callable");
        }
        return callee.as_function().call(args);
    }

    CallArgs eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
        CallArgs a;
        for (size_t i = first; i < e.args.size(); ++i) a.args.push_back(eval(*e.args[i], scope));
        for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v, scope));
        return a;
    }

    Value eval(const Expr& e, const ScopePtr& scope) {
        try {
            return eval_inner(e, scope);
        } catch (Error& err) {
            if (err.offset == Error::kNoOffset) err.offset = e.offset;
            throw;
        }
    }

    Value eval_inner(const Expr& e, const ScopePtr& scope) {
        const RenderLimits& limits = settings_.limits;
        switch (e.kind) {
            case Expr::Kind::kLiteral:
                return e.literal;
            case Expr::Kind::kName: {
                const Value* v = scope->find(e.name);
                return v ? *v : Value::undefined("'" + e.name + "' is undefined");
            }
            case Expr::Kind::kList:
            case Expr::Kind::kTuple: {
                std::vector<Value> items;
                for (const auto& a : e.args) items.push_back(eval(*a, scope));
                return Value::list(std::move(items), e.kind == Expr::Kind::kList ? ListForm::kList : ListForm::kTuple);
            }
            case Expr::Kind::kDict: {
                auto d = std::make_shared<Dict>();
                for (size_t i = 0; i + 1 < e.args.size(); i += 2)
                    d->set(eval(*e.args[i], scope), eval(*e.args[i + 1], scope));
                return Value::dict(std::move(d));
            }
            case Expr::Kind::kAttr:
                return get_attribute(eval(*e.args[0], scope), e.name);
            case Expr::Kind::kItem:
                return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
            case Expr::Kind::kSlice: {
                Value obj = eval(*e.args[0], scope);
                Value parts[3];
                for (int i = 0; i < 3; ++i) {
                    if (e.args[static_cast<size_t>(i) + 1]) parts[i] = eval(*e.args[static_cast<size_t>(i) + 1], scope);
                }
                return get_slice(obj, parts[0], parts[1], parts[2]);
            }
            case Expr::Kind::kCall: {
                Value callee = eval(*e.args[0], scope);
                CallArgs a = eval_args(e, 1, scope);
                return call(callee, a);
            }
            case Expr::Kind::kFilter: {
                Value input = eval(*e.args[0], scope);
                CallArgs a = eval_args(e, 1, scope);
                return apply_filter(e.name, input, a, limits);
            }
            case Expr::Kind::kTest: {
                Value input = eval(*e.args[0], scope);
                CallArgs a = eval_args(e, 1, scope);
                return Value(apply_test(e.name, input, a) != e.negated);
            }
            case Expr::Kind::kUnary: {
                Value v = eval(*e.args[0], scope);
                if (e.name == "not") return Value(!truthy(v));
                require_defined(v);
                if (!v.is_number()) throw_runtime("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
                if (e.name == "+") return v.kind() == Value::Kind::kFloat ? v : Value(v.as_int());
                if (v.kind() == Value::Kind::kFloat) return Value(-v.as_float());
                if (v.as_int() == INT64_MIN) throw_runtime("integer overflow");
                return Value(-v.as_int());
            }
            case Expr::Kind::kBinary: {
                Value left = eval(*e.args[0], scope);
                if (e.name == "and") return truthy(left) ? eval(*e.args[1], scope) : left;
                if (e.name == "or") return truthy(left) ? left : eval(*e.args[1], scope);
                return binary_op(e.name, left, eval(*e.args[1], scope), limits);
            }
            case Expr::Kind::kCompare: {
                Value left = eval(*e.args[0], scope);
                for (size_t i = 0; i < e.ops.size(); ++i) {
                    Value right = eval(*e.args[i + 1], scope);
                    const std::string& op = e.ops[i];
                    bool r;
                    if (op == "==")
                        r = equals(left, right);
                    else if (op == "!=")
                        r = !equals(left, right);
                    else if (op == "<")
                        r = compare(left, right) < 0;
                    else if (op == "<=")
                        r = compare(left, right) <= 0;
                    else if (op == ">")
                        r = compare(left, right) > 0;
                    else if (op == ">=")
                        r = compare(left, right) >= 0;
                    else if (op == "in")
                        r = contains(right, left);
                    else
                        r = !contains(right, left);
                    if (!r) return Value(false);
                    left = std::move(right);
                }
                return Value(true);
            }
            case Expr::Kind::kCond:
                if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
                if (e.args[2]) return eval(*e.args[2], scope);
                return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
        }
        return Value();
    }

    const RenderSettings& settings_;
    int64_t iterations_ = 0;
    int call_depth_ = 0;
};

}  // namespace

std::string render_nodes(const std::vector<Node>& nodes, const Dict& context, const RenderSettings& settings) {
    return Interpreter(settings).render(nodes, context);
}

}  // namespace sinan::text::jinja
