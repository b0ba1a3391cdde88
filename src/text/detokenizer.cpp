#include "text/detokenizer.h"

#include "text/utf8.h"

namespace sinan::text {

StreamingDetokenizer::StreamingDetokenizer(Tokenizer tokenizer, bool skip_special, bool continues_text)
    : tokenizer_(std::move(tokenizer)), skip_special_(skip_special), continues_text_(continues_text),
      at_start_(!continues_text) {}

std::string StreamingDetokenizer::push(int32_t id) {
    std::string piece = tokenizer_.token_to_piece(id, skip_special_);
    if (at_start_ && !piece.empty()) {
        if (tokenizer_.strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
        at_start_ = false;
    }
    pending_ += piece;
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const Utf8Step step = decode_utf8(std::string_view(pending_).substr(i));
        if (step.kind == Utf8Step::kIncomplete) break;  // wait for the next token
        if (step.kind == Utf8Step::kOk) {
            out.append(pending_, i, step.len);
        } else {
            out.append(kReplacementChar);
        }
        i += step.len;
    }
    pending_.erase(0, i);
    return out;
}

std::string StreamingDetokenizer::flush() {
    std::string out = pending_.empty() ? std::string() : sanitize_utf8(pending_);
    pending_.clear();
    at_start_ = !continues_text_;
    return out;
}

}  // namespace sinan::text
