#include "knowledge/chunker.h"

#include <unicode/brkiter.h>

#include <memory>
#include <string>
#include <utility>

#include "base/check.h"
#include "knowledge/extract_formats.h"
#include "knowledge/sentences.h"
#include "text/utf8.h"

namespace sinan::knowledge {

namespace {

bool is_cjk(uint32_t cp) {
    return (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x2E80 && cp <= 0x2FDF) || (cp >= 0x3001 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
           (cp >= 0x20000 && cp <= 0x3134F);
}

bool is_space(uint32_t cp) {
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x3000;
}

bool is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return !is_space(cp) && !is_cjk(cp);  // accented Latin, Cyrillic, Greek, Arabic ... count as letters
}

// A piece of text that goes into a chunk whole.
struct Unit {
    std::string text;
    int n_tokens = 0;
    int page = 0;
    int section = 0;            // index of the heading section it belongs to
    bool starts_block = false;  // joined to the previous unit with "\n" (else directly: same block)
    bool table = false;
    bool carried = false;  // overlap repeated from the previous chunk
    bool heading = false;
};

class Chunker {
  public:
    Chunker(const ChunkOptions& options) : options_(options) {
        SINAN_CHECK(options_.max_tokens > 0, "ChunkOptions::max_tokens must be > 0");
        SINAN_CHECK(options_.overlap_tokens >= 0 && options_.overlap_tokens < options_.max_tokens,
                    "ChunkOptions::overlap_tokens must be in [0, max_tokens)");
        if (!options_.count_tokens) options_.count_tokens = approximate_token_count;
        sentences_ = new_sentence_iterator();
        words_ = new_word_iterator();
    }

    std::vector<Chunk> run(const ExtractedDocument& doc) {
        for (const Block& block : doc.blocks) {
            if (trim_space(block.text).empty()) continue;
            if (block.kind == Block::Kind::kHeading) {
                while (!path_.empty() && path_.back().first >= block.level) path_.pop_back();
                path_.emplace_back(block.level, std::string(trim_space(block.text)));
                ++section_;
                if (!has_fresh_units()) {
                    units_.clear();  // only overlap from the last section: not carried across a heading
                    total_ = 0;
                } else if (total_ >= options_.min_tokens) {
                    emit(false);
                }
            }
            if (block.kind == Block::Kind::kTable) {
                add_table(block);
            } else {
                add_text(block.text, block.page, block.kind == Block::Kind::kHeading);
            }
        }
        if (has_fresh_units()) emit(false);
        return std::move(chunks_);
    }

  private:
    bool has_fresh_units() const {
        for (const Unit& u : units_) {
            if (!u.carried) return true;
        }
        return false;
    }

    // Tokens left in the chunk in progress when it holds only headings (which must not make a
    // chunk alone), else a whole chunk's budget.
    int room() const {
        for (const Unit& u : units_) {
            if (!u.heading) return options_.max_tokens;
        }
        return options_.max_tokens - total_;
    }

    int count(std::string_view s) const { return options_.count_tokens(s); }

    std::string location(int page) const {
        std::string out;
        for (const auto& [level, text] : path_) {
            if (!out.empty()) out += " > ";
            out += text;
        }
        if (page > 0) out += (out.empty() ? "page " : ", page ") + std::to_string(page);
        return out;
    }

    // Adds one unit, first closing the chunk in progress when the unit does not fit in it.
    void add(Unit u) {
        SINAN_DCHECK(u.n_tokens <= options_.max_tokens, "unit over budget");
        if (!units_.empty() && total_ + u.n_tokens > options_.max_tokens) emit(true, &u);
        if (units_.empty()) {
            location_ = location(u.page);
            page_ = u.page;
        }
        total_ += u.n_tokens;
        units_.push_back(std::move(u));
    }

