// API keys: the KeyStore the server uses (verify, revoke, reload on change, a corrupt file), the
// file's safety (0600, only hashes), and `sinan keys` through the real binary.
#include "api/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "api/data_dir.h"
#include "base/sha256.h"
#include "run_binary.h"

namespace sinan::api {
namespace {

namespace fs = std::filesystem;
using sinan::test::make_temp_dir;
using sinan::test::run_sinan;

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A clock the test moves by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    KeyStore::Clock fn() {
        return [this] { return now; };
    }
};

class Keys : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    NewKey create(const std::string& name, int64_t rpm = 0, int64_t tpm = 0) {
        Result<NewKey> k = create_key(dir_, name, rpm, tpm);
        EXPECT_TRUE(k.ok()) << k.message();
        return k.ok() ? *k : NewKey{};
    }
    std::string dir_;
};

TEST_F(Keys, CreatedKeyVerifiesAndAWrongOneDoesNot) {
    const NewKey k = create("ci", 60, 1000);
    ASSERT_EQ(k.secret.rfind("sk-sinan-", 0), 0u) << k.secret;
    EXPECT_EQ(k.secret.size(), 9u + 43u);  // 32 bytes in unpadded base64url
    EXPECT_EQ(k.secret.substr(9).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    EXPECT_EQ(k.info.prefix, k.secret.substr(0, 13));

    auto store = KeyStore::open(dir_);
    ASSERT_TRUE(store.ok()) << store.message();
    EXPECT_TRUE((*store)->auth_required());
    std::optional<KeyInfo> who = (*store)->verify(k.secret);
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->id, k.info.id);
    EXPECT_EQ(who->name, "ci");
    EXPECT_EQ(who->rpm, 60);
    EXPECT_EQ(who->tpm, 1000);

    std::string wrong = k.secret;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE((*store)->verify(wrong).has_value());
    EXPECT_FALSE((*store)->verify("").has_value());
    EXPECT_FALSE((*store)->verify(k.secret.substr(0, 20)).has_value());
    EXPECT_FALSE((*store)->verify(k.secret + "x").has_value());
    EXPECT_FALSE((*store)->verify(std::string(100000, '\0')).has_value());
}

TEST_F(Keys, EveryKeyIsDifferent) {
    const NewKey a = create("a"), b = create("b");
    EXPECT_NE(a.secret, b.secret);
    EXPECT_NE(a.info.id, b.info.id);
}

TEST_F(Keys, TheFileIsOwnerOnlyAndHoldsHashesNotKeys) {
    const NewKey k = create("ci");
    struct stat st {};
    ASSERT_EQ(::stat(keys_path(dir_).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string text = read_text(keys_path(dir_));
    EXPECT_EQ(text.find(k.secret), std::string::npos);
    EXPECT_EQ(text.find(k.secret.substr(13)), std::string::npos);
    EXPECT_NE(text.find(sha256_hex(k.secret)), std::string::npos);
    EXPECT_FALSE(fs::exists(keys_path(dir_) + ".tmp"));
}

TEST_F(Keys, RevokedKeyFailsButAuthStaysOn) {
    const NewKey keep = create("keep"), gone = create("gone");
    auto store = KeyStore::open(dir_);
    ASSERT_TRUE(store.ok()) << store.message();
    ASSERT_TRUE((*store)->verify(gone.secret).has_value());

    Result<KeyInfo> r = revoke_key(dir_, "gone");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->id, gone.info.id);
    ASSERT_TRUE((*store)->reload().is_ok());
    EXPECT_FALSE((*store)->verify(gone.secret).has_value());
    EXPECT_TRUE((*store)->verify(keep.secret).has_value());

    ASSERT_TRUE(revoke_key(dir_, keep.info.id).ok());  // by id
    ASSERT_TRUE((*store)->reload().is_ok());
    EXPECT_FALSE((*store)->verify(keep.secret).has_value());
    EXPECT_TRUE((*store)->auth_required()) << "revoking the last key must not open the server";

    Result<KeyInfo> again = revoke_key(dir_, keep.info.id);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.message().find("already revoked"), std::string::npos) << again.message();
    EXPECT_FALSE(revoke_key(dir_, "nobody").ok());
}

TEST_F(Keys, NoFileMeansNoAuth) {
    auto store = KeyStore::open(dir_);
    ASSERT_TRUE(store.ok()) << store.message();
    EXPECT_FALSE((*store)->auth_required());
    EXPECT_FALSE((*store)->verify("sk-sinan-anything").has_value());
    Result<std::vector<KeyInfo>> list = list_keys(dir_);
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->empty());
}

