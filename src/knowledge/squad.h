// Reading a SQuAD-format reading-comprehension file (SQuAD v1.1 layout, as CMRC 2018 and DRCD
// publish theirs) as a retrieval data set: every paragraph's context is a document and every
// question a query whose one relevant document is its own paragraph. The questions were written
// from their paragraphs, so lexical overlap is high: this measures tokenisation (Chinese word
// breaking above all), not retrieval quality against a published table.
//
//   {"data": [{"title": "...", "paragraphs": [{"id": "...", "context": "...",
//              "qas": [{"id": "...", "question": "...", ...}, ...]}, ...]}, ...]}
//
// A paragraph without "id" is named "<article index>-<paragraph index>"; the article title
// becomes the document title. Answers are not read. Bad input (unreadable file, not JSON, a
// missing or mistyped field, a duplicate id) fails with one line naming the file and the JSON
// path ("data[3].paragraphs[0].qas[2].question").
#pragma once

#include <string>

#include "base/status.h"
#include "knowledge/beir.h"

namespace sinan::knowledge {

Result<BeirDataset> load_squad(const std::string& file);

}  // namespace sinan::knowledge
