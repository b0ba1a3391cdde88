// libFuzzer target: any byte string given to the GGUF reader yields a File or an error, never a
// crash, an out-of-bounds read (AddressSanitizer), undefined behaviour or a huge allocation.
// When parsing succeeds, every value and tensor is touched the way `sinan model info` does.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    sinan::Result<sinan::gguf::File> f = sinan::gguf::File::parse(data, size, "fuzz.gguf");
    if (!f.ok()) return 0;
    size_t sink = 0;
    for (const auto& kv : f->metadata()) sink += kv.value.to_display(16).size();
    for (const auto& t : f->tensors()) {
        if (t.n_bytes > 0) sink += t.data[0] + t.data[t.n_bytes - 1];  // first and last byte are inside
    }
    if (const auto* tokens = f->get_array("tokenizer.ggml.tokens")) sink += tokens->size();
    return sink == 0xdeadbeef ? 1 : 0;
}
