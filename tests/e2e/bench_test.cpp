// `sinan bench` through the real binary: the JSON report's tests and fields, the synthetic-model
// cache, a model file, the table, and errors. No timing assertions: speeds only have to be
// positive figures.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/cpu.h"
#include "gguf/tensor_type.h"
#include "kernels/kernels.h"
#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

class BenchCommand : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    std::string dir_;
};

const nlohmann::json* find_test(const nlohmann::json& report, const std::string& name) {
    for (const auto& t : report)
        if (t["test"] == name) return &t;
    return nullptr;
}

// The F16 KV bytes per token `sinan model info` prints for a model file; -1 (a failure added) when absent.
long kv_bytes_per_token(const std::string& model) {
    const RunResult info = run_sinan({"model", "info", model});
    EXPECT_EQ(info.exit_code, 0) << info.err;
    const std::string label = "kv bytes/token  F16 ";
    const size_t at = info.out.find(label);
    EXPECT_NE(at, std::string::npos) << info.out;
    return at == std::string::npos ? -1 : std::stol(info.out.substr(at + label.size()));
}

void expect_common_fields(const nlohmann::json& t, const std::string& type) {
    EXPECT_GT(t["tokens_per_second"].get<double>(), 0.0) << t;
    EXPECT_GE(t["stddev"].get<double>(), 0.0) << t;
    EXPECT_GT(t["median"].get<double>(), 0.0) << t;
    EXPECT_GT(t["bandwidth_gb_per_s"].get<double>(), 0.0) << t;
    EXPECT_EQ(t["type"], type) << t;
    EXPECT_EQ(t["threads"], 2) << t;
    EXPECT_FALSE(t["path"].get<std::string>().empty()) << t;
    EXPECT_FALSE(t["model"].get<std::string>().empty()) << t;
    // The processor the figures were measured on: what this process reads from CPUID too.
    EXPECT_EQ(t["cpu"], cpu::describe_processor()) << t;
    // Whether decoding's packed kernels read ahead on it: this process's rule for the model's type,
    // on the same CPU and environment.
    const std::optional<gguf::TensorType> weight = gguf::type_from_name(type);
    ASSERT_TRUE(weight.has_value()) << type;
    EXPECT_EQ(t["decode_read_ahead"], kernels::decode_read_ahead(*weight)) << t;
}

TEST_F(BenchCommand, SyntheticModelReportsPromptAndGenerationTestsAsJson) {
    const std::vector<std::string> args = {"bench", "--synthetic", "tiny:q8_0", "-p", "16",          "-n", "4",
                                           "-r",    "2",           "-t",        "2",  "--cache-dir", dir_, "--json"};
    RunResult r = run_sinan(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    ASSERT_TRUE(report.is_array());
    ASSERT_EQ(report.size(), 2u) << report;
    const nlohmann::json* pp = find_test(report, "pp16");
    const nlohmann::json* tg = find_test(report, "tg4");
    ASSERT_NE(pp, nullptr) << report;
    ASSERT_NE(tg, nullptr) << report;
    expect_common_fields(*pp, "q8_0");
    expect_common_fields(*tg, "q8_0");
    EXPECT_EQ((*pp)["model"], "tiny");
    EXPECT_FALSE(tg->contains("matmul_profile")) << "only with --profile";
    // Prompt processing is measured against the arithmetic peak, where the path has a probe:
    // peak multiply-adds per second / multiply-adds per token.
    if (pp->contains("arithmetic_gmacs_per_s")) {
        EXPECT_GT((*pp)["limit_tokens_per_second"].get<double>(), 0.0) << *pp;
        EXPECT_GT((*pp)["limit_tokens_per_second"].get<double>(), (*tg)["limit_tokens_per_second"].get<double>())
            << "a batch reads each weight once: its limit is above decoding's";
    } else {
        EXPECT_FALSE(pp->contains("limit_tokens_per_second")) << *pp;
    }
    // Resident memory during the runs, beside what it is made of.
    EXPECT_GT((*tg)["rss_peak_bytes"].get<double>(), (*tg)["weights_bytes"].get<double>());
    EXPECT_GT((*tg)["kv_cache_bytes"].get<double>(), 0.0);
    // Q8_0 weights are repacked at load exactly where the kernel path has a packed layout: every
    // SIMD path (avx2 and avx-vnni read the AVX-512 kernels' panels, the AMX path takes them as they
    // are), not the scalar one.
    EXPECT_EQ((*tg)["packed_weights_bytes"].get<double>() > 0, (*tg)["path"] != "scalar") << *tg;
    EXPECT_GT((*tg)["limit_tokens_per_second"].get<double>(), 0.0);
    // Each run's limit is bandwidth / bytes per token, probed before and after it: within the range
    // of the probes; the test's limit and fraction are the medians of the runs' own.
    const double bytes = (*tg)["bytes_per_token"];
    const double lo = (*tg)["bandwidth_range_gb_per_s"][0].get<double>() * 1e9 / bytes;
    const double hi = (*tg)["bandwidth_range_gb_per_s"][1].get<double>() * 1e9 / bytes;
    ASSERT_EQ((*tg)["runs"].size(), 2u) << *tg;
    std::vector<double> limits, fractions;
    for (const auto& run : (*tg)["runs"]) {
        const double l = run["limit_tokens_per_second"];
        EXPECT_GE(l, lo * (1 - 1e-9)) << *tg;
        EXPECT_LE(l, hi * (1 + 1e-9)) << *tg;
        limits.push_back(l);
        fractions.push_back(run["tokens_per_second"].get<double>() / l);
    }
    EXPECT_NEAR((*tg)["limit_tokens_per_second"].get<double>(), (limits[0] + limits[1]) / 2, 1e-9 * limits[0]);
    EXPECT_NEAR((*tg)["fraction_of_limit"].get<double>(), (fractions[0] + fractions[1]) / 2, 1e-9);
    EXPECT_GE((*tg)["bandwidth_gb_per_s"].get<double>(), (*tg)["bandwidth_range_gb_per_s"][0].get<double>());
    EXPECT_LE((*tg)["bandwidth_gb_per_s"].get<double>(), (*tg)["bandwidth_range_gb_per_s"][1].get<double>());

    // The synthetic model was written to the cache directory once, and is reused.
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir_)) files += e.path().extension() == ".gguf" ? 1 : 0;
    EXPECT_EQ(files, 1);
    const auto written = fs::last_write_time(fs::directory_iterator(dir_)->path());
    RunResult again = run_sinan(args);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.err.find("writing"), std::string::npos) << again.err;
    EXPECT_EQ(fs::last_write_time(fs::directory_iterator(dir_)->path()), written);
}

