#include "sampling/stop_matcher.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace sinan::sampling {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    size_t longest = 0;
    for (const std::string& s : stops_) {
        SINAN_CHECK(!s.empty(), "StopMatcher: empty stop string (validate() rejects these)");
        longest = std::max(longest, s.size());
    }
    pending_.reserve(longest + 64);
}

void StopMatcher::drop_released() {
    pending_.erase(0, released_);
    released_ = 0;
}

StopStep StopMatcher::feed(std::string_view piece) {
    if (stopped()) return {{}, true, stop_index_};
    drop_released();
    pending_.append(piece);
    const std::string_view text = pending_;

    // The stop that completes first, as if the text came one byte at a time, so the result does not
    // depend on where the pieces were cut; of those ending at the same byte, the longest.
    size_t first = std::string_view::npos;
    size_t first_end = std::string_view::npos;
    for (size_t k = 0; k < stops_.size(); ++k) {
        const size_t pos = text.find(stops_[k]);
        if (pos == std::string_view::npos) continue;
        const size_t end = pos + stops_[k].size();
        if (end < first_end || (end == first_end && pos < first)) {
            first = pos;
            first_end = end;
            stop_index_ = static_cast<int32_t>(k);
        }
    }
    if (first != std::string_view::npos) {
        released_ = pending_.size();  // nothing is held any more: the rest is dropped
        return {text.substr(0, first), true, stop_index_};
    }

    // Hold the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : stops_) {
        for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
            if (text.ends_with(std::string_view(s).substr(0, len))) {
                hold = len;
                break;
            }
        }
    }
    released_ = pending_.size() - hold;
    return {text.substr(0, released_), false, -1};
}

std::string_view StopMatcher::finish() {
    if (stopped()) return {};
    const std::string_view rest = std::string_view(pending_).substr(released_);
    released_ = pending_.size();
    return rest;
}

}  // namespace sinan::sampling
