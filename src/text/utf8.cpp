#include "text/utf8.h"

namespace sinan::text {

Utf8Step decode_utf8(std::string_view s) {
    const auto b0 = static_cast<uint8_t>(s[0]);
    if (b0 < 0x80) return {Utf8Step::kOk, 1, b0};
    size_t need = 0;
    uint32_t cp = 0;
    // The allowed range of the second byte depends on the lead byte (Unicode Table 3-7).
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2, cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3, cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return {Utf8Step::kInvalid, 1, 0};
    }
    for (size_t i = 1; i <= need; ++i) {
        if (i >= s.size()) return {Utf8Step::kIncomplete, i, 0};
        const auto b = static_cast<uint8_t>(s[i]);
        if (b < lo || b > hi) return {Utf8Step::kInvalid, i, 0};
        cp = (cp << 6) | (b & 0x3F);
        lo = 0x80, hi = 0xBF;
    }
    return {Utf8Step::kOk, need + 1, cp};
}

size_t find_invalid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        if (static_cast<uint8_t>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const Utf8Step step = decode_utf8(s.substr(i));
        if (step.kind != Utf8Step::kOk) return i;
        i += step.len;
    }
    return s.size();
}

std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const Utf8Step step = decode_utf8(s.substr(i));
        if (step.kind == Utf8Step::kOk) {
            out.append(s.substr(i, step.len));
        } else {
            out.append(kReplacementChar);
        }
        i += step.len;
    }
    return out;
}

void append_utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace sinan::text