    // Closes the chunk in progress. With `next` (a budget cut inside one section), the new chunk
    // starts with the tail of the closed one, sized to leave room for `next`.
    void emit(bool overlap, const Unit* next = nullptr) {
        Chunk c;
        c.ordinal = static_cast<int>(chunks_.size());
        for (size_t i = 0; i < units_.size(); ++i) {
            if (i > 0 && units_[i].starts_block) c.text += '\n';
            c.text += units_[i].text;
        }
        c.text = std::string(trim_space(c.text));
        c.location = location_;
        c.page = page_;
        c.n_tokens = count(c.text);
        std::vector<Unit> carried;
        if (overlap && next != nullptr && !next->table) {
            int budget = std::min(options_.overlap_tokens, options_.max_tokens - next->n_tokens);
            for (auto it = units_.rbegin(); it != units_.rend() && budget > 0; ++it) {
                if (it->section != next->section || it->table) break;
                Unit tail = *it;
                tail.carried = true;
                if (tail.n_tokens > budget) {
                    if (!carried.empty()) break;  // whole sentences only, once one is taken
                    tail.text = tail_of(it->text, budget);
                    tail.n_tokens = count(tail.text);
                    if (trim_space(tail.text).empty()) break;
                }
                budget -= tail.n_tokens;
                const bool whole = tail.text.size() == it->text.size();
                carried.insert(carried.begin(), std::move(tail));
                if (!whole) break;
            }
        }
        if (!c.text.empty()) chunks_.push_back(std::move(c));
        units_.clear();
        total_ = 0;
        for (Unit& u : carried) {
            if (units_.empty()) {
                location_ = location(u.page);
                page_ = u.page;
            }
            total_ += u.n_tokens;
            units_.push_back(std::move(u));
        }
    }

    // The longest tail of `text` within `budget` tokens: whole sentences, else the last words.
    std::string tail_of(std::string_view text, int budget) {
        const std::vector<size_t> sb = break_boundaries(*sentences_, text);
        size_t start = text.size();
        for (size_t i = sb.size() - 1; i-- > 0;) {
            if (count(text.substr(sb[i])) > budget) break;
            start = sb[i];
        }
        if (start == text.size()) {
            const std::vector<size_t> wb = break_boundaries(*words_, text);
            for (size_t i = wb.size() - 1; i-- > 0;) {
                if (count(text.substr(wb[i])) > budget) break;
                start = wb[i];
            }
        }
        return std::string(text.substr(start));  // its trailing space separates it from what follows
    }

    // A paragraph, list item, code block or heading: whole when it fits, else its sentences, each
    // sentence too long cut between words, each word too long cut between characters.
    void add_text(std::string_view text, int page, bool heading = false) {
        text = trim_space(text);
        Unit u{std::string(text), count(text), page, section_, true, false, false, heading};
        if (u.n_tokens <= options_.max_tokens) {
            add(std::move(u));
            return;
        }
        bool first = true;
        const std::vector<size_t> sb = break_boundaries(*sentences_, text);
        for (size_t i = 0; i + 1 < sb.size(); ++i) {
            for (std::string& piece : fit(text.substr(sb[i], sb[i + 1] - sb[i]))) {
                const int n = count(piece);
                add(Unit{std::move(piece), n, page, section_, first, false, false, heading});
                first = false;
            }
        }
    }

    // `text` cut into pieces of at most max_tokens, between words where possible.
    std::vector<std::string> fit(std::string_view text) {
        if (count(text) <= options_.max_tokens) return {std::string(text)};
        std::vector<std::string> pieces;
        std::string piece;
        int piece_tokens = 0;
        auto push = [&](std::string_view s, int n) {
            if (piece_tokens + n > options_.max_tokens && !piece.empty()) {
                pieces.push_back(std::move(piece));
                piece.clear();
                piece_tokens = 0;
            }
            piece += s;
            piece_tokens += n;
        };
        const std::vector<size_t> wb = break_boundaries(*words_, text);
        for (size_t i = 0; i + 1 < wb.size(); ++i) {
            const std::string_view word = text.substr(wb[i], wb[i + 1] - wb[i]);
            const int n = count(word);
            if (n <= options_.max_tokens) {
                push(word, n);
                continue;
            }
            for (size_t pos = 0; pos < word.size();) {  // one code point at a time
                const text::Utf8Step step = text::decode_utf8(word.substr(pos));
                const size_t len = std::max<size_t>(step.len, 1);
                push(word.substr(pos, len), count(word.substr(pos, len)));
                pos += len;
            }
        }
        if (!piece.empty()) pieces.push_back(std::move(piece));
        return pieces;
    }