TEST_F(Keys, ARunningStoreSeesNewKeysAfterTheRecheckInterval) {
    FakeClock clock;
    auto store = KeyStore::open(dir_, std::chrono::seconds(1), clock.fn());
    ASSERT_TRUE(store.ok()) << store.message();
    const NewKey k = create("late");
    clock.now += std::chrono::milliseconds(500);
    EXPECT_FALSE((*store)->verify(k.secret).has_value()) << "the file is checked at most once per interval";
    clock.now += std::chrono::milliseconds(500);
    EXPECT_TRUE((*store)->verify(k.secret).has_value());

    ASSERT_TRUE(revoke_key(dir_, "late").ok());
    clock.now += std::chrono::seconds(1);
    EXPECT_FALSE((*store)->verify(k.secret).has_value());
}

TEST_F(Keys, DuplicateActiveNamesAreRefused) {
    create("same");
    Result<NewKey> dup = create_key(dir_, "same", 0, 0);
    ASSERT_FALSE(dup.ok());
    EXPECT_NE(dup.message().find("'same' exists"), std::string::npos) << dup.message();
    ASSERT_TRUE(revoke_key(dir_, "same").ok());
    EXPECT_TRUE(create_key(dir_, "same", 0, 0).ok()) << "a revoked name can be reused";
    EXPECT_FALSE(create_key(dir_, "", 0, 0).ok());
    EXPECT_FALSE(create_key(dir_, "tab\there", 0, 0).ok());
    EXPECT_FALSE(create_key(dir_, "x", -1, 0).ok());
}

TEST_F(Keys, ConcurrentCreatesLoseNothing) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([this, t] {
            for (int i = 0; i < 5; ++i)
                EXPECT_TRUE(create_key(dir_, std::to_string(t) + "-" + std::to_string(i), 0, 0).ok());
        });
    }
    for (auto& th : threads) th.join();
    Result<std::vector<KeyInfo>> list = list_keys(dir_);
    ASSERT_TRUE(list.ok()) << list.message();
    EXPECT_EQ(list->size(), 20u);
}

TEST_F(Keys, ACorruptFileIsAClearErrorAndIsNeverOverwritten) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{\"keys\": [", "not valid JSON"},
        {"[]", "expected an object with a \"keys\" array"},
        {"{\"version\": 2, \"keys\": []}", "unsupported version 2"},
        {"{\"keys\": [7]}", "keys[0]: not an object"},
        {"{\"keys\": [{\"id\": \"k\", \"name\": \"n\"}]}", "keys[0]: field \"sha256\" missing"},
        {"{\"keys\": [{\"id\": \"k\", \"name\": \"n\", \"sha256\": \"abc\"}]}", "not 64 lowercase hex digits"},
        {"{\"keys\": [{\"id\": 5, \"name\": \"n\", \"sha256\": \"\"}]}", "field \"id\" is not a string"},
        {"{\"keys\": [{\"id\": \"k\", \"name\": \"n\", \"rpm\": -3, \"sha256\": \"" + std::string(64, 'a') + "\"}]}",
         "field \"rpm\" is not a count >= 0"},
        {std::string("\xff\xfe\x00garbage", 10), "not valid JSON"},
    };
    for (const auto& [text, expected] : cases) {
        std::ofstream(keys_path(dir_), std::ios::binary | std::ios::trunc) << text;
        auto store = KeyStore::open(dir_);
        ASSERT_FALSE(store.ok()) << text;
        EXPECT_NE(store.message().find("keys.json"), std::string::npos) << store.message();
        EXPECT_NE(store.message().find(expected), std::string::npos) << store.message();
        EXPECT_FALSE(list_keys(dir_).ok());
        EXPECT_FALSE(create_key(dir_, "new", 0, 0).ok());
        EXPECT_EQ(read_text(keys_path(dir_)), text) << "a failed create must leave the file as it was";
    }
}

TEST_F(Keys, ARunningStoreKeepsTheLastGoodKeysWhenTheFileBreaks) {
    const NewKey k = create("ci");
    FakeClock clock;
    auto store = KeyStore::open(dir_, std::chrono::seconds(1), clock.fn());
    ASSERT_TRUE(store.ok()) << store.message();
    std::ofstream(keys_path(dir_), std::ios::trunc) << "{ broken";
    clock.now += std::chrono::seconds(2);
    EXPECT_TRUE((*store)->verify(k.secret).has_value());
    EXPECT_FALSE((*store)->reload().is_ok());
    EXPECT_TRUE((*store)->auth_required());
}

