// API keys: created by `sinan keys create`, checked by `sinan serve` on every request.
//
// A key is 32 random bytes from the OS (getrandom), shown to the user once as
// "sk-sinan-<43 base64url characters>". Only its SHA-256 is stored (a plain hash is enough: the
// key has 256 bits of entropy, so there is nothing to brute-force and no salt or slow hash is
// needed), in <data-dir>/keys.json, mode 0600, written atomically (temp file, fsync, rename, fsync
// of the directory) under an flock on <data-dir>/keys.lock so two `sinan keys` never lose an
// update. Revoking keeps the entry with its revocation time (so logs that name a key id stay
// meaningful) and the key stops working.
//
// keys.json: {"version": 1, "keys": [{"id": "key_3f9a0c21b7d4", "name": "ci", "created":
// "2026-11-29T23:00:00Z", "prefix": "sk-sinan-AbCd", "sha256": "<64 hex>", "rpm": 0, "tpm": 0,
// "revoked": null | "<time>"}]}. rpm/tpm: requests and tokens per minute, 0 = unlimited.
//
// Auth is on as soon as keys.json holds any entry, revoked ones included, so revoking the last
// key locks the server instead of opening it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sinan::api {

struct KeyInfo {
    std::string id;       // "key_" + 12 hex, unique, shown in logs
    std::string name;     // given by the user, unique among active keys
    std::string created;  // UTC, ISO 8601 ("2026-11-29T23:00:00Z")
    std::string prefix;   // the key's first 13 characters, to recognise it ("sk-sinan-AbCd")
    int64_t rpm = 0;      // requests per minute, 0 = unlimited
    int64_t tpm = 0;      // tokens per minute, 0 = unlimited
    std::string revoked;  // "" when active, else the revocation time
};

struct NewKey {
    KeyInfo info;
    std::string secret;  // the full key; shown once, never stored
};

// The file operations behind `sinan keys`. Each reads keys.json, changes it and writes it back
// under the lock; the directory is created (mode 0700) when absent. Errors name the file and say
// what to do (a corrupted keys.json is an error, never a crash).
Result<NewKey> create_key(const std::string& data_dir, const std::string& name, int64_t rpm, int64_t tpm);
Result<std::vector<KeyInfo>> list_keys(const std::string& data_dir);  // missing file: empty list
// Revokes the key whose id is `id_or_name`, else the active key with that name.
Result<KeyInfo> revoke_key(const std::string& data_dir, const std::string& id_or_name);

// Path of keys.json in a data directory.
std::string keys_path(const std::string& data_dir);

// The server's view of keys.json: verifies bearer tokens and picks up changes to the file (a key
// created or revoked while the server runs) by checking the file's identity (inode, size, mtime)
// at most once per `recheck` interval. If the file becomes unreadable, corrupt or is removed while
// the server runs, the last good set stays in force and the error is logged once.
//
// Thread-safety: verify(), auth_required() and reload() may be called from any thread.
class KeyStore {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    // Loads <data_dir>/keys.json (absent: no keys, auth off). `clock` is for tests.
    static Result<std::unique_ptr<KeyStore>> open(const std::string& data_dir,
                                                  std::chrono::milliseconds recheck = std::chrono::seconds(1),
                                                  Clock clock = nullptr);

    // The active key whose hash matches SHA-256(token), compared in constant time; nullopt for a
    // wrong, revoked or malformed token. `token` is the text after "Bearer ".
    std::optional<KeyInfo> verify(std::string_view token);

    // Whether requests need a key (keys.json holds at least one entry).
    bool auth_required();

    // Re-reads the file now if it changed; returns the load error if it is corrupt (keeping the
    // previous keys). Called by verify()/auth_required() when the recheck interval has passed.
    Status reload();

  private:
    struct Entry {
        KeyInfo info;
        std::string sha256;  // 32 raw bytes
    };
    struct FileId {
        bool exists = false;
        ino_t inode = 0;
        off_t size = 0;
        int64_t mtime_ns = 0;
        bool operator==(const FileId&) const = default;
    };

    KeyStore(std::string data_dir, std::chrono::milliseconds recheck, Clock clock);
    void maybe_reload();  // reload() when the recheck interval has passed

    const std::string data_dir_;
    const std::chrono::milliseconds recheck_;
    const Clock clock_;
    std::mutex mu_;
    std::vector<Entry> entries_;
    FileId file_id_;
    std::chrono::steady_clock::time_point last_check_;
    std::string last_error_;  // logged once per distinct error
};

}  // namespace sinan::api
