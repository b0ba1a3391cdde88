// Truncated and corrupted input of every format: extraction returns a document or a Status that
// names the file, and never crashes (src/knowledge/extract.cpp and the per-format extractors).
#include <gtest/gtest.h>

#include <random>

#include "doc_fixtures.h"
#include "knowledge/chunker.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

void expect_no_crash(const std::string& name, const std::string& bytes, const ExtractOptions& options) {
    auto doc = extract_bytes(name, bytes, options);
    if (doc.ok()) {
        chunk_document(*doc);  // whatever came out must chunk
    } else {
        EXPECT_EQ(doc.message().rfind(name + ": ", 0), 0u) << doc.message();
        EXPECT_EQ(doc.message().find('\n'), std::string::npos) << "multi-line message: " << doc.message();
    }
}

TEST(ExtractFuzz, TruncatedAndFlippedBytesOfEveryFormat) {
    const std::vector<std::pair<std::string, std::string>> samples = {
        {"a.pdf", fixtures::make_text_pdf({{"alpha beta"}, {"gamma"}}, "T")},
        {"a.docx", fixtures::make_docx({{"Heading1", "H"}, {"", "body"}}, {{"a", "b"}}, "T")},
        {"a.png", fixtures::render_png({"ab"}, "DejaVu Sans", 12)},
        {"a.html", "<html><body><h1>x</h1><table><tr><td>1</td></tr></table><p>y &amp; z</p></body></html>"},
        {"a.md", "# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n"},
        {"a.csv", "h1,h2\n\"q,\"\"x\"\"\",2\n"},
        {"a.json", "{\"a\": [1, {\"b\": \"c\"}], \"d\": \"\\u4f60\"}"},
    };
    ExtractOptions options;
    options.ocr = false;  // OCR of noise is slow and tested elsewhere
    std::mt19937 rng(1234);
    for (const auto& [name, bytes] : samples) {
        SCOPED_TRACE(name);
        for (size_t cut : {size_t{1}, size_t{7}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
            expect_no_crash(name, bytes.substr(0, cut), options);
        }
        for (int trial = 0; trial < 20; ++trial) {
            std::string flipped = bytes;
            for (int k = 0; k < 8; ++k) flipped[rng() % flipped.size()] = static_cast<char>(rng());
            expect_no_crash(name, flipped, options);
        }
        std::string noise(bytes.size(), '\0');
        for (char& c : noise) c = static_cast<char>(rng());
        expect_no_crash(name, noise, options);
    }
}

}  // namespace
}  // namespace sinan::knowledge
