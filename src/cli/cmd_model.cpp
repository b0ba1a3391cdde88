// `sinan model info FILE` and `sinan model synth ...`: what is in a GGUF file, and writing
// full-size models with synthetic weights for tests and benchmarks.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/format.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/type_mix.h"

namespace sinan::cli {

namespace {

std::string tokenizer_kind(std::string_view model) {
    if (model == "gpt2") return "byte-level BPE";
    if (model == "llama") return "SentencePiece-style BPE with byte fallback";
    if (model == "bert") return "WordPiece";
    if (model.empty()) return "none";
    return "unsupported (" + std::string(model) + ")";
}

nlohmann::json value_to_json(const gguf::Value& v, size_t max_items) {
    using gguf::ValueType;
    switch (v.type) {
        case ValueType::BOOL: return v.u != 0;
        case ValueType::STRING: return std::string(v.s);
        case ValueType::FLOAT32: case ValueType::FLOAT64: return v.f;
        case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64: return v.u;
        case ValueType::ARRAY: {
            // Long arrays (vocabularies) are summarised: type and length, not 150,000 items.
            const gguf::Array& a = *v.arr;
            if (a.n > max_items)
                return {{"type", std::string("array of ") + gguf::value_type_name(a.elem_type)}, {"length", a.n}};
            nlohmann::json out = nlohmann::json::array();
            for (uint64_t i = 0; i < a.n; ++i) {
                if (a.elem_type == ValueType::STRING) out.push_back(std::string(a.strings[i]));
                else if (a.elem_type == ValueType::ARRAY) out.push_back(value_to_json(a.arrays[i], max_items));
                else if (a.elem_type == ValueType::FLOAT32 || a.elem_type == ValueType::FLOAT64) out.push_back(a.get_f64(i));
                else out.push_back(a.get_i64(i));
            }
            return out;
        }
        default: return v.i;
    }
}

struct TokenizerSummary {
    std::string model, pre, kind;
    uint64_t n_tokens = 0, n_merges = 0;
    std::optional<int64_t> bos, eos;
    std::string bos_text, eos_text;
    uint64_t chat_template_bytes = 0;
};

TokenizerSummary summarize_tokenizer(const gguf::File& f) {
    TokenizerSummary t;
    t.model = std::string(f.get_string("tokenizer.ggml.model").value_or(""));
    t.pre = std::string(f.get_string("tokenizer.ggml.pre").value_or(""));
    t.kind = tokenizer_kind(t.model);
    const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens");
    if (tokens != nullptr && tokens->elem_type == gguf::ValueType::STRING) t.n_tokens = tokens->size();
    if (const gguf::Array* m = f.get_array("tokenizer.ggml.merges")) t.n_merges = m->size();
    auto token_text = [&](std::optional<int64_t> id) -> std::string {
        if (!id || tokens == nullptr || tokens->elem_type != gguf::ValueType::STRING || *id < 0 ||
            static_cast<uint64_t>(*id) >= tokens->size())
            return "";
        return std::string(tokens->strings[static_cast<size_t>(*id)]);
    };
    t.bos = f.get_int("tokenizer.ggml.bos_token_id");
    t.eos = f.get_int("tokenizer.ggml.eos_token_id");
    t.bos_text = token_text(t.bos);
    t.eos_text = token_text(t.eos);
    t.chat_template_bytes = f.get_string("tokenizer.chat_template").value_or("").size();
    return t;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
    return s;
}

// KV cache bytes per token for each cache type whose blocks divide the rows (0: does not apply);
// none when the architecture is not one sinan runs.
std::map<std::string, uint64_t> kv_bytes_per_token(const gguf::File& f) {
    std::map<std::string, uint64_t> out;
    Result<model::Hparams> h = model::read_hparams(f);
    if (!h.ok()) return out;
    for (gguf::TensorType type : {gguf::TensorType::F16, gguf::TensorType::Q8_0}) {
        const uint32_t block = gguf::type_traits(type).block_size;
        if (h->n_embd_k_cache() % block != 0 || h->n_embd_v_cache() % block != 0) continue;
        out[gguf::type_name(type)] =
            model::KvCache::bytes_per_token(h->n_layer, h->n_embd_k_cache(), h->n_embd_v_cache(), type);
    }
    return out;
}

void run_info(const std::string& path, bool json, bool list_tensors) {
    const auto t0 = std::chrono::steady_clock::now();
    Result<gguf::File> opened = gguf::File::open(path);
    if (!opened.ok()) fail(opened.message());
    const gguf::File& f = *opened;
    const double open_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const std::string arch(f.architecture());

    uint64_t n_params = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // type -> (count, bytes)
    for (const gguf::TensorInfo& t : f.tensors()) {
        n_params += t.n_elements;
        auto& e = by_type[gguf::type_name(t.type)];
        e.first += 1;
        e.second += t.n_bytes;
    }
    const TokenizerSummary tok = summarize_tokenizer(f);
    const std::string prefix = arch + ".";

    if (json) {
        nlohmann::json j;
        j["file"] = path;
        j["file_bytes"] = f.file_size();
        j["gguf_version"] = f.version();
        j["alignment"] = f.alignment();
        j["architecture"] = arch;
        if (auto name = f.get_string("general.name")) j["name"] = std::string(*name);
        if (auto ft = f.get_uint("general.file_type"))
            j["file_type"] = model::file_type_label(static_cast<uint32_t>(*ft));
        j["parameters"] = n_params;
        j["tensor_bytes"] = f.tensor_bytes();
        nlohmann::json hp = nlohmann::json::object();
        for (const gguf::KeyValue& kv : f.metadata())
            if (!arch.empty() && kv.key.substr(0, prefix.size()) == prefix)
                hp[std::string(kv.key.substr(prefix.size()))] = value_to_json(kv.value, 64);
        j["hyperparameters"] = hp;
        for (const auto& [type, bytes] : kv_bytes_per_token(f)) j["kv_bytes_per_token"][type] = bytes;
        nlohmann::json types = nlohmann::json::object();
        for (const auto& [name, e] : by_type) types[name] = {{"tensors", e.first}, {"bytes", e.second}};
        j["tensor_types"] = types;
        j["tensor_count"] = f.tensors().size();
        j["tokenizer"] = {{"model", tok.model}, {"pre", tok.pre}, {"kind", tok.kind}, {"tokens", tok.n_tokens},
                          {"merges", tok.n_merges}, {"chat_template_bytes", tok.chat_template_bytes}};
        if (tok.bos) j["tokenizer"]["bos_token_id"] = *tok.bos;
        if (tok.eos) j["tokenizer"]["eos_token_id"] = *tok.eos;
        nlohmann::json meta = nlohmann::json::object();
        for (const gguf::KeyValue& kv : f.metadata()) meta[std::string(kv.key)] = value_to_json(kv.value, 16);
        j["metadata"] = meta;
        if (list_tensors) {
            nlohmann::json ts = nlohmann::json::array();
            for (const gguf::TensorInfo& t : f.tensors())
                ts.push_back({{"name", std::string(t.name)}, {"type", gguf::type_name(t.type)}, {"shape", t.shape},
                              {"bytes", t.n_bytes}, {"offset", f.data_offset() + t.offset}});
            j["tensors"] = ts;
        }
        std::printf("%s\n", j.dump(2).c_str());
        return;
    }

    std::printf("file            %s (%s, GGUF v%u, alignment %u, opened in %.1f ms)\n", path.c_str(),
                format_bytes(f.file_size()).c_str(), f.version(), f.alignment(), open_ms);
    std::printf("architecture    %s\n", arch.empty() ? "(none: general.architecture is missing)" : arch.c_str());
    if (auto name = f.get_string("general.name")) std::printf("name            %.*s\n", (int)name->size(), name->data());
    if (auto ft = f.get_uint("general.file_type"))
        std::printf("file type       %s (general.file_type %u, llama.cpp's name)\n",
                    model::file_type_label(static_cast<uint32_t>(*ft)).c_str(), static_cast<unsigned>(*ft));
    std::printf("parameters      %s\n", format_count(n_params).c_str());
    std::printf("tensors         %zu, %s\n", f.tensors().size(), format_bytes(f.tensor_bytes()).c_str());
    for (const auto& [name, e] : by_type)
        std::printf("  %-13s %" PRIu64 " tensors, %s\n", name.c_str(), e.first, format_bytes(e.second).c_str());
    bool any_hp = false;
    for (const gguf::KeyValue& kv : f.metadata()) {
        if (arch.empty() || kv.key.substr(0, prefix.size()) != prefix) continue;
        if (!any_hp) std::printf("hyperparameters\n");
        any_hp = true;
        std::printf("  %-40s %s\n", std::string(kv.key.substr(prefix.size())).c_str(), kv.value.to_display().c_str());
    }
    const std::map<std::string, uint64_t> kv = kv_bytes_per_token(f);
    if (!kv.empty()) {
        std::printf("kv bytes/token ");
        for (const auto& [type, bytes] : kv) std::printf(" %s %" PRIu64, type.c_str(), bytes);
        std::printf("\n");
    }
    std::printf("tokenizer       %s", tok.kind.c_str());
    if (!tok.model.empty()) std::printf(" (model %s%s%s)", tok.model.c_str(), tok.pre.empty() ? "" : ", pre-tokenizer ",
                                        tok.pre.c_str());
    std::printf("\n");
    if (tok.n_tokens > 0) {
        std::printf("  tokens        %" PRIu64 "%s\n", tok.n_tokens,
                    tok.n_merges ? (", merges " + std::to_string(tok.n_merges)).c_str() : "");
        if (tok.bos) std::printf("  bos           %" PRId64 " %s\n", *tok.bos, tok.bos_text.c_str());
        if (tok.eos) std::printf("  eos           %" PRId64 " %s\n", *tok.eos, tok.eos_text.c_str());
    }
    std::printf("chat template   %s\n",
                tok.chat_template_bytes ? ("yes (" + format_bytes(tok.chat_template_bytes) + ")").c_str() : "no");
    if (list_tensors) {
        std::printf("%-48s %-6s %-24s %12s\n", "tensor", "type", "shape", "bytes");
        for (const gguf::TensorInfo& t : f.tensors())
            std::printf("%-48.*s %-6s %-24s %12" PRIu64 "\n", (int)t.name.size(), t.name.data(), gguf::type_name(t.type),
                        shape_text(t.shape).c_str(), t.n_bytes);
    }
}

}  // namespace

void register_model(CLI::App& app) {
    CLI::App* model = app.add_subcommand("model", "Inspect and create GGUF model files");
    model->require_subcommand(1);

    CLI::App* info = model->add_subcommand(
        "info", "Print what a GGUF file holds: architecture, hyperparameters, tensors and their types, tokenizer");
    struct InfoArgs {
        std::string path;
        bool json = false;
        bool tensors = false;
    };
    auto a = std::make_shared<InfoArgs>();
    info->add_option("FILE", a->path, "The .gguf file")->required();
    info->add_flag("--json", a->json, "Print one JSON object (for scripts)");
    info->add_flag("--tensors", a->tensors, "List every tensor: name, type, shape, bytes");
    info->callback([a] { run_info(a->path, a->json, a->tensors); });

    register_model_synth(*model);
}

}  // namespace sinan::cli
