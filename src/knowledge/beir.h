// Reading a data set in BEIR's format (Thakur et al., 2021), the common layout of retrieval
// benchmarks:
//
//   DIR/corpus.jsonl        one JSON object a line: {"_id": "...", "title": "...", "text": "..."}
//                           (or corpus.part1.jsonl, corpus.part2.jsonl, ... read in numeric order
//                           as one corpus, when corpus.jsonl is absent)
//   DIR/queries.jsonl       {"_id": "...", "text": "..."}
//   DIR/qrels/SPLIT.tsv     header "query-id<TAB>corpus-id<TAB>score", then one judgement a row
//
// "title" may be absent; other fields ("metadata") are ignored; an `_id` may be a JSON string or
// integer. Only the queries that have judgements in SPLIT are kept. Any bad input (missing file,
// line that is not a JSON object, missing `_id`/`text`, duplicate id, bad qrels row, judgement of
// an unknown query) fails with one line naming the file and line number.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "knowledge/metrics.h"

namespace sinan::knowledge {

struct BeirDoc {
    std::string id, title, text;
};

struct BeirQuery {
    std::string id, text;
    Judgements qrels;  // this query's judgements in the split
};

struct BeirDataset {
    std::vector<BeirDoc> corpus;     // file order
    std::vector<BeirQuery> queries;  // judged queries only, in queries.jsonl order
    uint64_t corpus_bytes = 0;       // sum of title + text sizes, for progress
};

// Reads DIR with the judgements of qrels/SPLIT.tsv ("train", "dev", "test", ...).
Result<BeirDataset> load_beir(const std::string& dir, const std::string& split);

}  // namespace sinan::knowledge
