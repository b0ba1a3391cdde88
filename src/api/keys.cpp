#include "api/keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/log.h"
#include "base/sha256.h"

namespace sinan::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kKeyPrefix = "sk-sinan-";
constexpr size_t kSecretBytes = 32;
constexpr size_t kShownPrefixChars = 13;  // "sk-sinan-" + 4 characters

std::string errno_text() { return std::strerror(errno); }

Result<std::string> random_bytes(size_t n) {
    std::string out(n, '\0');
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::getrandom(out.data() + done, n - done, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return Status::error("cannot read random bytes from the OS (getrandom): " + errno_text());
        }
        done += static_cast<size_t>(r);
    }
    return out;
}

// RFC 4648 base64url without padding.
std::string base64url(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return out;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool is_hex(const std::string& s, size_t n) {
    if (s.size() != n) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string from_hex(const std::string& hex) {
    std::string out(hex.size() / 2, '\0');
    auto v = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(v(hex[2 * i]) << 4 | v(hex[2 * i + 1]));
    return out;
}

struct StoredKey {
    KeyInfo info;
    std::string sha256_hex;
};

// keys.json's entries; a missing file is an empty list.
Result<std::vector<StoredKey>> read_keys(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return std::vector<StoredKey>{};
        return Status::error(path + ": cannot read: " + errno_text() + "; check its owner and permissions");
    }
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string hint = "; fix the file or move it away (then create keys again with `sinan keys create`)";
    json doc;
    try {
        doc = json::parse(buf.str());
    } catch (const json::parse_error& e) {
        return Status::error(path + ": not valid JSON (byte " + std::to_string(e.byte) + ")" + hint);
    }
    if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
        return Status::error(path + ": expected an object with a \"keys\" array" + hint);
    }
    if (doc.value("version", json(1)) != json(1)) {
        return Status::error(path + ": unsupported version " + doc["version"].dump() + "; this sinan reads version 1");
    }
    std::vector<StoredKey> out;
    for (size_t i = 0; i < doc["keys"].size(); ++i) {
        const json& k = doc["keys"][i];
        const std::string where = path + ": keys[" + std::to_string(i) + "]: ";
        auto str = [&](const char* field, bool required) -> Result<std::string> {
            if (!k.is_object()) return Status::error(where + "not an object" + hint);
            if (!k.contains(field) || k[field].is_null()) {
                if (required) return Status::error(where + "field \"" + field + "\" missing" + hint);
                return std::string();
            }
            if (!k[field].is_string()) return Status::error(where + "field \"" + field + "\" is not a string" + hint);
            return k[field].get<std::string>();
        };
        auto num = [&](const char* field) -> Result<int64_t> {
            if (!k.contains(field)) return int64_t{0};
            if (!k[field].is_number_integer() || k[field].get<int64_t>() < 0) {
                return Status::error(where + "field \"" + field + "\" is not a count >= 0" + hint);
            }
            return k[field].get<int64_t>();
        };
        StoredKey s;
        Result<std::string> id = str("id", true), name = str("name", true), created = str("created", false),
                            prefix = str("prefix", false), hash = str("sha256", true), revoked = str("revoked", false);
        for (const auto* r : {&id, &name, &created, &prefix, &hash, &revoked}) {
            if (!r->ok()) return r->status();
        }
        Result<int64_t> rpm = num("rpm"), tpm = num("tpm");
        if (!rpm.ok()) return rpm.status();
        if (!tpm.ok()) return tpm.status();
        if (!is_hex(*hash, 64)) return Status::error(where + "field \"sha256\" is not 64 lowercase hex digits" + hint);
        s.info = KeyInfo{*id, *name, *created, *prefix, *rpm, *tpm, *revoked};
        s.sha256_hex = *hash;
        out.push_back(std::move(s));
    }
    return out;
}

Status fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return Status::error(dir + ": cannot open to sync: " + errno_text());
    const int r = ::fsync(fd);
    ::close(fd);
    if (r != 0) return Status::error(dir + ": fsync failed: " + errno_text());
    return Status::ok();
}

