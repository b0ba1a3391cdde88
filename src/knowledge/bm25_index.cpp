#include "knowledge/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace sinan::knowledge {

uint32_t Bm25Index::add_document(const std::vector<std::string>& terms) {
    const auto doc = static_cast<uint32_t>(doc_len_.size());
    std::unordered_map<std::string_view, uint32_t> tf;
    for (const std::string& t : terms) ++tf[t];
    for (const auto& [term, n] : tf) postings_[std::string(term)].push_back({doc, n});
    doc_len_.push_back(static_cast<uint32_t>(terms.size()));
    removed_.push_back(false);
    total_len_ += terms.size();
    return doc;
}

void Bm25Index::remove_document(uint32_t doc) {
    if (doc >= removed_.size() || removed_[doc]) return;
    removed_[doc] = true;
    ++n_removed_;
    ++n_hidden_;
    if (n_hidden_ * 8 >= n_docs()) compact();
}

void Bm25Index::compact() {
    if (n_hidden_ == 0) return;
    for (auto it = postings_.begin(); it != postings_.end();) {
        std::erase_if(it->second, [&](const Posting& p) { return removed_[p.doc]; });
        it = it->second.empty() ? postings_.erase(it) : std::next(it);
    }
    total_len_ = 0;
    for (uint32_t d = 0; d < doc_len_.size(); ++d)
        if (!removed_[d]) total_len_ += doc_len_[d];
    n_hidden_ = 0;
}

double Bm25Index::idf(size_t df) const {
    const double n = static_cast<double>(n_docs() + n_hidden_);
    const double d = static_cast<double>(df);
    return std::log(1.0 + (n - d + 0.5) / (d + 0.5));
}

double Bm25Index::avg_len() const {
    const size_t n = n_docs() + n_hidden_;
    return n == 0 ? 0.0 : static_cast<double>(total_len_) / static_cast<double>(n);
}

double Bm25Index::term_weight(double term_idf, uint32_t tf, uint32_t len, double avg) const {
    const double norm = avg > 0 ? params_.k1 * (1.0 - params_.b + params_.b * len / avg) : params_.k1;
    return term_idf * tf * (params_.k1 + 1.0) / (tf + norm);
}

std::vector<ScoredDoc> Bm25Index::search(const std::vector<std::string>& query_terms, size_t k,
                                         const std::function<bool(uint32_t)>& accept) const {
    if (k == 0) return {};
    const double avg = avg_len();
    std::vector<double> acc(doc_len_.size(), 0.0);  // [n_docs] score so far
    std::vector<uint32_t> touched;                  // documents with acc > 0, each once
    for (const std::string& t : query_terms) {
        auto it = postings_.find(t);
        if (it == postings_.end()) continue;
        const double term_idf = idf(it->second.size());
        for (const Posting& p : it->second) {
            if (acc[p.doc] == 0.0) touched.push_back(p.doc);
            acc[p.doc] += term_weight(term_idf, p.tf, doc_len_[p.doc], avg);
        }
    }
    // "Better" = higher score, then lower document number. The heap's top is the worst kept.
    auto better = [](const ScoredDoc& x, const ScoredDoc& y) {
        return x.score > y.score || (x.score == y.score && x.doc < y.doc);
    };
    std::priority_queue<ScoredDoc, std::vector<ScoredDoc>, decltype(better)> heap(better);
    for (uint32_t d : touched) {
        if (removed_[d] || (accept && !accept(d))) continue;
        const ScoredDoc s{d, acc[d]};
        if (heap.size() < k) {
            heap.push(s);
        } else if (better(s, heap.top())) {
            heap.pop();
            heap.push(s);
        }
    }
    std::vector<ScoredDoc> out(heap.size());
    for (size_t i = out.size(); i-- > 0;) {
        out[i] = heap.top();
        heap.pop();
    }
    return out;
}

double Bm25Index::score(const std::vector<std::string>& query_terms, uint32_t doc) const {
    if (doc >= removed_.size() || removed_[doc]) return 0;
    const double avg = avg_len();
    double s = 0;
    for (const std::string& t : query_terms) {
        auto it = postings_.find(t);
        if (it == postings_.end()) continue;
        auto p = std::lower_bound(it->second.begin(), it->second.end(), doc,
                                  [](const Posting& x, uint32_t d) { return x.doc < d; });
        if (p != it->second.end() && p->doc == doc) s += term_weight(idf(it->second.size()), p->tf, doc_len_[doc], avg);
    }
    return s;
}

}  // namespace sinan::knowledge
