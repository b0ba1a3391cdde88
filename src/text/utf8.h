// UTF-8 helpers for the tokenizers and the streaming detokenizer: decoding one code point with
// the exact validity rules of Unicode (Table 3-7: no overlongs, no surrogates, nothing above
// U+10FFFF), replacing invalid input with U+FFFD, and encoding a code point.
//
// Invalid input is replaced "per maximal subpart" (Unicode's recommended practice, the same as
// Python's errors="replace" and WHATWG): a byte sequence that starts well but breaks off counts
// as one U+FFFD, a stray continuation byte as one each.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sinan::text {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

struct Utf8Step {
    enum Kind { kOk, kIncomplete, kInvalid };
    Kind kind = kOk;
    size_t len = 0;   // kOk: bytes of the code point; kInvalid: bytes of the maximal subpart (>= 1);
                      // kIncomplete: bytes present, all of them a valid prefix of a longer sequence
    uint32_t cp = 0;  // kOk only
};

// Decodes the code point at the start of `s` (non-empty).
Utf8Step decode_utf8(std::string_view s);

// Offset of the first invalid or incomplete byte, or s.size() when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

// `s` with every invalid or incomplete sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Appends the UTF-8 bytes of `cp` (<= 0x10FFFF) to `out`.
void append_utf8(uint32_t cp, std::string* out);

}  // namespace sinan::text
