#include "knowledge/squad.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace sinan::knowledge {

namespace {

using nlohmann::json;

// The array at obj[key], or an error naming `path`.
Result<const json*> array_at(const json& obj, const char* key, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_array())
        return Status::error(path + "." + key + " is missing or not an array");
    return &*it;
}

// The string at obj[key] ("" and ok=false when absent), or an error when it is not a string.
Status string_at(const json& obj, const char* key, const std::string& path, std::string* out, bool required) {
    auto it = obj.find(key);
    if (it == obj.end()) {
        if (required) return Status::error(path + "." + key + " is missing");
        return Status::ok();
    }
    if (!it->is_string()) return Status::error(path + "." + key + " is not a string");
    *out = it->get<std::string>();
    return Status::ok();
}

}  // namespace

Result<BeirDataset> load_squad(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::error(file + ": cannot open; give a SQuAD-format JSON file");
    const json root = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) return Status::error(file + ": not a JSON object");
    const auto fail = [&](const Status& s) { return Status::error(file + ": " + s.message()); };
    Result<const json*> articles = array_at(root, "data", "");
    if (!articles.ok()) return fail(articles.status());
    BeirDataset out;
    std::unordered_set<std::string> doc_ids, query_ids;
    for (size_t a = 0; a < (*articles)->size(); ++a) {
        const json& article = (**articles)[a];
        const std::string apath = "data[" + std::to_string(a) + "]";
        if (!article.is_object()) return Status::error(file + ": " + apath + " is not an object");
        std::string title;
        if (Status s = string_at(article, "title", apath, &title, false); !s.is_ok()) return fail(s);
        Result<const json*> paragraphs = array_at(article, "paragraphs", apath);
        if (!paragraphs.ok()) return fail(paragraphs.status());
        for (size_t p = 0; p < (*paragraphs)->size(); ++p) {
            const json& paragraph = (**paragraphs)[p];
            const std::string ppath = apath + ".paragraphs[" + std::to_string(p) + "]";
            if (!paragraph.is_object()) return Status::error(file + ": " + ppath + " is not an object");
            BeirDoc doc;
            doc.id = std::to_string(a) + "-" + std::to_string(p);
            doc.title = title;
            if (Status s = string_at(paragraph, "id", ppath, &doc.id, false); !s.is_ok()) return fail(s);
            if (Status s = string_at(paragraph, "context", ppath, &doc.text, true); !s.is_ok()) return fail(s);
            if (!doc_ids.insert(doc.id).second)
                return Status::error(file + ": " + ppath + ".id " + doc.id + " is a duplicate paragraph id");
            Result<const json*> qas = array_at(paragraph, "qas", ppath);
            if (!qas.ok()) return fail(qas.status());
            for (size_t q = 0; q < (*qas)->size(); ++q) {
                const json& qa = (**qas)[q];
                const std::string qpath = ppath + ".qas[" + std::to_string(q) + "]";
                if (!qa.is_object()) return Status::error(file + ": " + qpath + " is not an object");
                BeirQuery query;
                if (Status s = string_at(qa, "id", qpath, &query.id, true); !s.is_ok()) return fail(s);
                if (Status s = string_at(qa, "question", qpath, &query.text, true); !s.is_ok()) return fail(s);
                if (!query_ids.insert(query.id).second)
                    return Status::error(file + ": " + qpath + ".id " + query.id + " is a duplicate question id");
                query.qrels[doc.id] = 1;
                out.queries.push_back(std::move(query));
            }
            out.corpus_bytes += doc.title.size() + doc.text.size();
            out.corpus.push_back(std::move(doc));
        }
    }
    return out;
}

}  // namespace sinan::knowledge
