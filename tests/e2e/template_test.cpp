// `sinan template` through the real binary: a GGUF holding a real chat template renders exactly
// the golden text from Jinja2 (tests/data/chat-templates/golden.json), a .jinja file with
// --bos-token/--eos-token too, and user errors exit 2 with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/writer.h"
#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kTemplates = fs::path(SINAN_SHARED_DIR) / "data" / "chat-templates";
const fs::path kData = fs::path(SINAN_TEST_DATA_DIR) / "chat-templates";

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

// The golden case and its conversation.
struct Case {
    Json golden;
    Json conversation;
};

Case find_case(const std::string& tmpl, const std::string& conversation, bool agp) {
    Json golden = Json::parse(read_file(kData / "golden.json"));
    Json convs = Json::parse(read_file(kData / "conversations.json"));
    Case c;
    for (const Json& g : golden["cases"]) {
        if (g["template"] == tmpl && g["conversation"] == conversation && g["add_generation_prompt"] == agp)
            c.golden = g;
    }
    for (const Json& conv : convs["conversations"]) {
        if (conv["name"] == conversation) c.conversation = conv;
    }
    return c;
}

// The messages file `sinan template` reads: {"messages": ..., "tools": ..., extra...}.
std::string messages_file_text(const Json& conversation) {
    Json input = Json::object();
    input["messages"] = conversation["messages"];
    if (conversation.contains("tools")) input["tools"] = conversation["tools"];
    if (conversation.contains("extra")) {
        for (const auto& [k, v] : conversation["extra"].items()) input[k] = v;
    }
    return input.dump();
}

class TemplateCommand : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    // A GGUF with a chat template and a vocabulary whose BOS/EOS are the given texts.
    std::string write_gguf(const std::string& name, const std::string* chat_template, const std::string& bos,
                           const std::string& eos) {
        gguf::Writer w;
        w.set_string("general.architecture", "qwen2");
        if (chat_template) w.set_string("tokenizer.chat_template", *chat_template);
        w.set_strings("tokenizer.ggml.tokens", {"a", bos, eos, "b"});
        w.set_u32("tokenizer.ggml.bos_token_id", 1);
        w.set_u32("tokenizer.ggml.eos_token_id", 2);
        std::string p = path(name);
        Status st = w.write(p);
        EXPECT_TRUE(st.is_ok()) << st.message();
        return p;
    }

    static void expect_user_error(const RunResult& r, const std::string& needle) {
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    }

    std::string dir_;
};

TEST_F(TemplateCommand, DeepSeekR1FromGgufMatchesJinja2) {
    const std::string name = "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja";
    if (!fs::exists(kTemplates / name)) GTEST_SKIP() << kTemplates / name << " is absent";
    for (bool agp : {true, false}) {
        Case c = find_case(name, "reasoning_in_content", agp);
        ASSERT_TRUE(c.golden.contains("output"));
        std::string tmpl = read_file(kTemplates / name);
        std::string model = write_gguf("r1.gguf", &tmpl, c.golden["bos_token"], c.golden["eos_token"]);
        write_file(path("chat.json"), messages_file_text(c.conversation));
        std::vector<std::string> args = {"template", "-m", model, "--messages", path("chat.json")};
        if (!agp) args.push_back("--no-generation-prompt");
        RunResult r = run_sinan(args);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, c.golden["output"].get<std::string>());
    }
}

TEST_F(TemplateCommand, JinjaFileWithToolsAndTokensMatchesJinja2) {
    const std::string name = "Qwen-Qwen2.5-7B-Instruct.jinja";
    if (!fs::exists(kTemplates / name)) GTEST_SKIP() << kTemplates / name << " is absent";
    Case c = find_case(name, "tools_openai_style", true);
    ASSERT_TRUE(c.golden.contains("output"));
    write_file(path("chat.json"), messages_file_text(c.conversation));
    RunResult r = run_sinan({"template", "--template", (kTemplates / name).string(), "--messages", path("chat.json"),
                             "--bos-token", c.golden["bos_token"], "--eos-token", c.golden["eos_token"]});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, c.golden["output"].get<std::string>());
}

TEST_F(TemplateCommand, MessagesArrayFromStdin) {
    write_file(path("t.jinja"), "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
    RunResult r = run_sinan({"template", "--template", path("t.jinja"), "--messages", "-", "--bos-token", "<s>"},
                            R"([{"role": "user", "content": "你好"}])");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "<s>[user] 你好\n");
}

TEST_F(TemplateCommand, RaiseExceptionIsAUserError) {
    const std::string name = "google-gemma-2-2b-it.jinja";
    if (!fs::exists(kTemplates / name)) GTEST_SKIP() << kTemplates / name << " is absent";
    Case c = find_case(name, "system_user", true);
    ASSERT_EQ(c.golden["error_type"], "TemplateError");
    write_file(path("chat.json"), messages_file_text(c.conversation));
    RunResult r = run_sinan({"template", "--template", (kTemplates / name).string(), "--messages", path("chat.json")});
    expect_user_error(r, c.golden["error"].get<std::string>());
}

TEST_F(TemplateCommand, UserErrorsExitTwoWithOneLine) {
    write_file(path("ok.jinja"), "{{ messages[0].content }}");
    write_file(path("bad.jinja"), "line 1\n{% for m in messages %}{{ m.content }");
    write_file(path("chat.json"), R"([{"role": "user", "content": "x"}])");
    write_file(path("broken.json"), R"([{"role": "user", "content": )");
    write_file(path("object.json"), R"({"no_messages": []})");
    std::string no_template = write_gguf("plain.gguf", nullptr, "<s>", "</s>");

    expect_user_error(run_sinan({"template", "--template", path("missing.jinja"), "--messages", path("chat.json")}),
                      "missing.jinja");
    expect_user_error(run_sinan({"template", "--template", path("ok.jinja"), "--messages", path("missing.json")}),
                      "missing.json");
    expect_user_error(run_sinan({"template", "--template", path("ok.jinja"), "--messages", path("broken.json")}),
                      "invalid JSON");
    expect_user_error(run_sinan({"template", "--template", path("ok.jinja"), "--messages", path("object.json")}),
                      "\"messages\"");
    expect_user_error(run_sinan({"template", "-m", no_template, "--messages", path("chat.json")}),
                      "tokenizer.chat_template");
    expect_user_error(run_sinan({"template", "--template", path("bad.jinja"), "--messages", path("chat.json")}),
                      "syntax error at line 2");
    expect_user_error(run_sinan({"template", "--messages", path("chat.json")}), "--model");
}

TEST_F(TemplateCommand, HelpDescribesTheMessagesFile) {
    RunResult r = run_sinan({"template", "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("--messages"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--no-generation-prompt"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sinan::test
