// StopMatcher: finds OpenAI "stop" strings in streamed text and says how much text is safe to
// stream. The caller feeds each detokenised piece; StopMatcher holds back the longest tail that
// could still be the start of a stop string, so a client never sees a prefix of a stop string
// that later turns out to be one. Matching is on bytes: a stop string that starts with a UTF-8
// lead byte can only be held back from a lead byte on, so released text never ends inside a
// character the stop string could begin with (pieces themselves should be whole characters, as
// text::Detokenizer produces them).
//
// When a stop string appears (possibly spread over several pieces), the text before it is
// released, the stop string and everything after it are dropped (OpenAI does not return the stop
// sequence), and later feeds return nothing. The stop that wins is the one that completes first
// reading byte by byte (of those completing at the same byte, the longest; then the first listed),
// so the outcome is the same however the text is cut into pieces.
//
// Lifetime: the string_view results point into the matcher and stay valid until the next call
// to feed() or finish(). Memory: the held text is shorter than the longest stop string; the
// buffer grows only to the largest (held + piece). Cost per feed: O(piece * n_stops) search plus
// O(max_stop_len^2 * n_stops) for the held tail (stop strings are short; OpenAI allows 4).
// Not thread-safe: one per sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sinan::sampling {

struct StopStep {
    std::string_view text;    // stream this now (may be empty)
    bool stopped = false;     // a stop string was found: generation ends
    int32_t stop_index = -1;  // index into the stop strings of the one found, or -1
};

class StopMatcher {
  public:
    // stops: non-empty strings (validate() rejects empty ones); none = nothing is ever held back.
    explicit StopMatcher(std::vector<std::string> stops);

    StopStep feed(std::string_view piece);
    // End of generation without a stop string: releases the held tail (empty after a stop).
    std::string_view finish();

    bool stopped() const { return stop_index_ >= 0; }
    size_t held_bytes() const { return pending_.size() - released_; }

  private:
    void drop_released();

    std::vector<std::string> stops_;
    std::string pending_;  // [0, released_) handed out by the last call; the rest is held
    size_t released_ = 0;
    int32_t stop_index_ = -1;
};

}  // namespace sinan::sampling
