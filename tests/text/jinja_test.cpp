// Jinja features one by one against the real Jinja2 (tests/data/jinja/cases.json, made by
// scripts/gen-jinja-cases.py), plus what only sinan promises: syntax errors name line and column,
// raise_exception's message comes back, and malformed or runaway templates end in an error, never
// a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "text/chat_template.h"

namespace sinan::text {
namespace {

using Json = nlohmann::ordered_json;

Json read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return Json::parse(ss.str());
}

Result<std::string> render(const std::string& source, const Json& context = Json::object(),
                           const RenderOptions& options = {}) {
    Result<ChatTemplate> tmpl = ChatTemplate::parse(source);
    if (!tmpl.ok()) return tmpl.status();
    Json messages = context.contains("messages") ? context["messages"] : Json::array();
    bool agp = context.contains("add_generation_prompt") && context["add_generation_prompt"].get<bool>();
    return tmpl->render(messages, agp, context, options);
}

TEST(Jinja, FeaturesMatchJinja2) {
    Json cases = read_json(SINAN_TEST_DATA_DIR "/jinja/cases.json");
    RenderOptions options;
    options.now_unix = cases["now_unix"].get<int64_t>();
    int n_checked = 0;
    for (const Json& c : cases["cases"]) {
        std::string name = c["name"].get<std::string>();
        std::string source = c["template"].get<std::string>();
        SCOPED_TRACE(name + ": " + source);
        Result<ChatTemplate> tmpl = ChatTemplate::parse(source);
        if (c.value("error_type", "") == "TemplateSyntaxError") {
            ASSERT_FALSE(tmpl.ok()) << "Jinja2 rejects this template: " << c["error"].get<std::string>();
            std::string want = "chat template syntax error at line " + std::to_string(c["line"].get<int>()) + ",";
            EXPECT_EQ(tmpl.status().message().rfind(want, 0), 0u)
                << tmpl.status().message() << "\nJinja2: " << c["error"].get<std::string>();
            ++n_checked;
            continue;
        }
        ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
        const Json& ctx = c["context"];
        Result<std::string> out = tmpl->render(ctx["messages"], ctx["add_generation_prompt"].get<bool>(), ctx, options);
        if (c.contains("output")) {
            ASSERT_TRUE(out.ok()) << out.status().message();
            EXPECT_EQ(*out, c["output"].get<std::string>());
        } else if (c["error_type"] == "TemplateError") {
            ASSERT_FALSE(out.ok());
            EXPECT_EQ(out.status().message(), "chat template raised an exception: " + c["error"].get<std::string>());
        } else {
            EXPECT_FALSE(out.ok()) << "Jinja2 fails with " << c["error_type"].get<std::string>() << ": "
                                   << c["error"].get<std::string>() << "; we rendered: " << (out.ok() ? *out : "");
        }
        ++n_checked;
    }
    EXPECT_GT(n_checked, 100);
}

TEST(Jinja, SyntaxErrorNamesLineAndColumn) {
    Result<std::string> out = render("line one\n  {{ 1 + }}");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message().rfind("chat template syntax error at line 2, column 10:", 0), 0u)
        << out.status().message();
}

TEST(Jinja, RuntimeErrorNamesLine) {
    Result<std::string> out = render("a\nb\n{{ 'x' + 1 }}");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message().rfind("chat template error at line 3, column", 0), 0u) << out.status().message();
    EXPECT_NE(out.status().message().find("can only concatenate str"), std::string::npos) << out.status().message();
}

TEST(Jinja, RaiseExceptionReturnsItsMessage) {
    Result<std::string> out =
        render("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}",
               Json::parse(R"({"messages": [{"role": "system", "content": "x"}]})"));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message(), "chat template raised an exception: System role not supported");
}

TEST(Jinja, OutputLimitStopsRunawayTemplate) {
    RenderOptions options;
    options.max_output_bytes = 1000;
    Result<std::string> out = render("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", Json::object(), options);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("exceeds 1000 bytes"), std::string::npos) << out.status().message();
    out = render("{{ 'x' * 100000 }}", Json::object(), options);
    EXPECT_FALSE(out.ok());
}

