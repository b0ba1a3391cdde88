// VectorIndex against exact search (brute force written here, independent of hnswlib), removal,
// growth, and the file: round trip, atomic replacement, corruption reported as a Status.
#include "knowledge/vector_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <latch>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_THREAD__)
// hnswlib's addPoint locks the new element's link list and then its neighbours' (its scheme for
// concurrent inserts), which ThreadSanitizer's deadlock detector reports as lock-order inversions
// by the hundred, partly without stacks a suppression could match. VectorIndex never inserts
// concurrently (add() needs exclusive access), so such a deadlock cannot happen; data races are
// still reported. Scoped to this test binary.
extern "C" const char* __tsan_default_options() { return "detect_deadlocks=0"; }
#endif

namespace sinan::knowledge {
namespace {

std::vector<std::vector<float>> random_vectors(size_t n, size_t dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<std::vector<float>> out(n, std::vector<float>(dim));
    for (auto& v : out)
        for (float& x : v) x = normal(rng);
    return out;
}

// The k labels with the highest cosine to q, by a plain double-precision scan.
std::vector<int64_t> brute_force(const std::vector<std::vector<float>>& data, const std::vector<float>& q, size_t k,
                                 const std::set<int64_t>& skip = {}) {
    auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            ab += double(a[i]) * b[i];
            aa += double(a[i]) * a[i];
            bb += double(b[i]) * b[i];
        }
        return ab / std::sqrt(aa * bb);
    };
    std::vector<std::pair<double, int64_t>> scored;
    for (size_t i = 0; i < data.size(); ++i)
        if (!skip.contains(int64_t(i))) scored.push_back({-cosine(data[i], q), int64_t(i)});
    std::sort(scored.begin(), scored.end());
    std::vector<int64_t> out;
    for (size_t i = 0; i < k && i < scored.size(); ++i) out.push_back(scored[i].second);
    return out;
}

std::filesystem::path temp_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("sinan-vector-index-test-" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

TEST(VectorIndex, GraphRecallAt10AgainstBruteForceIsAtLeast95PercentAtDefaultEf) {
    constexpr size_t kN = 10000, kDim = 64, kQueries = 100, kK = 10;
    const auto data = random_vectors(kN, kDim, 1);
    const auto queries = random_vectors(kQueries, kDim, 2);
    VectorIndex index(kDim);
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(index.add(int64_t(i), data[i]).is_ok());
    ASSERT_EQ(index.size(), kN);
    ASSERT_GE(kN, index.params().exact_below) << "the graph must be searched, not the scan";
    size_t hits = 0;
    for (const auto& q : queries) {
        const std::vector<int64_t> want = brute_force(data, q, kK);
        const std::set<int64_t> want_set(want.begin(), want.end());
        const std::vector<ScoredLabel> got = index.search(q, kK);
        ASSERT_EQ(got.size(), kK);
        for (size_t r = 1; r < got.size(); ++r) EXPECT_GE(got[r - 1].score, got[r].score);
        for (const ScoredLabel& s : got) hits += want_set.contains(s.label);
    }
    const double recall = double(hits) / (kQueries * kK);
    EXPECT_GE(recall, 0.95) << "recall@10 " << recall << " at ef_search " << index.params().ef_search;
}

TEST(VectorIndex, ExactSearchMatchesBruteForceAndScoresAreCosines) {
    constexpr size_t kN = 500, kDim = 16;
    const auto data = random_vectors(kN, kDim, 3);
    VectorIndex index(kDim);
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(index.add(int64_t(i), data[i]).is_ok());
    const auto q = random_vectors(1, kDim, 4)[0];
    const std::vector<int64_t> want = brute_force(data, q, 20);
    const std::vector<ScoredLabel> got = index.search(q, 20);  // below exact_below: a scan
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i].label, want[i]) << "rank " << i;
    // The score is the cosine, whatever the vectors' lengths.
    std::vector<float> scaled = data[want[0]];
    for (float& x : scaled) x *= 7.5f;
    VectorIndex one(kDim);
    ASSERT_TRUE(one.add(42, scaled).is_ok());
    const auto self = one.search(data[want[0]], 1);
    ASSERT_EQ(self.size(), 1u);
    EXPECT_NEAR(self[0].score, 1.0f, 1e-5);
}

TEST(VectorIndex, RemovedLabelsAreNeverReturnedAndReAddingRestoresThem) {
    constexpr size_t kN = 4000, kDim = 32;
    const auto data = random_vectors(kN, kDim, 5);
    VectorIndex index(kDim);
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(index.add(int64_t(i) * 3 - 1000, data[i]).is_ok());
    std::set<int64_t> removed;
    for (size_t i = 0; i < kN; i += 2) {
        ASSERT_TRUE(index.remove(int64_t(i) * 3 - 1000));
        removed.insert(int64_t(i));
    }
    EXPECT_FALSE(index.remove(-1000)) << "removing twice";
    EXPECT_FALSE(index.remove(1)) << "a label never added";
    EXPECT_EQ(index.size(), kN / 2);
    EXPECT_FALSE(index.contains(-1000));
    EXPECT_TRUE(index.contains(3 - 1000));
    for (uint32_t s = 0; s < 20; ++s) {
        // Each removed vector's own query: the graph must skip it although it is the nearest.
        const size_t target = 2 * s * 17;
        for (const ScoredLabel& hit : index.search(data[target], 10)) {
            EXPECT_EQ((hit.label + 1000) % 6, 3) << "removed label " << hit.label << " returned";
        }
    }
    ASSERT_TRUE(index.add(-1000, data[0]).is_ok());
    EXPECT_EQ(index.size(), kN / 2 + 1);
    const auto back = index.search(data[0], 1);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].label, -1000);
}

