// OCR of images rendered by cairo with real fonts (src/knowledge/ocr.cpp through extract_bytes).
#include <gtest/gtest.h>

#include "doc_fixtures.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

std::string ocr_text(const std::string& name, const std::string& png, const std::string& languages) {
    ExtractOptions options;
    options.ocr_languages = languages;
    auto doc = extract_bytes(name, png, options);
    if (!doc.ok()) return "ERROR " + doc.message();
    EXPECT_EQ(doc->format, "image");
    EXPECT_TRUE(doc->ocr);
    std::string out;
    for (const Block& b : doc->blocks) out += b.text + "\n";
    return out;
}

TEST(Ocr, EnglishPngWordsAreFound) {
    const std::string png =
        fixtures::render_png({"Invoice number 4521", "Payment due in thirty days"}, "DejaVu Sans", 40);
    const std::string text = ocr_text("invoice.png", png, "eng");
    if (text.find("not installed") != std::string::npos) GTEST_SKIP() << text;
    for (const char* word : {"Invoice", "number", "4521", "Payment", "due", "thirty", "days"}) {
        EXPECT_NE(text.find(word), std::string::npos) << word << " not in: " << text;
    }
}

TEST(Ocr, MixedChineseAndEnglishWithTheDefaultLanguages) {
    const std::string line = "知识库支持中文文档检索";
    const std::string png = fixtures::render_png({"Invoice number 4521", line}, "WenQuanYi Zen Hei", 40);
    const std::string text = ocr_text("notice.png", png, ExtractOptions{}.ocr_languages);  // eng+chi_sim
    if (text.find("not installed") != std::string::npos) GTEST_SKIP() << text;
    for (const char* word : {"Invoice", "number", "4521"}) EXPECT_NE(text.find(word), std::string::npos) << text;
    // Allow OCR a small error: at least 9 of the 11 characters, and a run of 3 without spaces.
    int found = 0;
    for (size_t i = 0; i < line.size(); i += 3) found += text.find(line.substr(i, 3)) != std::string::npos ? 1 : 0;
    EXPECT_GE(found, 9) << text;
    EXPECT_NE(text.find("知识库"), std::string::npos) << text;
}

TEST(Ocr, ImagesNeedOcrAndMustDecode) {
    const std::string png = fixtures::render_png({"x"}, "DejaVu Sans", 20);
    ExtractOptions off;
    off.ocr = false;
    auto no_ocr = extract_bytes("a.png", png, off);
    ASSERT_FALSE(no_ocr.ok());
    EXPECT_EQ(no_ocr.message(), "a.png: is an image and OCR is off; turn OCR on to index images");
    auto cut = extract_bytes("cut.png", png.substr(0, 40));
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.message().rfind("cut.png: ", 0), 0u) << cut.message();
    ExtractOptions missing;
    missing.ocr_languages = "xx_nonexistent";
    auto langs = extract_bytes("a.png", png, missing);
    ASSERT_FALSE(langs.ok());
    EXPECT_NE(langs.message().find("not installed"), std::string::npos) << langs.message();
}

}  // namespace
}  // namespace sinan::knowledge