// Writes keys.json atomically with mode 0600: temp file, fsync, rename, fsync of the directory.
Status write_keys(const std::string& data_dir, const std::vector<StoredKey>& keys) {
    json arr = json::array();
    for (const StoredKey& s : keys) {
        arr.push_back({{"id", s.info.id},
                       {"name", s.info.name},
                       {"created", s.info.created},
                       {"prefix", s.info.prefix},
                       {"sha256", s.sha256_hex},
                       {"rpm", s.info.rpm},
                       {"tpm", s.info.tpm},
                       {"revoked", s.info.revoked.empty() ? json(nullptr) : json(s.info.revoked)}});
    }
    const std::string text = json{{"version", 1}, {"keys", arr}}.dump(2) + "\n";
    const std::string path = keys_path(data_dir), tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error(tmp + ": cannot create: " + errno_text());
    auto fail = [&](const std::string& what) {
        Status s = Status::error(tmp + ": " + what + ": " + errno_text());
        ::close(fd);
        ::unlink(tmp.c_str());
        return s;
    };
    if (::fchmod(fd, 0600) != 0) return fail("cannot set mode 0600");  // O_CREAT's mode is masked by umask only
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("write failed");
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("fsync failed");
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return Status::error(tmp + ": close failed: " + errno_text());
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = Status::error(path + ": cannot rename the new file into place: " + errno_text());
        ::unlink(tmp.c_str());
        return s;
    }
    return fsync_dir(data_dir);
}

// Holds an exclusive flock on <data_dir>/keys.lock for the read-modify-write of keys.json.
class DirLock {
  public:
    static Result<std::unique_ptr<DirLock>> acquire(const std::string& data_dir) {
        std::error_code ec;
        if (!fs::exists(data_dir, ec)) {
            fs::create_directories(data_dir, ec);
            if (ec) return Status::error(data_dir + ": cannot create the data directory: " + ec.message());
            ::chmod(data_dir.c_str(), 0700);
        }
        const std::string path = (fs::path(data_dir) / "keys.lock").string();
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return Status::error(path + ": cannot open: " + errno_text() + "; check the data directory's permissions");
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                ::close(fd);
                return Status::error(path + ": cannot lock: " + errno_text());
            }
        }
        return std::unique_ptr<DirLock>(new DirLock(fd));
    }
    ~DirLock() { ::close(fd_); }  // closing releases the lock

  private:
    explicit DirLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace

std::string keys_path(const std::string& data_dir) { return (fs::path(data_dir) / "keys.json").string(); }

Result<NewKey> create_key(const std::string& data_dir, const std::string& name, int64_t rpm, int64_t tpm) {
    if (name.empty() || name.size() > 64) return Status::error("key name must be 1 to 64 characters");
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return Status::error("key name must not contain control characters");
    }
    if (rpm < 0 || tpm < 0) return Status::error("--rpm and --tpm must be >= 0 (0 = unlimited)");
    auto lock = DirLock::acquire(data_dir);
    if (!lock.ok()) return lock.status();
    auto keys = read_keys(keys_path(data_dir));
    if (!keys.ok()) return keys.status();
    for (const StoredKey& k : *keys) {
        if (k.info.name == name && k.info.revoked.empty()) {
            return Status::error("an active key named '" + name + "' exists (" + k.info.id +
                                 "); choose another name or revoke it first");
        }
    }
    auto secret_bytes = random_bytes(kSecretBytes);
    auto id_bytes = random_bytes(6);
    if (!secret_bytes.ok()) return secret_bytes.status();
    if (!id_bytes.ok()) return id_bytes.status();
    NewKey nk;
    nk.secret = kKeyPrefix + base64url(*secret_bytes);
    nk.info =
        KeyInfo{"key_" + to_hex(*id_bytes), name, utc_now(), nk.secret.substr(0, kShownPrefixChars), rpm, tpm, ""};
    keys->push_back(StoredKey{nk.info, sha256_hex(nk.secret)});
    SINAN_RETURN_IF_ERROR(write_keys(data_dir, *keys));
    return nk;
}

