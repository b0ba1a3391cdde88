// PDF extraction with poppler (src/knowledge/extract_pdf.cpp) on PDFs written by cairo, and the
// OCR of a scanned page.
#include <gtest/gtest.h>

#include "doc_fixtures.h"
#include "knowledge/chunker.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

std::string all_text(const ExtractedDocument& doc, int page = -1) {
    std::string out;
    for (const Block& b : doc.blocks) {
        if (page < 0 || b.page == page) out += b.text + "\n";
    }
    return out;
}

TEST(ExtractPdf, TextLayerPerPageWithTitle) {
    const std::string pdf =
        fixtures::make_text_pdf({{"Installation guide", "Unpack the archive and run the installer."},
                                 {"Second page about backups.", "Nightly snapshots are kept for 30 days."}},
                                "Operations Manual");
    auto doc = extract_bytes("manual.pdf", pdf);
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "pdf");
    EXPECT_EQ(doc->title, "Operations Manual");
    EXPECT_FALSE(doc->ocr);
    EXPECT_NE(all_text(*doc, 1).find("Unpack the archive and run the installer."), std::string::npos) << all_text(*doc);
    EXPECT_NE(all_text(*doc, 2).find("Nightly snapshots are kept for 30 days."), std::string::npos) << all_text(*doc);
    EXPECT_EQ(all_text(*doc, 1).find("snapshots"), std::string::npos);

    ChunkOptions small;
    small.max_tokens = 12;
    small.overlap_tokens = 0;
    const std::vector<Chunk> chunks = chunk_document(*doc, small);
    ASSERT_GE(chunks.size(), 2u);
    EXPECT_EQ(chunks.front().location, "page 1");
    EXPECT_EQ(chunks.back().location, "page 2");
    EXPECT_EQ(chunks.back().page, 2);
}

TEST(ExtractPdf, ScannedPageIsOcrdOnlyWhenOcrIsOn) {
    const std::string pdf = fixtures::make_scanned_pdf({"Quarterly revenue grew", "across every region"});
    ExtractOptions no_ocr;
    no_ocr.ocr = false;
    auto off = extract_bytes("scan.pdf", pdf, no_ocr);
    ASSERT_FALSE(off.ok());
    EXPECT_EQ(off.message(), "scan.pdf: the PDF has no text layer (a scan?) and OCR is off; turn OCR on to read it");

    ExtractOptions eng;
    eng.ocr_languages = "eng";  // one language keeps the test fast
    auto doc = extract_bytes("scan.pdf", pdf, eng);
    if (!doc.ok() && doc.message().find("not installed") != std::string::npos) GTEST_SKIP() << doc.message();
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_TRUE(doc->ocr);
    const std::string text = all_text(*doc, 1);
    for (const char* word : {"Quarterly", "revenue", "grew", "across", "every", "region"}) {
        EXPECT_NE(text.find(word), std::string::npos) << word << " not in OCR text: " << text;
    }
}

TEST(ExtractPdf, CorruptAndTruncatedPdfsAreReported) {
    const std::string pdf = fixtures::make_text_pdf({{"hello"}});
    auto garbage = extract_bytes("bad.pdf", "%PDF-1.5\n this is not a pdf body at all");
    ASSERT_FALSE(garbage.ok());
    EXPECT_EQ(garbage.message().rfind("bad.pdf: ", 0), 0u) << garbage.message();
    auto no_header = extract_bytes("fake.pdf", "just some words");
    ASSERT_FALSE(no_header.ok());
    EXPECT_EQ(no_header.message().rfind("fake.pdf: not a readable PDF", 0), 0u) << no_header.message();
}

}  // namespace
}  // namespace sinan::knowledge
