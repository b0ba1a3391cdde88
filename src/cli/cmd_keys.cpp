// `sinan keys create|list|revoke`: the API keys that `sinan serve` accepts (src/api/keys.h).
// A running server picks up changes within a second; nothing needs restarting.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/data_dir.h"
#include "api/keys.h"
#include "cli/commands.h"

namespace sinan::cli {

namespace {

struct KeysArgs {
    std::string data_dir, name, id_or_name;
    int64_t rpm = 0, tpm = 0;
    bool json = false;
};

std::string limit_text(int64_t v) { return v == 0 ? "-" : std::to_string(v); }

void run_create(const KeysArgs& a) {
    const std::string dir = api::resolve_data_dir(a.data_dir);
    Result<api::NewKey> k = api::create_key(dir, a.name, a.rpm, a.tpm);
    if (!k.ok()) fail(k.message());
    std::printf("%s\n", k->secret.c_str());
    std::fprintf(stderr,
                 "sinan: created key %s '%s' in %s (requests/min %s, tokens/min %s).\n"
                 "sinan: the key is shown only now; store it. Clients send it as 'Authorization: Bearer <key>'.\n",
                 k->info.id.c_str(), k->info.name.c_str(), api::keys_path(dir).c_str(), limit_text(a.rpm).c_str(),
                 limit_text(a.tpm).c_str());
}

void run_list(const KeysArgs& a) {
    const std::string dir = api::resolve_data_dir(a.data_dir);
    Result<std::vector<api::KeyInfo>> keys = api::list_keys(dir);
    if (!keys.ok()) fail(keys.message());
    if (a.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const api::KeyInfo& k : *keys) {
            out.push_back({{"id", k.id},
                           {"name", k.name},
                           {"created", k.created},
                           {"prefix", k.prefix},
                           {"rpm", k.rpm},
                           {"tpm", k.tpm},
                           {"revoked", k.revoked.empty() ? nlohmann::json(nullptr) : nlohmann::json(k.revoked)}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }
    if (keys->empty()) {
        std::fprintf(stderr,
                     "sinan: no keys in %s; the server accepts requests without a key. "
                     "Create one with `sinan keys create --name NAME`.\n",
                     api::keys_path(dir).c_str());
        return;
    }
    std::printf("%-16s  %-20s  %-20s  %-13s  %8s  %8s  %s\n", "ID", "NAME", "CREATED", "PREFIX", "REQ/MIN", "TOK/MIN",
                "STATUS");
    for (const api::KeyInfo& k : *keys) {
        const std::string status = k.revoked.empty() ? "active" : "revoked " + k.revoked;
        std::printf("%-16s  %-20s  %-20s  %-13s  %8s  %8s  %s\n", k.id.c_str(), k.name.c_str(), k.created.c_str(),
                    k.prefix.c_str(), limit_text(k.rpm).c_str(), limit_text(k.tpm).c_str(), status.c_str());
    }
}

void run_revoke(const KeysArgs& a) {
    const std::string dir = api::resolve_data_dir(a.data_dir);
    Result<api::KeyInfo> k = api::revoke_key(dir, a.id_or_name);
    if (!k.ok()) fail(k.message());
    std::fprintf(stderr, "sinan: revoked key %s '%s'; a running server refuses it within a second.\n", k->id.c_str(),
                 k->name.c_str());
}

void add_data_dir(CLI::App* cmd, std::string& dir) {
    cmd->add_option(
        "--data-dir", dir,
        std::string("Data directory holding keys.json (default: $SINAN_DATA_DIR, else ") + api::kDefaultDataDir + ")");
}

}  // namespace

void register_keys(CLI::App& app) {
    auto a = std::make_shared<KeysArgs>();
    CLI::App* keys = app.add_subcommand(
        "keys",
        "API keys for `sinan serve`: once a key exists, every route but /health needs 'Authorization: Bearer KEY'");
    keys->require_subcommand(1);

    CLI::App* create =
        keys->add_subcommand("create", "Create a key and print it once on stdout (only its hash is kept)");
    create->add_option("NAME,--name", a->name, "A name to recognise the key by (unique among active keys)")->required();
    create->add_option("--rpm", a->rpm, "Requests per minute allowed (default 0: unlimited)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    create->add_option("--tpm", a->tpm, "Tokens per minute allowed, prompt + completion (default 0: unlimited)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    add_data_dir(create, a->data_dir);
    create->callback([a] { run_create(*a); });

    CLI::App* list =
        keys->add_subcommand("list", "List keys: id, name, created, prefix, limits, status (never the key)");
    list->add_flag("--json", a->json, "Print JSON instead of a table");
    add_data_dir(list, a->data_dir);
    list->callback([a] { run_list(*a); });

    CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key by id or name; it stops working at once");
    revoke->add_option("ID_OR_NAME", a->id_or_name, "The key's id (key_...) or its name")->required();
    add_data_dir(revoke, a->data_dir);
    revoke->callback([a] { run_revoke(*a); });
}

}  // namespace sinan::cli
