// Plain text and Markdown extraction, and format detection (src/knowledge/extract.cpp,
// extract_markup.cpp).
#include <gtest/gtest.h>

#include <string>

#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

using Kind = Block::Kind;

TEST(ExtractText, ParagraphsSplitAtBlankLines) {
    auto doc = extract_bytes("notes.txt", "First line\nsame paragraph\r\n\r\n  Second paragraph.  \n\n\n");
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "text");
    ASSERT_EQ(doc->blocks.size(), 2u);
    EXPECT_EQ(doc->blocks[0].text, "First line\nsame paragraph");
    EXPECT_EQ(doc->blocks[1].text, "Second paragraph.");
    EXPECT_EQ(doc->blocks[1].kind, Kind::kParagraph);
}

TEST(ExtractText, InvalidUtf8BecomesReplacementCharacterAndBomIsDropped) {
    auto doc = extract_bytes("a.txt", "\xEF\xBB\xBFok \xFF end");
    ASSERT_TRUE(doc.ok()) << doc.message();
    ASSERT_EQ(doc->blocks.size(), 1u);
    EXPECT_EQ(doc->blocks[0].text, "ok \xEF\xBF\xBD end");
}

TEST(ExtractMarkdown, HeadingsListsCodeTablesAndInlineMarkup) {
    const std::string md =
        "Intro Title\n===========\n\n"
        "Some **bold** text with a [link](http://x.test) and `code`.\n"
        "Still the same paragraph.\n\n"
        "## Install ##\n\n"
        "- first item\n  continued\n* second item\n1. third item\n\n"
        "```sh\nmake install\n# not a heading\n```\n\n"
        "| Name | Size |\n|------|-----:|\n| a.txt | 10 |\n| b \\| c | 20 |\n\n"
        "> quoted words\n\n"
        "---\n"
        "### Deep\ntext\n";
    auto doc = extract_bytes("guide.md", md);
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "markdown");
    EXPECT_EQ(doc->title, "Intro Title");
    const auto& b = doc->blocks;
    ASSERT_EQ(b.size(), 11u);
    EXPECT_EQ(b[0].kind, Kind::kHeading);
    EXPECT_EQ(b[0].level, 1);
    EXPECT_EQ(b[1].text, "Some bold text with a link and code. Still the same paragraph.");
    EXPECT_EQ(b[2].kind, Kind::kHeading);
    EXPECT_EQ(b[2].level, 2);
    EXPECT_EQ(b[2].text, "Install");
    EXPECT_EQ(b[3].kind, Kind::kListItem);
    EXPECT_EQ(b[3].text, "first item continued");
    EXPECT_EQ(b[4].text, "second item");
    EXPECT_EQ(b[5].text, "third item");
    EXPECT_EQ(b[6].kind, Kind::kCode);
    EXPECT_EQ(b[6].text, "make install\n# not a heading");
    EXPECT_EQ(b[7].kind, Kind::kTable);
    EXPECT_EQ(b[7].text, "Name | Size\na.txt | 10\nb | c | 20");
    EXPECT_EQ(b[8].text, "quoted words");
    EXPECT_EQ(b[9].kind, Kind::kHeading);
    EXPECT_EQ(b[9].level, 3);
    EXPECT_EQ(b[10].text, "text");
}

TEST(DetectFormat, MagicBeatsExtensionAndTextIsSniffed) {
    EXPECT_EQ(detect_format("report.txt", "%PDF-1.7\n..."), "pdf");
    EXPECT_EQ(detect_format("scan.dat", "\x89PNG\r\n\x1a\n...."), "image");
    EXPECT_EQ(detect_format("x.md", "# hi"), "markdown");
    EXPECT_EQ(detect_format("pdf-notes.md", "A PDF file starts with %PDF-1.7"), "markdown");
    EXPECT_EQ(detect_format("page", "<!DOCTYPE html><html></html>"), "html");
    EXPECT_EQ(detect_format("README", "plain words"), "text");
    EXPECT_EQ(detect_format("blob.bin", std::string("ab\0cd", 5)), "");
    EXPECT_EQ(detect_format("BMW.txt", "BMW cars"), "text");
    EXPECT_TRUE(has_supported_extension("dir/A.PDF"));
    EXPECT_FALSE(has_supported_extension("archive.zip"));
}

TEST(Extract, FailuresNameTheFileAndTheReason) {
    auto empty = extract_bytes("dir/empty.txt", "");
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.message(), "empty.txt: empty file (0 bytes); nothing to index");
    auto blank = extract_bytes("blank.md", "\n\n   \n");
    ASSERT_FALSE(blank.ok());
    EXPECT_NE(blank.message().find("blank.md: no text found"), std::string::npos) << blank.message();
    auto binary = extract_bytes("blob.bin", std::string("\x01\x02\0\x03", 4));
    ASSERT_FALSE(binary.ok());
    EXPECT_NE(binary.message().find("blob.bin: unsupported file type"), std::string::npos) << binary.message();
    auto utf16 = extract_bytes("wide.txt", std::string("h\0i\0", 4));
    ASSERT_FALSE(utf16.ok());
    EXPECT_NE(utf16.message().find("wide.txt: has NUL bytes"), std::string::npos) << utf16.message();
    auto missing = extract_file("/nonexistent/dir/file.txt");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("file.txt"), std::string::npos) << missing.message();
}

}  // namespace
}  // namespace sinan::knowledge