TEST(VectorIndex, FilteredSearchFindsKMatchesEvenWhenTheFilterIsSelective) {
    constexpr size_t kN = 6000, kDim = 24;
    const auto data = random_vectors(kN, kDim, 6);
    VectorIndex index(kDim);
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(index.add(int64_t(i), data[i]).is_ok());
    const auto q = random_vectors(1, kDim, 7)[0];
    for (int64_t modulus : {2, 7, 50, 1000}) {
        auto accept = [&](int64_t label) { return label % modulus == 0; };
        std::set<int64_t> skip;
        for (size_t i = 0; i < kN; ++i)
            if (!accept(int64_t(i))) skip.insert(int64_t(i));
        const std::vector<int64_t> want = brute_force(data, q, 5, skip);
        const std::vector<ScoredLabel> got = index.search(q, 5, accept);
        ASSERT_EQ(got.size(), want.size()) << "modulus " << modulus;
        size_t hits = 0;
        for (const ScoredLabel& s : got) {
            EXPECT_EQ(s.label % modulus, 0);
            hits += std::find(want.begin(), want.end(), s.label) != want.end();
        }
        EXPECT_GE(hits, 4u) << "modulus " << modulus;
    }
    // Fewer matches than k: all of them.
    EXPECT_EQ(index.search(q, 10, [](int64_t l) { return l < 3; }).size(), 3u);
}

TEST(VectorIndex, RejectsWrongDimensionAndZeroOrNonFiniteVectors) {
    VectorIndex index(4);
    Status s = index.add(1, std::vector<float>{1, 2, 3});
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("3 dimensions"), std::string::npos) << s.message();
    EXPECT_FALSE(index.add(1, std::vector<float>{0, 0, 0, 0}).is_ok());
    EXPECT_FALSE(index.add(1, std::vector<float>{1, NAN, 0, 0}).is_ok());
    EXPECT_FALSE(index.add(1, std::vector<float>{1, INFINITY, 0, 0}).is_ok());
    EXPECT_EQ(index.size(), 0u);
}

// The names of the files in `dir`, sorted.
std::vector<std::string> names_in(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(VectorIndex, SaveAndLoadRoundTripGivesTheSameResultsAndKeepsRemovals) {
    constexpr size_t kN = 3000, kDim = 32;
    const auto data = random_vectors(kN, kDim, 8);
    VectorIndexParams params;
    params.ef_search = 64;
    VectorIndex index(kDim, params);
    for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(index.add(int64_t(i) + 100, data[i]).is_ok());
    for (int64_t l = 100; l < 200; ++l) index.remove(l);
    const auto dir = temp_dir("roundtrip");
    const auto file = dir / "vectors.hnsw";
    ASSERT_TRUE(index.save(file).is_ok());
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"vectors.hnsw"}) << "no temporary file left";
    Result<std::unique_ptr<VectorIndex>> loaded = VectorIndex::load(file, params);
    ASSERT_TRUE(loaded.ok()) << loaded.message();
    VectorIndex& back = **loaded;
    EXPECT_EQ(back.dim(), kDim);
    EXPECT_EQ(back.size(), kN - 100);
    EXPECT_FALSE(back.contains(150));
    EXPECT_TRUE(back.contains(250));
    for (const auto& q : random_vectors(20, kDim, 9)) {
        const auto a = index.search(q, 10), b = back.search(q, 10);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].label, b[i].label);
            EXPECT_EQ(a[i].score, b[i].score);
        }
    }
    // The loaded index keeps growing past its saved capacity.
    for (size_t i = 0; i < 2000; ++i) ASSERT_TRUE(back.add(int64_t(100000 + i), data[i]).is_ok());
    EXPECT_EQ(back.size(), kN - 100 + 2000);
    // Saving over an existing file replaces it.
    ASSERT_TRUE(back.save(file).is_ok());
    Result<std::unique_ptr<VectorIndex>> again = VectorIndex::load(file);
    ASSERT_TRUE(again.ok()) << again.message();
    EXPECT_EQ((*again)->size(), kN - 100 + 2000);
    std::filesystem::remove_all(dir);
}

