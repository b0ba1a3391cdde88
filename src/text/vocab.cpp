#include "text/vocab.h"

#include <string_view>

namespace sinan::text {
namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string key_of(std::string_view name) { return std::string(kPrefix) + std::string(name); }

// Reads an optional token id; "none" when absent or stored as -1 / 0xFFFFFFFF.
Status read_id(const gguf::File& file, std::string_view name, int32_t n_vocab, int32_t* out) {
    const std::string key = key_of(name);
    const gguf::Value* v = file.find(key);
    if (v == nullptr) return Status::ok();
    if (!v->is_integer()) {
        return Status::error(key + " is a " + gguf::value_type_name(v->type) + ", expected an integer token id");
    }
    const std::optional<int64_t> i = file.get_int(key);
    const std::optional<uint64_t> u = file.get_uint(key);
    if ((i && *i == -1) || (u && *u == 0xFFFFFFFFull)) return Status::ok();
    const int64_t id = i ? *i : static_cast<int64_t>(*u);
    if (id < 0 || id >= n_vocab) {
        return Status::error(key + " = " + std::to_string(id) + " is not a token id (the vocab has " +
                             std::to_string(n_vocab) + " tokens); the file's tokenizer metadata is inconsistent");
    }
    *out = static_cast<int32_t>(id);
    return Status::ok();
}

Status read_bool(const gguf::File& file, std::string_view name, bool* out) {
    const std::string key = key_of(name);
    if (file.find(key) == nullptr) return Status::ok();
    const std::optional<bool> b = file.get_bool(key);
    if (!b) return Status::error(key + " is not a bool");
    *out = *b;
    return Status::ok();
}

// A numeric array with one entry per token, or nullptr when absent.
Result<const gguf::Array*> read_per_token_array(const gguf::File& file, std::string_view name, size_t n_vocab) {
    const std::string key = key_of(name);
    if (file.find(key) == nullptr) return static_cast<const gguf::Array*>(nullptr);
    const gguf::Array* a = file.get_array(key);
    if (a == nullptr || !a->is_numeric()) return Status::error(key + " is not an array of numbers");
    if (a->size() != n_vocab) {
        return Status::error(key + " has " + std::to_string(a->size()) + " entries but tokenizer.ggml.tokens has " +
                             std::to_string(n_vocab) + "; the file's tokenizer metadata is inconsistent");
    }
    return a;
}

}  // namespace

Result<Vocab> load_vocab(const gguf::File& file) {
    Vocab v;
    const std::optional<std::string_view> model = file.get_string(key_of("model"));
    if (!model) {
        return Status::error(key_of("model") +
                             " is missing (or not a string): this GGUF has no tokenizer; use a model file with one");
    }
    v.model = std::string(*model);
    if (v.model == "gpt2") {
        v.kind = VocabKind::kBpe;
    } else if (v.model == "llama") {
        v.kind = VocabKind::kSpm;
    } else if (v.model == "bert") {
        v.kind = VocabKind::kWordPiece;
    } else {
        return Status::error(key_of("model") + " = '" + v.model + "' is not supported (supported: gpt2, llama, bert)");
    }
    if (file.find(key_of("pre")) != nullptr) {
        const std::optional<std::string_view> pre = file.get_string(key_of("pre"));
        if (!pre) return Status::error(key_of("pre") + " is not a string");
        v.pre = std::string(*pre);
    } else {
        v.pre = "default";
    }

    const gguf::Array* tokens = file.get_array(key_of("tokens"));
    if (tokens == nullptr || tokens->elem_type != gguf::ValueType::STRING) {
        return Status::error(key_of("tokens") + " is missing or not an array of strings");
    }
    if (tokens->size() == 0 || tokens->size() > 0x7FFFFFFFull) {
        return Status::error(key_of("tokens") + " has " + std::to_string(tokens->size()) + " entries");
    }
    const size_t n = tokens->size();
    v.tokens.reserve(n);
    for (std::string_view t : tokens->strings) v.tokens.emplace_back(t);
    const int32_t n_vocab = v.n_vocab();

    Result<const gguf::Array*> types = read_per_token_array(file, "token_type", n);
    if (!types.ok()) return types.status();
    v.types.assign(n, kTokenNormal);
    if (*types != nullptr) {
        for (size_t i = 0; i < n; ++i) {
            const int64_t t = (*types)->get_i64(i);
            if (t < kTokenNormal || t > kTokenByte) {
                return Status::error(key_of("token_type") + "[" + std::to_string(i) + "] = " + std::to_string(t) +
                                     " is not a token type (1..6)");
            }
            v.types[i] = static_cast<int32_t>(t);
        }
    }
    Result<const gguf::Array*> scores = read_per_token_array(file, "scores", n);
    if (!scores.ok()) return scores.status();
    if (*scores != nullptr) {
        v.scores.resize(n);
        for (size_t i = 0; i < n; ++i) v.scores[i] = (*scores)->get_f32(i);
    } else if (v.kind == VocabKind::kSpm) {
        return Status::error(key_of("scores") + " is missing: a 'llama' (SentencePiece) tokenizer needs token scores");
    }

    if (v.kind == VocabKind::kBpe) {
        const gguf::Array* merges = file.get_array(key_of("merges"));
        if (merges == nullptr || merges->elem_type != gguf::ValueType::STRING) {
            return Status::error(key_of("merges") +
                                 " is missing or not an array of strings: a 'gpt2' (byte-level BPE) "
                                 "tokenizer needs its merges");
        }
        v.merges.reserve(merges->size());
        for (std::string_view m : merges->strings) v.merges.emplace_back(m);
    }

    SINAN_RETURN_IF_ERROR(read_id(file, "bos_token_id", n_vocab, &v.bos_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "eos_token_id", n_vocab, &v.eos_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "eot_token_id", n_vocab, &v.eot_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "eom_token_id", n_vocab, &v.eom_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "unknown_token_id", n_vocab, &v.unk_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "seperator_token_id", n_vocab, &v.sep_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "padding_token_id", n_vocab, &v.pad_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "cls_token_id", n_vocab, &v.cls_id));
    SINAN_RETURN_IF_ERROR(read_id(file, "mask_token_id", n_vocab, &v.mask_id));

    v.add_bos = v.kind == VocabKind::kSpm;
    v.add_space_prefix = v.kind == VocabKind::kSpm;
    SINAN_RETURN_IF_ERROR(read_bool(file, "add_bos_token", &v.add_bos));
    SINAN_RETURN_IF_ERROR(read_bool(file, "add_eos_token", &v.add_eos));
    SINAN_RETURN_IF_ERROR(read_bool(file, "add_space_prefix", &v.add_space_prefix));
    if (v.add_bos && v.bos_id < 0 && v.kind != VocabKind::kWordPiece) {
        return Status::error(key_of("add_bos_token") + " is true but " + key_of("bos_token_id") + " is missing");
    }
    if (v.add_eos && v.eos_id < 0 && v.kind != VocabKind::kWordPiece) {
        return Status::error(key_of("add_eos_token") + " is true but " + key_of("eos_token_id") + " is missing");
    }
    return v;
}

}  // namespace sinan::text
