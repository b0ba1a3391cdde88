// Writes the GGUF reader's seed corpus into the folder given as argv[1]: small valid files that
// together use every metadata value type, nested arrays, a custom alignment and every
// supported tensor type, so the fuzzer starts from deep inside the format.
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/writer.h"

using namespace sinan::gguf;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    int n = 0;
    auto save = [&](const Writer& w, const char* name) {
        std::vector<uint8_t> b = w.to_bytes();
        std::string path = dir + "/" + name;
        FILE* f = std::fopen(path.c_str(), "wb");
        if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            std::exit(1);
        }
        std::fclose(f);
        ++n;
    };

    Writer scalars;
    scalars.set_u8("a.u8", 1);
    scalars.set_i8("a.i8", -1);
    scalars.set_u16("a.u16", 2);
    scalars.set_i16("a.i16", -2);
    scalars.set_u32("a.u32", 3);
    scalars.set_i32("a.i32", -3);
    scalars.set_u64("a.u64", 4);
    scalars.set_i64("a.i64", -4);
    scalars.set_f32("a.f32", 0.5f);
    scalars.set_f64("a.f64", 0.25);
    scalars.set_bool("a.bool", true);
    scalars.set_string("general.architecture", "llama");
    save(scalars, "scalars.gguf");

    Writer arrays(64);
    arrays.set_strings("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "ab"});
    arrays.set_f32s("tokenizer.ggml.scores", {0, 0, -1, -2, -3});
    arrays.set_i32s("tokenizer.ggml.token_type", {3, 3, 1, 1, 1});
    arrays.set_u32s("x.u32s", {1, 2, 3});
    save(arrays, "arrays.gguf");

    Writer tensors;
    tensors.set_string("general.architecture", "qwen2");
    const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0,
                                TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q2_K, TensorType::Q3_K,
                                TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
    for (TensorType t : types) {
        const TypeTraits& tr = type_traits(t);
        std::vector<uint8_t> data(tr.type_size, 0x11);
        tensors.add_tensor(std::string("t.") + tr.name, t, {tr.block_size}, data);
    }
    save(tensors, "tensors.gguf");

    Writer shaped;
    shaped.add_tensor("m", TensorType::F32, {4, 3, 2, 1}, std::vector<uint8_t>(96, 0));
    save(shaped, "shaped.gguf");
    std::printf("wrote %d seeds to %s\n", n, dir.c_str());
    return 0;
}
