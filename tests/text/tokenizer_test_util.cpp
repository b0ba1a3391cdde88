#include "tokenizer_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace sinan::text::test {
namespace {

const std::string kVectors = SINAN_SHARED_DIR "/data/llamacpp-vocab-tests/";
const std::string kModels = SINAN_SHARED_DIR "/models/";

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

std::string vocab_gguf_path(const std::string& name) {
    const std::string file = "ggml-vocab-" + (name == "qwen2" ? std::string("deepseek-r1-qwen") : name) + ".gguf";
    for (const std::string& dir : {kVectors, kModels}) {
        if (std::filesystem::exists(dir + file)) return dir + file;
    }
    return "";
}

std::vector<VocabCase> read_vocab_cases(const std::string& name) {
    const std::string base = kVectors + "ggml-vocab-" + name + ".gguf";
    if (!std::filesystem::exists(base + ".inp") || !std::filesystem::exists(base + ".out")) return {};
    const std::string inp = read_file(base + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    size_t pos = 0;
    while (pos < inp.size()) {
        const size_t next = inp.find(sep, pos);
        if (next == std::string::npos) {
            texts.push_back(inp.substr(pos));
            break;
        }
        texts.push_back(inp.substr(pos, next - pos));
        pos = next + sep.size();
    }
    std::ifstream out(base + ".out");
    std::vector<VocabCase> cases;
    std::string line;
    for (size_t i = 0; std::getline(out, line); ++i) {
        VocabCase c;
        c.text = i < texts.size() ? texts[i] : std::string();
        std::istringstream ls(line);
        for (int32_t id; ls >> id;) c.ids.push_back(id);
        cases.push_back(std::move(c));
    }
    EXPECT_EQ(cases.size(), texts.size()) << base << ": .inp and .out disagree on the number of cases";
    return cases;
}

const Tokenizer* cached_tokenizer(const std::string& gguf_path) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    if (gguf_path.empty() || !std::filesystem::exists(gguf_path)) return nullptr;
    auto it = cache.find(gguf_path);
    if (it != cache.end()) return it->second.get();
    Result<gguf::File> file = gguf::File::open(gguf_path);
    if (!file.ok()) {
        ADD_FAILURE() << file.message();
        return nullptr;
    }
    Result<Tokenizer> tok = Tokenizer::from_gguf(*file);
    if (!tok.ok()) {
        ADD_FAILURE() << tok.message();
        return nullptr;
    }
    return cache.emplace(gguf_path, std::make_unique<Tokenizer>(std::move(*tok))).first->second.get();
}

}  // namespace sinan::text::test
