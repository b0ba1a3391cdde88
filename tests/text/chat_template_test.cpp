// Every chat template in ../shared/data/chat-templates rendered with every conversation of
// tests/data/chat-templates/conversations.json must match what the real Jinja2 produced
// (tests/data/chat-templates/golden.json, made by scripts/gen-chat-template-golden.py).
#include "text/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "gguf/writer.h"

namespace sinan::text {
namespace {

using Json = nlohmann::ordered_json;

const std::string kTemplateDir = SINAN_SHARED_DIR "/data/chat-templates/";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Json read_json(const std::string& path) { return Json::parse(read_file(path)); }

struct Golden {
    Json golden = read_json(SINAN_TEST_DATA_DIR "/chat-templates/golden.json");
    std::map<std::string, Json> conversations;
    Golden() {
        Json file = read_json(SINAN_TEST_DATA_DIR "/chat-templates/conversations.json");
        for (const Json& c : file["conversations"]) {
            conversations[c["name"].get<std::string>()] = c;
        }
    }
};

// Renders every golden case whose template name satisfies `select`; returns how many were checked.
template <typename Select>
int check_golden(Select select) {
    Golden g;
    std::map<std::string, Result<ChatTemplate>> templates;
    int n_checked = 0;
    for (const Json& c : g.golden["cases"]) {
        std::string name = c["template"].get<std::string>();
        if (!select(name)) continue;
        auto it = templates.find(name);
        if (it == templates.end()) {
            it = templates.emplace(name, ChatTemplate::parse(read_file(kTemplateDir + name))).first;
            EXPECT_TRUE(it->second.ok()) << name << ": " << it->second.status().message();
        }
        if (!it->second.ok()) continue;
        ChatTemplate tmpl = *it->second;
        tmpl.set_special_tokens(c["bos_token"].get<std::string>(), c["eos_token"].get<std::string>());
        const Json& conv = g.conversations.at(c["conversation"].get<std::string>());
        Json extra = Json::object();
        if (conv.contains("tools")) extra["tools"] = conv["tools"];
        if (conv.contains("extra")) {
            for (const auto& [k, v] : conv["extra"].items()) extra[k] = v;
        }
        RenderOptions options;
        options.now_unix = g.golden["now_unix"].get<int64_t>();
        bool agp = c["add_generation_prompt"].get<bool>();
        Result<std::string> out = tmpl.render(conv["messages"], agp, extra, options);
        std::string label = name + " x " + c["conversation"].get<std::string>() + (agp ? " (generation prompt)" : "");
        if (c.contains("output")) {
            EXPECT_TRUE(out.ok()) << label << ": " << out.status().message();
            if (out.ok()) {
                EXPECT_EQ(*out, c["output"].get<std::string>()) << label;
            }
        } else if (c["error_type"] == "TemplateError") {
            EXPECT_FALSE(out.ok()) << label << ": expected raise_exception";
            if (!out.ok()) {
                EXPECT_EQ(out.status().message(), "chat template raised an exception: " + c["error"].get<std::string>())
                    << label;
            }
        } else {
            // Python errors (TypeError, UndefinedError, RecursionError): we must fail too.
            EXPECT_FALSE(out.ok()) << label << ": Jinja2 failed with " << c["error_type"].get<std::string>() << ": "
                                   << c["error"].get<std::string>() << ", we rendered:\n"
                                   << (out.ok() ? *out : "");
        }
        ++n_checked;
    }
    return n_checked;
}

bool is_deepseek(const std::string& name) { return name.find("deepseek") != std::string::npos; }

TEST(ChatTemplateGolden, DeepSeekTemplatesMatchJinja2) {
    if (!std::filesystem::exists(kTemplateDir)) GTEST_SKIP() << kTemplateDir << " is absent";
    EXPECT_GT(check_golden(is_deepseek), 0);
}

TEST(ChatTemplateGolden, OtherTemplatesMatchJinja2) {
    if (!std::filesystem::exists(kTemplateDir)) GTEST_SKIP() << kTemplateDir << " is absent";
    EXPECT_GT(check_golden([](const std::string& n) { return !is_deepseek(n); }), 0);
}

TEST(ChatTemplateGolden, GoldenCoversEveryTemplate) {
    if (!std::filesystem::exists(kTemplateDir)) GTEST_SKIP() << kTemplateDir << " is absent";
    Golden g;
    std::set<std::string> covered;
    for (const Json& c : g.golden["cases"]) covered.insert(c["template"].get<std::string>());
    for (const auto& entry : std::filesystem::directory_iterator(kTemplateDir)) {
        if (entry.path().extension() != ".jinja") continue;
        EXPECT_TRUE(covered.count(entry.path().filename().string()))
            << entry.path() << " has no golden cases: rerun scripts/gen-chat-template-golden.py";
    }
}

TEST(ChatTemplateGolden, DeepSeekR1DropsReasoningOfEarlierTurns) {
    // The behaviour the golden data pins down, stated directly for the template sinan ships for R1.
    std::string path = kTemplateDir + "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    Result<ChatTemplate> tmpl = ChatTemplate::parse(read_file(path));
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
    Json messages = Json::parse(R"([{"role": "user", "content": "q"},
        {"role": "assistant", "content": "<think>\nsecret\n</think>\n\nanswer"},
        {"role": "user", "content": "q2"}])");
    Result<std::string> out = tmpl->render(messages, true, Json{{"enable_thinking", true}});
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->find("secret"), std::string::npos) << *out;
    EXPECT_NE(out->find("answer"), std::string::npos) << *out;
    EXPECT_TRUE(out->ends_with("<｜Assistant｜><think>\n")) << *out;
}

TEST(ChatTemplate, FromGgufReadsTemplateAndSpecialTokens) {
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.chat_template",
                 "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}");
    w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hi"});
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    std::vector<uint8_t> bytes = w.to_bytes();
    Result<gguf::File> file = gguf::File::parse(bytes.data(), bytes.size(), "mem.gguf");
    ASSERT_TRUE(file.ok()) << file.status().message();
    Result<ChatTemplate> tmpl = ChatTemplate::from_gguf(*file);
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
    EXPECT_EQ(tmpl->bos_token(), "<s>");
    EXPECT_EQ(tmpl->eos_token(), "</s>");
    Result<std::string> out = tmpl->render(Json::parse(R"([{"role": "user", "content": "hello"}])"), false);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(*out, "<s>hello</s>");
}

TEST(ChatTemplate, FromGgufWithoutTemplateIsAnError) {
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    std::vector<uint8_t> bytes = w.to_bytes();
    Result<gguf::File> file = gguf::File::parse(bytes.data(), bytes.size(), "mem.gguf");
    ASSERT_TRUE(file.ok()) << file.status().message();
    Result<ChatTemplate> tmpl = ChatTemplate::from_gguf(*file);
    ASSERT_FALSE(tmpl.ok());
    EXPECT_NE(tmpl.status().message().find("tokenizer.chat_template"), std::string::npos);
}

}  // namespace
}  // namespace sinan::text