TEST(Jinja, LoopIterationLimitStopsRunawayTemplate) {
    RenderOptions options;
    options.max_loop_iterations = 1000;
    Result<std::string> out =
        render("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", Json::object(), options);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("loop iterations"), std::string::npos) << out.status().message();
}

TEST(Jinja, DeepNestingIsAnErrorNotACrash) {
    std::string deep_expr = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
    EXPECT_FALSE(render(deep_expr).ok());
    std::string deep_blocks;
    for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
    EXPECT_FALSE(render(deep_blocks).ok());
    std::string deep_not = "{{ " + std::string(0, ' ');
    for (int i = 0; i < 100000; ++i) deep_not += "not ";
    EXPECT_FALSE(render(deep_not + "x }}").ok());
    std::string deep_unary = "{{ " + std::string(100000, '-') + "1 }}";
    EXPECT_FALSE(render(deep_unary).ok());
    std::string deep_json = std::string(1000, '[') + std::string(1000, ']');
    Result<ChatTemplate> tmpl = ChatTemplate::parse("{{ messages }}");
    ASSERT_TRUE(tmpl.ok());
    EXPECT_FALSE(tmpl->render(Json::parse(deep_json), false).ok());
}

TEST(Jinja, SelfReferenceAndDoublingEndInErrors) {
    // A namespace holding itself prints forever in a naive printer; doubling a list or string in a
    // loop grows past any memory. Both must stop with an error.
    RenderOptions options;
    options.max_output_bytes = 1 << 20;
    EXPECT_FALSE(render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}").ok());
    Result<std::string> out = render(
        "{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
        "{% endfor %}{{ ns.l | length }}",
        Json::object(), options);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("larger than the output limit"), std::string::npos) << out.status().message();
    EXPECT_FALSE(render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                        "{% endfor %}",
                        Json::object(), options)
                     .ok());
    EXPECT_FALSE(render("{{ ['x' * 100000] * 100000000 }}").ok());
}

TEST(Jinja, MalformedTemplatesNeverCrash) {
    // Random cuts and byte flips of a real-looking template: every result is a Status, ok or not.
    const std::string base =
        "{%- set ns = namespace(first=true) -%}{% macro m(x, y=1) %}{{ x ~ y }}{% endmacro %}"
        "{%- for message in messages if message.role != 'x' -%}{%- if loop.first and message['role'] == 'system' %}"
        "{{ '<|sys|>' + message['content'] | trim }}{%- elif message.role in ['user', 'assistant'] -%}"
        "{{ m(message.content.split('</think>')[-1], y=loop.index) }}{% set ns.first = false %}{%- else -%}"
        "{{ raise_exception('bad role') }}{%- endif -%}{%- endfor -%}{{ tools | tojson(indent=2) if tools }}"
        "{% if add_generation_prompt %}{{ {'a': [1, 2.5, none]} }}{% endif %}";
    Json messages =
        Json::parse(R"([{"role": "system", "content": " s "}, {"role": "user", "content": "<think>r</think>u"}])");
    ASSERT_TRUE(render(base, Json{{"messages", messages}}).ok());
    std::mt19937 rng(1234);
    const std::string alphabet = "{}%#-+()[]|.,:'\"~=!<>*/ \nabcxyz019_";
    for (int iter = 0; iter < 3000; ++iter) {
        std::string s = base;
        int n_edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < n_edits && !s.empty(); ++e) {
            size_t pos = rng() % s.size();
            switch (rng() % 3) {
                case 0:
                    s.erase(pos, 1 + rng() % 8);
                    break;
                case 1:
                    s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
                    break;
                default:
                    s[pos] = alphabet[rng() % alphabet.size()];
                    break;
            }
        }
        SCOPED_TRACE("seed 1234, iteration " + std::to_string(iter) + ": " + s);
        Result<std::string> out = render(s, Json{{"messages", messages}, {"add_generation_prompt", true}});
        if (!out.ok()) {
            EXPECT_FALSE(out.status().message().empty());
        }
    }
}

}  // namespace
}  // namespace sinan::text