// "Q8_0 256x512" -> 512; 0 for products that share their input ("A + B").
long matrix_rows(const std::string& matrix) {
    if (matrix.find(" + ") != std::string::npos) return 0;
    return std::stol(matrix.substr(matrix.rfind('x') + 1));
}

// --profile times every matrix product of the timed runs: one output head product per decoded
// token, and per prompt run (its last token's logits); the layers' products with the whole batch.
// A profile row is a matrix's type and shape, so matrices of one shape share a row: the tiny
// shape's output head (512 tokens of vocabulary) is as wide as its FFN, and where the kernel level
// multiplies gate and up one at a time (the scalar level) all three meet in a decoding row.
TEST_F(BenchCommand, ProfileCountsEveryMatrixProductOfTheTimedRuns) {
    const int n_gen = 4, n_prompt = 16, runs = 2;
    RunResult r =
        run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", std::to_string(n_prompt), "-n", std::to_string(n_gen),
                   "-r", std::to_string(runs), "-t", "2", "--cache-dir", dir_, "--json", "--profile"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    const nlohmann::json* pp = find_test(report, "pp16");
    const nlohmann::json* tg = find_test(report, "tg4");
    ASSERT_NE(pp, nullptr) << report;
    ASSERT_NE(tg, nullptr) << report;
    for (const nlohmann::json* t : {pp, tg}) {
        const bool generation = t == tg;
        const nlohmann::json& rows = (*t)["matmul_profile"];
        ASSERT_GE(rows.size(), 3u) << *t;
        double last_seconds = 1e300;
        for (const auto& p : rows) {
            EXPECT_GT(p["calls"].get<long>(), 0) << p;
            EXPECT_GT(p["gb_per_s"].get<double>(), 0.0) << p;
            EXPECT_LE(p["seconds"].get<double>(), last_seconds) << "the longest first: " << rows;
            last_seconds = p["seconds"];
        }
        // The share is the products' time over the timed runs' (their tokens over their rates), of
        // which it is a part: no threshold on speeds, which a shared machine moves.
        double products = 0, timed = 0;
        for (const auto& p : rows) products += p["seconds"].get<double>();
        for (const auto& run : (*t)["runs"])
            timed += (generation ? n_gen : n_prompt) / run["tokens_per_second"].get<double>();
        EXPECT_NEAR((*t)["matmul_seconds_share"].get<double>(), products / timed, 1e-6) << *t;
        EXPECT_GT(products, 0.0) << *t;
        EXPECT_LE(products, timed) << *t;
    }
    // A prompt: the layers' products with all its tokens, once a run; the output head (the widest
    // matrix) with its last token alone.
    const nlohmann::json* head = nullptr;
    std::map<std::string, long> prompt_calls;  // by matrix, every batch size
    for (const auto& p : (*pp)["matmul_profile"]) {
        prompt_calls[p["matrix"]] += p["calls"].get<long>();
        if (p["n_tokens"] == n_prompt) continue;
        EXPECT_EQ(head, nullptr) << "one product with other than the prompt's tokens: " << (*pp)["matmul_profile"];
        head = &p;
    }
    ASSERT_NE(head, nullptr) << (*pp)["matmul_profile"];
    EXPECT_EQ((*head)["n_tokens"], 1) << *head;
    EXPECT_EQ((*head)["calls"], runs) << *head;
    for (const auto& p : (*pp)["matmul_profile"]) {
        EXPECT_LE(matrix_rows(p["matrix"]), matrix_rows((*head)["matrix"])) << "the head is the widest: " << p;
        if (&p != head) {
            EXPECT_EQ(p["calls"].get<long>() % runs, 0) << "whole passes: " << p;
        }
    }
    // Decoding: every product of a prompt pass, with one token, once a token.
    long decode_calls = 0;
    for (const auto& p : (*tg)["matmul_profile"]) {
        EXPECT_EQ(p["n_tokens"], 1) << p;
        EXPECT_EQ(p["calls"], n_gen * prompt_calls[p["matrix"]]) << p;
        decode_calls += p["calls"].get<long>();
    }
    long all_prompt_calls = 0;
    for (const auto& [matrix, calls] : prompt_calls) all_prompt_calls += calls;
    EXPECT_EQ(decode_calls, n_gen * all_prompt_calls) << "the same matrices: " << *tg;
    // The table says the same.
    RunResult text = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "0", "-n", "2", "-r", "1", "-t", "2",
                                "--cache-dir", dir_, "--profile"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("matrix products in tg2's timed runs (--profile)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("GB/s"), std::string::npos) << text.out;
}

TEST_F(BenchCommand, ModelFileWithTableOutput) {
    const fs::path model = kModels / "qwen2-small-q8_0.gguf";
    if (!fs::exists(model)) GTEST_SKIP() << "not found: " << model;
    RunResult json = run_sinan({"bench", "-m", model.string(), "-p", "8", "-n", "2", "-r", "1", "-t", "2", "--json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    const nlohmann::json report = nlohmann::json::parse(json.out);
    ASSERT_NE(find_test(report, "pp8"), nullptr) << report;
    ASSERT_NE(find_test(report, "tg2"), nullptr) << report;
    expect_common_fields(*find_test(report, "tg2"), "q8_0");
    // Weights read per token: less than the file (one row of the embedding), more than half of it.
    const double bytes = (*find_test(report, "tg2"))["bytes_per_token"];
    EXPECT_LT(bytes, static_cast<double>(fs::file_size(model)));
    EXPECT_GT(bytes, static_cast<double>(fs::file_size(model)) / 2);

    RunResult table = run_sinan({"bench", "-m", model.string(), "-p", "8", "-n", "2", "-r", "1", "-t", "2"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    for (const char* s : {"pp8", "tg2", "read bandwidth", "limit", "tokens/s", "resident memory", "kernels: "})
        EXPECT_NE(table.out.find(s), std::string::npos) << s << " in:\n" << table.out;
}

// A long prompt in batches with a sliding window: the report's KV cache is the window plus one
// batch of cells (what the Session holds), times the bytes per token `sinan model info` prints.
TEST_F(BenchCommand, SlidingWindowAndBatchSizeBoundTheKvCache) {
    RunResult r = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "64", "-n", "4", "-b", "16", "--swa-window",
                             "8", "-r", "1", "--warmup", "0", "-t", "2", "--cache-dir", dir_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    const nlohmann::json* pp = find_test(report, "pp64");
    ASSERT_NE(pp, nullptr) << report;
    EXPECT_EQ((*pp)["swa_window"], 8);
    EXPECT_EQ((*pp)["batch_size"], 16);
    EXPECT_EQ((*pp)["repetitions"], 1);
    const long per_token = kv_bytes_per_token(dir_ + "/synth-tiny-q8_0.gguf");
    ASSERT_GT(per_token, 0);
    EXPECT_EQ((*pp)["kv_cache_bytes"].get<long>(), (8 + 16) * per_token);
}

// Tests at a depth (-d, as llama-bench's): named tg4@d40, the KV cache sized for depth + test; -p 0
// leaves the pp test out.
TEST_F(BenchCommand, DepthRunsTheTestsAfterThatManyTokens) {
    RunResult r = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "0", "-n", "4", "-d", "40", "-r", "1",
                             "--warmup", "0", "-t", "2", "--cache-dir", dir_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    ASSERT_EQ(report.size(), 1u) << report;
    const nlohmann::json* tg = find_test(report, "tg4@d40");
    ASSERT_NE(tg, nullptr) << report;
    EXPECT_EQ((*tg)["n_depth"], 40);
    const long per_token = kv_bytes_per_token(dir_ + "/synth-tiny-q8_0.gguf");
    ASSERT_GT(per_token, 0);
    EXPECT_EQ((*tg)["kv_cache_bytes"].get<long>(), (40 + 4) * per_token);
}

// Lists, as llama-bench takes them: one test per value, every test at each depth, in llama-bench's
// order (at each depth the pp tests, then the tg tests); the KV cache is the largest test's.
TEST_F(BenchCommand, ListsOfValuesRunOneTestEach) {
    RunResult r = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "8,16", "-n", "2,4", "-d", "0,8", "-r", "1",
                             "--warmup", "0", "-t", "2", "--cache-dir", dir_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    std::vector<std::string> names;
    for (const auto& t : report) names.push_back(t["test"]);
    EXPECT_EQ(names, (std::vector<std::string>{"pp8", "pp16", "tg2", "tg4", "pp8@d8", "pp16@d8", "tg2@d8", "tg4@d8"}));
    for (const auto& t : report) {
        EXPECT_EQ(t["n_depth"], t["test"].get<std::string>().find("@d8") != std::string::npos ? 8 : 0) << t;
        EXPECT_GT(t["tokens_per_second"].get<double>(), 0.0) << t;
    }
    const long per_token = kv_bytes_per_token(dir_ + "/synth-tiny-q8_0.gguf");
    ASSERT_GT(per_token, 0);
    EXPECT_EQ(report[0]["kv_cache_bytes"].get<long>(), (8 + 16) * per_token);
}

// A list of thread counts loads the model for each and runs every test with it, in order.
TEST_F(BenchCommand, ThreadListsRunEveryTestWithEachCount) {
    RunResult r = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "8", "-n", "2", "-r", "1", "--warmup", "0",
                             "-t", "1,2", "--cache-dir", dir_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = nlohmann::json::parse(r.out);
    ASSERT_EQ(report.size(), 4u) << report;
    const std::vector<std::pair<std::string, int>> want = {{"pp8", 1}, {"tg2", 1}, {"pp8", 2}, {"tg2", 2}};
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(report[i]["test"], want[i].first) << report[i];
        EXPECT_EQ(report[i]["threads"], want[i].second) << report[i];
        EXPECT_GT(report[i]["rss_peak_bytes"].get<double>(), report[i]["weights_bytes"].get<double>()) << report[i];
    }
    RunResult table = run_sinan({"bench", "--synthetic", "tiny:q8_0", "-p", "0", "-n", "2", "-r", "1", "--warmup", "0",
                                 "-t", "1,2", "--cache-dir", dir_});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    for (const char* s : {"1,2 threads", "== 1 thread\n", "== 2 threads\n"})
        EXPECT_NE(table.out.find(s), std::string::npos) << s << " in:\n" << table.out;
}

TEST_F(BenchCommand, ErrorsAreOneLineWithExitCode2) {
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"bench", "-m", dir_ + "/missing.gguf"}, "missing.gguf"},
        {{"bench", "--synthetic", "no-such-shape:q8_0", "--cache-dir", dir_}, "no-such-shape"},
        {{"bench", "--synthetic", "tiny:q9_9", "--cache-dir", dir_}, "q9_9"},
        {{"bench", "--synthetic", "tiny", "--cache-dir", dir_}, "SHAPE:TYPE"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-p", "-1"}, "-p"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-p", "8,-1"}, "-p"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-n", "4,x"}, "-n"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-t", "2,-1"}, "-t"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-n", "-1"}, "-n"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-p", "0", "-n", "0"}, "nothing to measure"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-d", "-1"}, "-d"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-r", "0"}, "-r"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "-b", "0"}, "-b"},
        {{"bench", "--synthetic", "tiny:q8_0", "--cache-dir", dir_, "--warmup", "-1"}, "--warmup"},
        {{"bench"}, "-m"},
    };
    for (const Case& c : cases) {
        RunResult r = run_sinan(c.args);
        EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find("sinan: error: "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    }
    EXPECT_TRUE(fs::is_empty(dir_)) << "no model is written when the arguments are wrong";
}

}  // namespace
}  // namespace sinan::test
