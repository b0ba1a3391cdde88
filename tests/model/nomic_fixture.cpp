#include "nomic_fixture.h"

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "reranker_fixture.h"

namespace sinan::test {

std::string write_nomic_fixture(const std::string& out_path, const std::string& omit) {
    Result<gguf::File> f = gguf::File::open(bert_tiny_path());
    if (!f.ok()) return f.message();
    const std::optional<int64_t> n_embd = f->get_int("bert.embedding_length");
    const std::optional<int64_t> n_ff = f->get_int("bert.feed_forward_length");
    const std::optional<int64_t> n_layer = f->get_int("bert.block_count");
    if (!n_embd || !n_ff || !n_layer) return "bert-tiny lacks its embedding_length, feed_forward_length or block_count";

    gguf::Writer w;
    for (const gguf::KeyValue& kv : f->metadata()) {
        if (kv.key == "general.alignment") continue;
        const std::string key(kv.key);
        w.set_value(key.starts_with("bert.") ? "nomic-" + key : key, kv.value);
    }
    w.set_string("general.architecture", "nomic-bert");
    w.set_string("general.name", "nomic-bert-tiny");
    w.set_u32("nomic-bert.pooling_type", 1);
    w.set_f32("nomic-bert.rope.freq_base", 1000.0f);

    auto copy = [&](const std::string& name) {
        const gguf::TensorInfo* t = f->find_tensor(name);
        if (t != nullptr && name != omit) w.add_tensor(t->name, t->type, t->shape, std::span(t->data, t->n_bytes));
    };
    auto add_random = [&](const std::string& name, std::vector<uint64_t> shape, uint64_t seed, float scale) {
        if (name != omit) add_f32(w, name.c_str(), shape, pseudo_random(shape[0] * shape[1], seed, scale));
    };
    for (const char* name :
         {"token_embd.weight", "token_types.weight", "token_embd_norm.weight", "token_embd_norm.bias"})
        copy(name);
    const uint64_t d = static_cast<uint64_t>(*n_embd), ff = static_cast<uint64_t>(*n_ff);
    for (int64_t l = 0; l < *n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add_random(p + "attn_qkv.weight", {d, 3 * d}, 100 + static_cast<uint64_t>(l), 0.3f);
        for (const char* name :
             {"attn_output.weight", "attn_output_norm.weight", "attn_output_norm.bias", "ffn_up.weight",
              "ffn_down.weight", "layer_output_norm.weight", "layer_output_norm.bias"})
            copy(p + name);
        add_random(p + "ffn_gate.weight", {d, ff}, 200 + static_cast<uint64_t>(l), 0.3f);
    }
    Status s = w.write(out_path);
    return s.is_ok() ? "" : s.message();
}

}  // namespace sinan::test
