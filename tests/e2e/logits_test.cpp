// `sinan logits` prints the golden files' format, so any golden file can be checked from the
// command line: its output for the reference token ids is compared with the reference logits.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

TEST(LogitsCommand, PrintsTheGoldenFormatAndMatchesTheReference) {
    const fs::path model = kModels / "stories260K.gguf";
    const fs::path golden = kModels / "golden" / "stories260K.logits.json";
    if (!fs::exists(model) || !fs::exists(golden)) GTEST_SKIP() << "reference files not found in " << kModels;
    std::ifstream in(golden);
    const nlohmann::json g = nlohmann::json::parse(in);
    std::vector<std::string> args = {"logits", "-m", model.string()};
    for (const auto& seq : g["sequences"]) {
        std::string ids;
        for (int t : seq["tokens"]) ids += (ids.empty() ? "" : ",") + std::to_string(t);
        args.push_back("--tokens");
        args.push_back(ids);
    }
    RunResult r = run_sinan(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json ours = nlohmann::json::parse(r.out);
    ASSERT_EQ(ours["sequences"].size(), g["sequences"].size());
    for (size_t s = 0; s < g["sequences"].size(); ++s) {
        const auto& ref = g["sequences"][s];
        const auto& out = ours["sequences"][s];
        EXPECT_EQ(out["tokens"], ref["tokens"]);
        ASSERT_EQ(out["logits"].size(), ref["logits"].size());
        for (size_t i = 0; i < ref["logits"].size(); ++i) {
            const std::vector<double> a = out["logits"][i], b = ref["logits"][i];
            ASSERT_EQ(a.size(), b.size());
            double diff = 0, norm = 0;
            for (size_t v = 0; v < a.size(); ++v) diff += (a[v] - b[v]) * (a[v] - b[v]), norm += b[v] * b[v];
            EXPECT_LT(std::sqrt(diff / norm), 1e-3) << "sequence " << s << " position " << i;
        }
    }
}

TEST(LogitsCommand, BadInputGivesOneLineAndExitCode2) {
    const fs::path model = kModels / "stories260K.gguf";
    if (!fs::exists(model)) GTEST_SKIP() << "not found: " << model;
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"logits", "-m", model.string(), "--tokens", "1,x,3"},
             {"logits", "-m", model.string(), "--tokens", "1,-2"},
             {"logits", "-m", model.string(), "--tokens", "1,99999"},  // outside the vocabulary
             {"logits", "-m", "/no/such.gguf", "--tokens", "1"},
             {"logits", "-m", model.string()},
         }) {
        RunResult r = run_sinan(args);
        EXPECT_EQ(r.exit_code, 2) << args.back() << " " << r.err;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << r.err;
        EXPECT_TRUE(r.out.empty());
    }
}

}  // namespace
}  // namespace sinan::test