    // A table whole when it fits; else groups of rows, each led by the header row when it fits.
    void add_table(const Block& block) {
        const std::string_view text = trim_space(block.text);
        const int n = count(text);
        if (n <= room() || (n <= options_.max_tokens && room() == options_.max_tokens)) {
            add(Unit{std::string(text), n, block.page, section_, true, true});
            return;
        }
        std::vector<std::string_view> rows;
        for (size_t start = 0; start <= text.size();) {
            size_t end = text.find('\n', start);
            if (end == std::string_view::npos) end = text.size();
            if (!trim_space(text.substr(start, end - start)).empty()) rows.push_back(text.substr(start, end - start));
            start = end + 1;
        }
        std::string group;
        int group_tokens = 0;
        int limit = options_.max_tokens;  // budget of the group in progress
        auto flush = [&] {
            if (group.empty()) return;
            add(Unit{std::move(group), group_tokens, block.page, section_, true, true});
            limit = options_.max_tokens;
            group.clear();
            group_tokens = 0;
        };
        std::string_view header = rows.empty() ? std::string_view{} : rows[0];
        int header_tokens = count(header);
        if (header_tokens > options_.max_tokens || rows.size() == 1) {  // no header to repeat
            add_text(header, block.page);
            header = {};
            header_tokens = 0;
        }
        bool header_used = false;
        for (size_t r = 1; r < rows.size(); ++r) {
            const int row_tokens = count(rows[r]);
            if (row_tokens > options_.max_tokens) {  // a row alone over budget: cut as text
                flush();
                add_text(rows[r], block.page);
                continue;
            }
            if (!group.empty() && group_tokens + row_tokens > limit) flush();
            if (group.empty()) limit = room();  // the first group fits under a pending heading
            if (group.empty() && !header.empty()) {
                if (header_tokens + row_tokens <= limit) {
                    group = header;
                    group_tokens = header_tokens;
                    header_used = true;
                } else if (!header_used) {  // never drop the header's text
                    add_text(header, block.page);
                    header_used = true;
                }
            }
            if (!group.empty()) group += '\n';
            group += rows[r];
            group_tokens += row_tokens;
        }
        flush();
    }

    ChunkOptions options_;
    std::unique_ptr<icu::BreakIterator> sentences_;
    std::unique_ptr<icu::BreakIterator> words_;
    std::vector<std::pair<int, std::string>> path_;  // (level, heading text) from the top
    int section_ = 0;
    std::vector<Unit> units_;  // the chunk in progress
    int total_ = 0;            // tokens of units_
    std::string location_;
    int page_ = 0;
    std::vector<Chunk> chunks_;
};

}  // namespace

int approximate_token_count(std::string_view text) {
    int n = 0;
    int word_chars = 0;  // length of the letter/digit run in progress
    auto end_word = [&] {
        n += (word_chars + 5) / 6;
        word_chars = 0;
    };
    for (size_t pos = 0; pos < text.size();) {
        const text::Utf8Step step = text::decode_utf8(text.substr(pos));
        pos += std::max<size_t>(step.len, 1);
        const uint32_t cp = step.kind == text::Utf8Step::kOk ? step.cp : 0xFFFD;
        if (is_word_char(cp)) {
            ++word_chars;
            continue;
        }
        end_word();
        if (!is_space(cp)) ++n;  // CJK character, punctuation or symbol
    }
    end_word();
    return n;
}

std::vector<Chunk> chunk_document(const ExtractedDocument& document, const ChunkOptions& options) {
    return Chunker(options).run(document);
}

}  // namespace sinan::knowledge
