#include "model/synth_vocab.h"

#include <unordered_set>

#include "base/check.h"

namespace sinan::model {

namespace {

// splitmix64: a small, fast, well-mixed generator; enough for synthetic data.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return next() % n; }
};

void append_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
        *s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        *s += static_cast<char>(0xC0 | (cp >> 6));
        *s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        *s += static_cast<char>(0xE0 | (cp >> 12));
        *s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *s += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// GPT-2's byte -> printable code point mapping: printable Latin-1 bytes map to themselves, the
// rest to 256, 257, ... in byte order.
std::vector<std::string> byte_symbols() {
    std::vector<std::string> out(256);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        append_utf8(&out[b], printable ? b : next++);
    }
    return out;
}

const char* const kSpecials[] = {
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>",       "<｜User｜>",
    "<｜Assistant｜>",        "<think>",               "</think>",             "<｜tool▁calls▁begin｜>",
    "<｜tool▁calls▁end｜>",   "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>",
};
constexpr uint32_t kNumSpecials = sizeof(kSpecials) / sizeof(kSpecials[0]);

}  // namespace

SynthVocab make_synth_vocab(uint32_t n_vocab, uint64_t seed) {
    SINAN_CHECK(n_vocab >= 256 + kNumSpecials, "synthetic vocabulary needs at least 268 tokens");
    SynthVocab v;
    const std::vector<std::string> bytes = byte_symbols();
    v.tokens = bytes;
    std::unordered_set<std::string> seen(bytes.begin(), bytes.end());
    const uint32_t n_normal = n_vocab - kNumSpecials;

    auto add_merge = [&](const std::string& a, const std::string& b) {
        std::string t = a + b;
        if (v.tokens.size() >= n_normal || !seen.insert(t).second) return;
        v.merges.push_back(a + " " + b);
        v.tokens.push_back(std::move(t));
    };
    // First the merges a trained English vocabulary starts with: space+letter, letter pairs.
    const std::string& space = bytes[' '];
    for (char c = 'a'; c <= 'z'; ++c) add_merge(space, bytes[static_cast<uint8_t>(c)]);
    for (char c = 'a'; c <= 'z'; ++c)
        for (char d = 'a'; d <= 'z'; ++d) add_merge(bytes[static_cast<uint8_t>(c)], bytes[static_cast<uint8_t>(d)]);
    // Then random merges of earlier tokens (bounded length), so the size is the real one.
    Rng rng{seed ^ 0x5151u};
    size_t attempts = 0;
    while (v.tokens.size() < n_normal) {
        const size_t n = v.tokens.size();
        const std::string& a = v.tokens[rng.below(n)];
        const std::string& b = v.tokens[rng.below(std::min<size_t>(n, 4096))];
        if (a.size() + b.size() <= 24) add_merge(a, b);
        if (++attempts > 100ull * n_vocab) break;  // cannot happen for sane sizes; keeps the loop finite
    }
    // Pad with unique filler tokens if random merging ever fell short.
    for (uint32_t i = 0; v.tokens.size() < n_normal; ++i) {
        std::string t = "[PAD" + std::to_string(i) + "]";
        if (seen.insert(t).second) v.tokens.push_back(t);
    }
    v.token_types.assign(v.tokens.size(), 1);
    for (const char* s : kSpecials) {
        v.tokens.push_back(s);
        v.token_types.push_back(3);
    }
    v.bos_id = static_cast<int32_t>(n_normal);
    v.eos_id = static_cast<int32_t>(n_normal + 1);
    v.pad_id = static_cast<int32_t>(n_normal + 2);
    v.chat_template =
        "{{ bos_token }}{% for message in messages %}"
        "{% if message['role'] == 'system' %}{{ message['content'] }}"
        "{% elif message['role'] == 'user' %}<｜User｜>{{ message['content'] }}"
        "{% elif message['role'] == 'assistant' %}<｜Assistant｜>{{ message['content'] }}<｜end▁of▁sentence｜>"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}";
    return v;
}

}  // namespace sinan::model
