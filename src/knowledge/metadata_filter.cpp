#include "knowledge/metadata_filter.h"

namespace sinan::knowledge {

bool MetadataFilter::matches(const Metadata& meta) const {
    for (const auto& [key, value] : equals) {
        auto it = meta.find(key);
        if (it == meta.end() || it->second != value) return false;
    }
    return true;
}

}  // namespace sinan::knowledge
