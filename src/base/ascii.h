// ASCII helpers for protocol text (header values, host names, file extensions): no locale, no
// Unicode (text/ has the Unicode-aware ones).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sinan {

inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// s with A-Z turned into a-z; every other byte as it is.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// The items of comma-separated lists (several lists: a repeatable flag's values), each without the
// spaces and tabs around it, empty items dropped: {"a, b", "c"} -> {"a", "b", "c"}.
inline std::vector<std::string> comma_list_items(const std::vector<std::string>& lists) {
    std::vector<std::string> items;
    for (const std::string& list : lists) {
        size_t start = 0;
        while (start <= list.size()) {
            size_t comma = list.find(',', start);
            if (comma == std::string::npos) comma = list.size();
            std::string item = list.substr(start, comma - start);
            item.erase(0, item.find_first_not_of(" \t"));
            item.erase(item.find_last_not_of(" \t") + 1);
            if (!item.empty()) items.push_back(std::move(item));
            start = comma + 1;
        }
    }
    return items;
}

}  // namespace sinan
