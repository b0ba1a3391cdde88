// PieceIndex: the token texts of a vocabulary and a text -> id map, shared by SpmModel (spm.h) and
// WordPieceModel (wordpiece.h), which both look up pieces of the text being encoded by their bytes.
// Private to src/text.
//
// Lookups take a std::string_view and allocate nothing. When two ids share a text, the later id
// wins (llama.cpp builds its map the same way, and we match its output).
// Thread-safety: immutable after construction; read from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sinan::text {

// U+2581 "▁": SentencePiece's space, and the word-start mark of llama.cpp's WordPiece vocabularies.
inline constexpr std::string_view kSpaceMark = "\xE2\x96\x81";

class PieceIndex {
  public:
    // Requires tokens.size() <= INT32_MAX (the models check it before).
    explicit PieceIndex(std::span<const std::string_view> tokens) : texts_(tokens.begin(), tokens.end()) {
        ids_.reserve(texts_.size());
        for (size_t id = 0; id < texts_.size(); ++id) {
            ids_.insert_or_assign(texts_[id], static_cast<int32_t>(id));
            max_text_bytes_ = std::max(max_text_bytes_, texts_[id].size());
        }
    }

    // The id whose text is exactly `text`, or -1.
    int32_t find(std::string_view text) const {
        auto it = ids_.find(text);
        return it == ids_.end() ? -1 : it->second;
    }
    const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
    int32_t size() const { return static_cast<int32_t>(texts_.size()); }
    size_t max_text_bytes() const { return max_text_bytes_; }

  private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::vector<std::string> texts_;
    std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
    size_t max_text_bytes_ = 0;
};

// `text` with every U+2581 replaced by ' ' (how both vocabularies' pieces read in decoded text).
inline std::string replace_space_marks(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text.substr(i, kSpaceMark.size()) == kSpaceMark) {
            out += ' ';
            i += kSpaceMark.size();
        } else {
            out += text[i++];
        }
    }
    return out;
}

}  // namespace sinan::text
