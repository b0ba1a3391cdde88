// Chunk metadata (string keys to string values, e.g. "source" -> "handbook.pdf", "lang" -> "en")
// and the filters a search applies to it: equality on keys, all of them (AND). An empty filter
// accepts everything; a chunk that lacks a filtered key does not match.
//
// Thread-safety: plain values; matches() is a pure function.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sinan::knowledge {

using Metadata = std::map<std::string, std::string, std::less<>>;

struct MetadataFilter {
    // key == value for every pair (AND). A key may appear twice only with one value, else nothing matches.
    std::vector<std::pair<std::string, std::string>> equals;

    bool empty() const { return equals.empty(); }
    bool matches(const Metadata& meta) const;
};

}  // namespace sinan::knowledge
