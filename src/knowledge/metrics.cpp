#include "knowledge/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace sinan::knowledge {

namespace {

int grade_of(const Judgements& qrels, const std::string& doc) {
    auto it = qrels.find(doc);
    return it == qrels.end() ? 0 : std::max(it->second, 0);
}

}  // namespace

double ndcg_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k) {
    double dcg = 0;
    for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
        dcg += grade_of(qrels, ranked[i]) / std::log2(static_cast<double>(i) + 2.0);
    }
    std::vector<int> ideal;
    for (const auto& [doc, grade] : qrels) {
        if (grade > 0) ideal.push_back(grade);
    }
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double idcg = 0;
    for (size_t i = 0; i < std::min(k, ideal.size()); ++i) idcg += ideal[i] / std::log2(static_cast<double>(i) + 2.0);
    return idcg > 0 ? dcg / idcg : 0.0;
}

double recall_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k) {
    size_t n_relevant = 0;
    for (const auto& [doc, grade] : qrels) n_relevant += grade > 0 ? 1 : 0;
    if (n_relevant == 0) return 0.0;
    size_t found = 0;
    for (size_t i = 0; i < std::min(k, ranked.size()); ++i) found += grade_of(qrels, ranked[i]) > 0 ? 1 : 0;
    return static_cast<double>(found) / static_cast<double>(n_relevant);
}

double reciprocal_rank_at_k(const std::vector<std::string>& ranked, const Judgements& qrels, size_t k) {
    for (size_t i = 0; i < std::min(k, ranked.size()); ++i)
        if (grade_of(qrels, ranked[i]) > 0) return 1.0 / static_cast<double>(i + 1);
    return 0.0;
}

}  // namespace sinan::knowledge