TEST_F(Keys, RemovingTheFileUnderARunningStoreDoesNotSwitchAuthOff) {
    const NewKey k = create("ci");
    FakeClock clock;
    auto store = KeyStore::open(dir_, std::chrono::seconds(1), clock.fn());
    ASSERT_TRUE(store.ok()) << store.message();
    fs::remove(keys_path(dir_));
    clock.now += std::chrono::seconds(2);
    EXPECT_TRUE((*store)->auth_required());
    EXPECT_TRUE((*store)->verify(k.secret).has_value());
    const NewKey fresh = create("fresh");  // a new file is read again
    clock.now += std::chrono::seconds(2);
    EXPECT_TRUE((*store)->verify(fresh.secret).has_value());
    EXPECT_FALSE((*store)->verify(k.secret).has_value());
}

TEST(DataDir, FlagThenEnvironmentThenDefault) {
    ::unsetenv("SINAN_DATA_DIR");
    EXPECT_EQ(resolve_data_dir(""), kDefaultDataDir);
    ::setenv("SINAN_DATA_DIR", "/srv/sinan", 1);
    EXPECT_EQ(resolve_data_dir(""), "/srv/sinan");
    EXPECT_EQ(resolve_data_dir("/other"), "/other");
    ::setenv("SINAN_DATA_DIR", "", 1);
    EXPECT_EQ(resolve_data_dir(""), kDefaultDataDir);
    ::unsetenv("SINAN_DATA_DIR");
}

// --- `sinan keys` through the real binary ---

TEST_F(Keys, CommandCreatesListsAndRevokes) {
    sinan::test::RunResult c = run_sinan({"keys", "create", "--name", "web app", "--rpm", "30", "--data-dir", dir_});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const std::string secret = c.out.substr(0, c.out.find('\n'));
    EXPECT_EQ(c.out, secret + "\n") << "stdout carries only the key";
    EXPECT_EQ(secret.rfind("sk-sinan-", 0), 0u);
    EXPECT_NE(c.err.find("shown only now"), std::string::npos) << c.err;

    auto store = KeyStore::open(dir_);
    ASSERT_TRUE(store.ok()) << store.message();
    std::optional<KeyInfo> who = (*store)->verify(secret);
    ASSERT_TRUE(who.has_value()) << "the printed key is the one stored";
    EXPECT_EQ(who->rpm, 30);

    sinan::test::RunResult table = run_sinan({"keys", "list", "--data-dir", dir_});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find(who->id), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("web app"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find(secret.substr(0, 13)), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find(secret.substr(13)), std::string::npos) << "the key is never listed";

    sinan::test::RunResult r = run_sinan({"keys", "revoke", "web app", "--data-dir", dir_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    sinan::test::RunResult p = run_sinan({"keys", "create", "positional", "--data-dir", dir_});
    ASSERT_EQ(p.exit_code, 0) << "the name may also be given without --name: " << p.err;
    sinan::test::RunResult js = run_sinan({"keys", "list", "--json", "--data-dir", dir_});
    ASSERT_EQ(js.exit_code, 0) << js.err;
    const nlohmann::json list = nlohmann::json::parse(js.out);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1]["name"], "positional");
    EXPECT_EQ(list[0]["id"], who->id);
    EXPECT_TRUE(list[0]["revoked"].is_string());
    EXPECT_EQ(list[0]["rpm"], 30);
    ASSERT_TRUE((*store)->reload().is_ok());
    EXPECT_FALSE((*store)->verify(secret).has_value());
}

TEST_F(Keys, CommandErrorsAreOneLineWithExitCode2) {
    sinan::test::RunResult r = run_sinan({"keys", "revoke", "nobody", "--data-dir", dir_});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.rfind("sinan: error: no key with id or active name 'nobody'", 0), 0u) << r.err;

    std::ofstream(keys_path(dir_)) << "not json";
    sinan::test::RunResult l = run_sinan({"keys", "list", "--data-dir", dir_});
    EXPECT_EQ(l.exit_code, 2);
    EXPECT_NE(l.err.find("keys.json: not valid JSON"), std::string::npos) << l.err;
    EXPECT_TRUE(l.out.empty());

    sinan::test::RunResult n = run_sinan({"keys", "create", "--data-dir", dir_});
    EXPECT_EQ(n.exit_code, 2) << "--name is required";

    // A limit below 0: one line that names the option and its range in plain numbers.
    sinan::test::RunResult neg = run_sinan({"keys", "create", "--name", "x", "--rpm", "-5", "--data-dir", dir_});
    EXPECT_EQ(neg.exit_code, 2);
    EXPECT_NE(neg.err.find("--rpm: Value -5 not in range 0 to "), std::string::npos) << neg.err;
    EXPECT_LT(neg.err.size(), 120u) << neg.err;
}

}  // namespace
}  // namespace sinan::api