// Saves of two different indexes to one file from several threads at once (as two processes
// sharing a data directory do): every save succeeds, and the file left is one of the two, whole.
TEST(VectorIndex, SavesToOneFileAtOnceEachSucceedAndLeaveOneOfThemWhole) {
    constexpr size_t kDim = 16, kN = 300;
    VectorIndex a(kDim), b(kDim);
    const auto data = random_vectors(kN, kDim, 11);
    for (size_t i = 0; i < kN; ++i) {
        ASSERT_TRUE(a.add(int64_t(i), data[i]).is_ok());
        ASSERT_TRUE(b.add(int64_t(kN + i), data[i]).is_ok());
    }
    const auto dir = temp_dir("concurrent-saves");
    const auto file = dir / "vectors.hnsw";
    constexpr int kThreads = 4, kSaves = 10;
    std::vector<std::string> errors(kThreads);
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            go.arrive_and_wait();
            for (int i = 0; i < kSaves; ++i)
                if (Status s = (t % 2 == 0 ? a : b).save(file); !s.is_ok()) errors[t] += s.message() + "\n";
        });
    for (std::thread& th : threads) th.join();
    for (const std::string& e : errors) EXPECT_EQ(e, "");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"vectors.hnsw"}) << "no temporary file left";
    Result<std::unique_ptr<VectorIndex>> back = VectorIndex::load(file);
    ASSERT_TRUE(back.ok()) << back.message();
    std::vector<int64_t> labels = (*back)->labels();
    std::sort(labels.begin(), labels.end());
    ASSERT_EQ(labels.size(), kN);
    const int64_t first = labels[0] == 0 ? 0 : int64_t(kN);
    for (size_t i = 0; i < kN; ++i) ASSERT_EQ(labels[i], first + int64_t(i)) << "all of one index, none of the other";
    std::filesystem::remove_all(dir);
}

// What a start finds after saves were cut short: their unlocked temporary files older than the
// minimum age are removed; a file a save still holds locked, a recent one, the index itself and
// names of other patterns stay.
TEST(VectorIndex, RemovesOnlyTheUnlockedOldTemporaryFilesOfSaves) {
    const auto dir = temp_dir("abandoned");
    const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::minutes(2);
    auto write = [&](const std::string& name, bool is_old) {
        std::ofstream(dir / name) << "bytes";
        if (is_old) std::filesystem::last_write_time(dir / name, old);
    };
    write("v.hnsw", true);
    write("v.hnsw.tmp.101.0", true);   // cut short: removed
    write("v.hnsw.tmp.102.7", true);   // still written (locked below): kept
    write("v.hnsw.tmp.103.0", false);  // just created: kept
    write("v.hnsw.tmp.x.0", true);     // not a save's name: kept
    write("notes.tmp.104", true);      // nor this
    const int held = ::open((dir / "v.hnsw.tmp.102.7").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(held, 0);
    ASSERT_EQ(::flock(held, LOCK_EX), 0);
    EXPECT_EQ(VectorIndex::remove_abandoned_saves(dir), 1u);
    EXPECT_EQ(names_in(dir), (std::vector<std::string>{"notes.tmp.104", "v.hnsw", "v.hnsw.tmp.102.7",
                                                       "v.hnsw.tmp.103.0", "v.hnsw.tmp.x.0"}));
    ::close(held);  // its save died
    EXPECT_EQ(VectorIndex::remove_abandoned_saves(dir), 1u);
    EXPECT_EQ(VectorIndex::remove_abandoned_saves(dir, std::chrono::seconds(0)), 1u);  // the recent one
    EXPECT_EQ(names_in(dir), (std::vector<std::string>{"notes.tmp.104", "v.hnsw", "v.hnsw.tmp.x.0"}));
    EXPECT_EQ(VectorIndex::remove_abandoned_saves(dir / "absent"), 0u);
    std::filesystem::remove_all(dir);
}

TEST(VectorIndex, CorruptTruncatedOrMissingFilesAreStatusesNamingTheFile) {
    constexpr size_t kDim = 8;
    VectorIndex index(kDim);
    for (size_t i = 0; i < 100; ++i) ASSERT_TRUE(index.add(int64_t(i), random_vectors(1, kDim, 10 + i)[0]).is_ok());
    const auto dir = temp_dir("corrupt");
    const auto file = dir / "vectors.hnsw";
    ASSERT_TRUE(index.save(file).is_ok());
    std::string good;
    {
        std::ifstream in(file, std::ios::binary);
        good.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto expect_error = [&](const std::string& bytes, const std::string& what) {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
        Result<std::unique_ptr<VectorIndex>> r = VectorIndex::load(file);
        ASSERT_FALSE(r.ok()) << what;
        EXPECT_NE(r.message().find(file.string()), std::string::npos) << r.message();
    };
    expect_error(good.substr(0, good.size() / 2), "truncated");
    expect_error("", "empty");
    expect_error(std::string(1000, 'x'), "not an index");
    for (size_t pos : {size_t(12), size_t(40), good.size() / 2, good.size() - 1}) {  // dim, hnswlib header, data
        std::string flipped = good;
        flipped[pos] = char(flipped[pos] ^ 0x5a);
        expect_error(flipped, "byte " + std::to_string(pos) + " flipped");
    }
    std::filesystem::remove(file);
    Result<std::unique_ptr<VectorIndex>> missing = VectorIndex::load(file);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find(file.string()), std::string::npos) << missing.message();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sinan::knowledge
