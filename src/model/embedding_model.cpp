#include "model/embedding_model.h"

#include <array>

namespace sinan::model {

namespace {

constexpr std::array<std::string_view, 5> kPoolingNames = {"none", "mean", "cls", "last", "rank"};

}  // namespace

std::string_view pooling_name(Pooling p) { return kPoolingNames[static_cast<size_t>(p)]; }

Result<Pooling> parse_pooling(std::string_view name) {
    for (size_t i = 0; i < kPoolingNames.size(); ++i)
        if (kPoolingNames[i] == name) return static_cast<Pooling>(i);
    return Status::error("pooling '" + std::string(name) + "' is not one of none, mean, cls, last, rank");
}

bool is_embedding_arch(std::string_view arch) { return arch == "bert" || arch == "nomic-bert"; }

bool is_reranker(const EmbeddingHparams& h) { return h.pooling == Pooling::kRank && h.n_cls_out > 0; }

std::vector<std::pair<size_t, size_t>> token_passes(std::span<const std::vector<int32_t>> sequences,
                                                     int64_t max_tokens) {
    std::vector<std::pair<size_t, size_t>> passes;
    for (size_t begin = 0; begin < sequences.size();) {
        size_t end = begin;
        int64_t n_tokens = 0;
        while (end < sequences.size() &&
               (end == begin || n_tokens + static_cast<int64_t>(sequences[end].size()) <= max_tokens))
            n_tokens += static_cast<int64_t>(sequences[end++].size());
        passes.emplace_back(begin, end);
        begin = end;
    }
    return passes;
}

Result<EmbeddingHparams> read_embedding_hparams(const gguf::File& f) {
    EmbeddingHparams h;
    h.arch = std::string(f.architecture());
    if (!is_embedding_arch(h.arch))
        return Status::error(f.path() + ": architecture '" + h.arch +
                             "' is not an embedding model sinan can run (supported: bert, nomic-bert)");
    const std::string a = h.arch + ".";
    auto need = [&](const std::string& key, int64_t* out) -> Status {
        std::optional<int64_t> v = f.get_int(a + key);
        if (!v || *v <= 0)
            return Status::error(f.path() + ": metadata key '" + a + key + "' is missing or not a positive integer");
        *out = *v;
        return Status::ok();
    };
    SINAN_RETURN_IF_ERROR(need("embedding_length", &h.n_embd));
    SINAN_RETURN_IF_ERROR(need("block_count", &h.n_layer));
    SINAN_RETURN_IF_ERROR(need("attention.head_count", &h.n_head));
    SINAN_RETURN_IF_ERROR(need("feed_forward_length", &h.n_ff));
    SINAN_RETURN_IF_ERROR(need("context_length", &h.n_ctx_train));
    if (h.n_embd % h.n_head != 0)
        return Status::error(f.path() + ": embedding_length " + std::to_string(h.n_embd) +
                             " is not a multiple of attention.head_count " + std::to_string(h.n_head));
    h.head_dim = h.n_embd / h.n_head;
    if (auto eps = f.get_float(a + "attention.layer_norm_epsilon")) h.norm_eps = static_cast<float>(*eps);
    if (f.get_bool(a + "attention.causal").value_or(false))
        return Status::error(f.path() + ": " + a +
                             "attention.causal is true; sinan runs bert encoders bidirectionally only");
    const bool nomic = h.arch == "nomic-bert";
    if (nomic && !f.get_int(a + "pooling_type"))
        return Status::error(
            f.path() + ": metadata key '" + a +
            "pooling_type' is missing; convert the model again with llama.cpp's convert_hf_to_gguf.py");
    // bert files without the key pool like BERT's own pooler: the [CLS] token.
    const int64_t pooling = f.get_int(a + "pooling_type").value_or(static_cast<int64_t>(Pooling::kCls));
    if (pooling < 0 || pooling >= static_cast<int64_t>(kPoolingNames.size()))
        return Status::error(f.path() + ": " + a + "pooling_type " + std::to_string(pooling) +
                             " is unknown (0 none, 1 mean, 2 cls, 3 last, 4 rank)");
    h.pooling = static_cast<Pooling>(pooling);
    if (nomic) {
        h.rope_freq_base = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
        if (!(h.rope_freq_base > 0.0f))
            return Status::error(f.path() + ": " + a + "rope.freq_base " + std::to_string(h.rope_freq_base) +
                                 " is not a positive number");
        if (h.head_dim % 2 != 0)
            return Status::error(f.path() + ": head size " + std::to_string(h.head_dim) +
                                 " is odd; rotary embedding turns pairs of values, so it must be even");
    }
    return h;
}

Result<std::unique_ptr<EmbeddingModel>> EmbeddingModel::load(const std::string& path, const LoadOptions& options) {
    Result<gguf::File> f = gguf::File::open(path);
    if (!f.ok()) return f.status();
    if (!is_embedding_arch(f->architecture()))
        return Status::error(
            path + ": architecture '" + std::string(f->architecture()) +
            "' is a generative model, not an embedding model (embedding architectures: bert, nomic-bert)");
    Result<EmbeddingHparams> h = read_embedding_hparams(*f);
    if (!h.ok()) return h.status();
    return load_bert(std::move(f).value(), std::move(h).value(), options);
}

Status EmbeddingModel::check_input(std::span<const std::vector<int32_t>> sequences, Pooling pooling,
                                   std::span<const int64_t> segment_b) const {
    if (pooling == Pooling::kRank && hparams_.n_cls_out == 0)
        return Status::error(file_.path() +
                             ": rank pooling needs a cross-encoder reranker's classifier head (cls.weight), which "
                             "this model does not have; use cls, mean or last pooling");
    if (!segment_b.empty() && segment_b.size() != sequences.size())
        return Status::error("segment_b has " + std::to_string(segment_b.size()) + " entries for " +
                             std::to_string(sequences.size()) + " sequences; give one per sequence or none");
    for (size_t s = 0; s < sequences.size(); ++s) {
        const std::vector<int32_t>& seq = sequences[s];
        if (seq.empty()) return Status::error("sequence " + std::to_string(s) + " is empty");
        if (static_cast<int64_t>(seq.size()) > hparams_.n_ctx_train)
            return Status::error("sequence " + std::to_string(s) + " has " + std::to_string(seq.size()) +
                                 " tokens, more than the model's context of " + std::to_string(hparams_.n_ctx_train) +
                                 "; truncate it");
        if (!segment_b.empty() && (segment_b[s] < 0 || segment_b[s] > static_cast<int64_t>(seq.size())))
            return Status::error("sequence " + std::to_string(s) + ": its second segment starts at " +
                                 std::to_string(segment_b[s]) + ", outside 0.." + std::to_string(seq.size()));
        for (int32_t id : seq)
            if (id < 0 || id >= hparams_.n_vocab)
                return Status::error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                     std::to_string(hparams_.n_vocab - 1) + ")");
    }
    return Status::ok();
}

}  // namespace sinan::model