Result<std::vector<KeyInfo>> list_keys(const std::string& data_dir) {
    auto keys = read_keys(keys_path(data_dir));
    if (!keys.ok()) return keys.status();
    std::vector<KeyInfo> out;
    for (StoredKey& k : *keys) out.push_back(std::move(k.info));
    return out;
}

Result<KeyInfo> revoke_key(const std::string& data_dir, const std::string& id_or_name) {
    auto lock = DirLock::acquire(data_dir);
    if (!lock.ok()) return lock.status();
    auto keys = read_keys(keys_path(data_dir));
    if (!keys.ok()) return keys.status();
    StoredKey* match = nullptr;
    for (StoredKey& k : *keys) {
        if (k.info.id == id_or_name) match = &k;
    }
    for (StoredKey& k : *keys) {
        if (match == nullptr && k.info.name == id_or_name && k.info.revoked.empty()) match = &k;
    }
    if (match == nullptr) {
        return Status::error("no key with id or active name '" + id_or_name + "'; `sinan keys list` shows them");
    }
    if (!match->info.revoked.empty()) {
        return Status::error("key " + match->info.id + " was already revoked at " + match->info.revoked);
    }
    match->info.revoked = utc_now();
    SINAN_RETURN_IF_ERROR(write_keys(data_dir, *keys));
    return match->info;
}

KeyStore::KeyStore(std::string data_dir, std::chrono::milliseconds recheck, Clock clock)
    : data_dir_(std::move(data_dir)),
      recheck_(recheck),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& data_dir, std::chrono::milliseconds recheck,
                                                 Clock clock) {
    std::unique_ptr<KeyStore> store(new KeyStore(data_dir, recheck, std::move(clock)));
    SINAN_RETURN_IF_ERROR(store->reload());
    return store;
}

Status KeyStore::reload() {
    const std::string path = keys_path(data_dir_);
    struct stat st {};
    FileId id;
    if (::stat(path.c_str(), &st) == 0) {
        id = FileId{true, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
    std::lock_guard lock(mu_);
    last_check_ = clock_();
    if (id == file_id_) return Status::ok();  // unchanged, or still absent
    // A file removed under a running server must not switch auth off: fail closed.
    Result<std::vector<StoredKey>> keys =
        id.exists || entries_.empty()
            ? read_keys(path)
            : Result<std::vector<StoredKey>>(Status::error(
                  path + ": removed while the server runs; restart it to serve without keys (--api-keys off)"));
    if (!keys.ok()) {
        if (keys.message() != last_error_) {
            log::error(keys.message() + " (keeping the " + std::to_string(entries_.size()) + " keys loaded before)");
            last_error_ = keys.message();
        }
        return keys.status();
    }
    entries_.clear();
    for (StoredKey& k : *keys) entries_.push_back(Entry{std::move(k.info), from_hex(k.sha256_hex)});
    file_id_ = id;
    last_error_.clear();
    return Status::ok();
}

void KeyStore::maybe_reload() {
    bool due;
    {
        std::lock_guard lock(mu_);
        due = clock_() - last_check_ >= recheck_;
    }
    if (due) (void)reload();  // errors are logged by reload
}

std::optional<KeyInfo> KeyStore::verify(std::string_view token) {
    maybe_reload();
    const std::string hash = sha256(token);
    std::optional<KeyInfo> found;
    std::lock_guard lock(mu_);
    for (const Entry& e : entries_) {
        // Every entry is compared, in constant time, so timing says nothing about the stored hashes.
        if (CRYPTO_memcmp(hash.data(), e.sha256.data(), hash.size()) == 0 && e.info.revoked.empty()) found = e.info;
    }
    return found;
}

bool KeyStore::auth_required() {
    maybe_reload();
    std::lock_guard lock(mu_);
    return !entries_.empty();
}

}  // namespace sinan::api
