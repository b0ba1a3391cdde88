#include "knowledge/beir.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

namespace sinan::knowledge {

namespace fs = std::filesystem;

namespace {

Status line_error(const fs::path& file, size_t line, const std::string& what) {
    return Status::error(file.string() + ":" + std::to_string(line) + ": " + what);
}

// A string field, or an integer written as a number (some BEIR sets have numeric ids).
bool read_string_field(const nlohmann::json& obj, const char* key, std::string& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return false;
    if (it->is_string()) {
        out = it->get<std::string>();
        return true;
    }
    if (it->is_number_integer()) {
        out = it->dump();
        return true;
    }
    return false;
}

// Calls on_object(json, line_number) for each non-empty line of a JSON-lines file.
template <typename F>
Status read_jsonl(const fs::path& file, F&& on_object) {
    std::ifstream in(file);
    if (!in) return Status::error(file.string() + ": cannot open; is this a BEIR data set directory?");
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json obj = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (obj.is_discarded() || !obj.is_object())
            return line_error(file, n, "not a JSON object; fix or remove the line");
        SINAN_RETURN_IF_ERROR(on_object(obj, n));
    }
    if (in.bad()) return Status::error(file.string() + ": read error");
    return Status::ok();
}

// corpus.jsonl, or else corpus.partN.jsonl in numeric order of N.
Result<std::vector<fs::path>> corpus_files(const fs::path& dir) {
    if (fs::exists(dir / "corpus.jsonl")) return std::vector<fs::path>{dir / "corpus.jsonl"};
    std::vector<std::pair<unsigned long, fs::path>> parts;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        const std::string prefix = "corpus.part", suffix = ".jsonl";
        if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const std::string num = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
        if (!std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }) || num.size() > 9)
            continue;
        parts.emplace_back(std::stoul(num), e.path());
    }
    if (ec) return Status::error(dir.string() + ": cannot list directory: " + ec.message());
    if (parts.empty()) return Status::error((dir / "corpus.jsonl").string() + ": not found (nor corpus.part*.jsonl)");
    std::sort(parts.begin(), parts.end());
    std::vector<fs::path> out;
    for (auto& p : parts) out.push_back(std::move(p.second));
    return out;
}

Status read_corpus(const fs::path& dir, BeirDataset& ds) {
    Result<std::vector<fs::path>> files = corpus_files(dir);
    if (!files.ok()) return files.status();
    std::unordered_set<std::string> seen;
    for (const fs::path& file : *files) {
        SINAN_RETURN_IF_ERROR(read_jsonl(file, [&](const nlohmann::json& obj, size_t n) {
            BeirDoc d;
            if (!read_string_field(obj, "_id", d.id)) return line_error(file, n, "missing string \"_id\"");
            if (!read_string_field(obj, "text", d.text)) return line_error(file, n, "missing string \"text\"");
            if (obj.contains("title") && !read_string_field(obj, "title", d.title))
                return line_error(file, n, "\"title\" is not a string");
            if (!seen.insert(d.id).second) return line_error(file, n, "duplicate document id \"" + d.id + "\"");
            ds.corpus_bytes += d.title.size() + d.text.size();
            ds.corpus.push_back(std::move(d));
            return Status::ok();
        }));
    }
    return Status::ok();
}

// query id -> judgements, from a TSV file with a header row.
Result<std::unordered_map<std::string, Judgements>> read_qrels(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return Status::error(file.string() + ": cannot open; is the split name right (--split)?");
    std::unordered_map<std::string, Judgements> out;
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || (n == 1 && line.rfind("query-id", 0) == 0)) continue;
        const size_t t1 = line.find('\t');
        const size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
        if (t2 == std::string::npos || line.find('\t', t2 + 1) != std::string::npos || t1 == 0 || t2 == t1 + 1)
            return line_error(file, n, "expected 3 tab-separated columns: query-id, corpus-id, score");
        const std::string score = line.substr(t2 + 1);
        int grade = 0;
        const auto [end, ec] = std::from_chars(score.data(), score.data() + score.size(), grade);
        if (ec != std::errc() || end != score.data() + score.size())
            return line_error(file, n, "score \"" + score + "\" is not an integer");
        out[line.substr(0, t1)][line.substr(t1 + 1, t2 - t1 - 1)] = grade;
    }
    if (in.bad()) return Status::error(file.string() + ": read error");
    return out;
}

}  // namespace

Result<BeirDataset> load_beir(const std::string& dir_name, const std::string& split) {
    const fs::path dir(dir_name);
    if (!fs::is_directory(dir)) return Status::error(dir_name + ": not a directory; pass a BEIR data set directory");
    if (split.empty() || split.find('/') != std::string::npos) return Status::error("bad split name \"" + split + "\"");
    BeirDataset ds;
    Result<std::unordered_map<std::string, Judgements>> qrels = read_qrels(dir / "qrels" / (split + ".tsv"));
    if (!qrels.ok()) return qrels.status();
    SINAN_RETURN_IF_ERROR(read_corpus(dir, ds));
    const fs::path qfile = dir / "queries.jsonl";
    std::unordered_set<std::string> seen;
    SINAN_RETURN_IF_ERROR(read_jsonl(qfile, [&](const nlohmann::json& obj, size_t n) {
        BeirQuery q;
        if (!read_string_field(obj, "_id", q.id)) return line_error(qfile, n, "missing string \"_id\"");
        if (!read_string_field(obj, "text", q.text)) return line_error(qfile, n, "missing string \"text\"");
        if (!seen.insert(q.id).second) return line_error(qfile, n, "duplicate query id \"" + q.id + "\"");
        auto it = qrels->find(q.id);
        if (it == qrels->end()) return Status::ok();
        q.qrels = std::move(it->second);
        qrels->erase(it);
        ds.queries.push_back(std::move(q));
        return Status::ok();
    }));
    if (!qrels->empty()) {
        return Status::error((dir / "qrels" / (split + ".tsv")).string() + ": query \"" + qrels->begin()->first +
                             "\" is judged but not in queries.jsonl");
    }
    return ds;
}

}  // namespace sinan::knowledge
