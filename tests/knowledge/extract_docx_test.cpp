// DOCX extraction (src/knowledge/extract_docx.cpp) on packages written with libzip.
#include <gtest/gtest.h>

#include "doc_fixtures.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

using Kind = Block::Kind;

TEST(ExtractDocx, HeadingsListsTablesAndTitle) {
    const std::string docx = fixtures::make_docx({{"Title", "Travel Policy"},
                                                  {"Heading1", "Booking"},
                                                  {"", "Book flights through the portal & keep receipts."},
                                                  {"ListParagraph", "Economy class under six hours"},
                                                  {"Heading2", "Hotels"},
                                                  {"Berschrift3", "Lokale Überschrift"},
                                                  {"", "差旅住宿标准"}},
                                                 {{"City", "Limit"}, {"Berlin", "150"}, {"", ""}, {"上海", "900"}},
                                                 "Company Travel Policy", {{"Berschrift3", "heading 3"}});
    auto doc = extract_bytes("policy.docx", docx);
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "docx");
    EXPECT_EQ(doc->title, "Company Travel Policy");
    const auto& b = doc->blocks;
    ASSERT_EQ(b.size(), 8u);
    EXPECT_EQ(b[0].kind, Kind::kHeading);
    EXPECT_EQ(b[0].level, 1);
    EXPECT_EQ(b[1].text, "Booking");
    EXPECT_EQ(b[1].level, 1);
    EXPECT_EQ(b[2].kind, Kind::kParagraph);
    EXPECT_EQ(b[2].text, "Book flights through the portal & keep receipts.");
    EXPECT_EQ(b[3].kind, Kind::kListItem);
    EXPECT_EQ(b[4].level, 2);
    EXPECT_EQ(b[5].kind, Kind::kHeading);  // localized style id, named "heading 3" in styles.xml
    EXPECT_EQ(b[5].level, 3);
    EXPECT_EQ(b[6].text, "差旅住宿标准");
    EXPECT_EQ(b[7].kind, Kind::kTable);
    EXPECT_EQ(b[7].text, "City | Limit\nBerlin | 150\n上海 | 900");
}

TEST(ExtractDocx, BrokenPackagesAreReported) {
    const std::string docx = fixtures::make_docx({{"", "text"}}, {}, "t");
    auto cut = extract_bytes("cut.docx", docx.substr(0, docx.size() / 2));
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.message().rfind("cut.docx: ", 0), 0u) << cut.message();
    auto ole = extract_bytes("locked.docx", std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(512, 'x'));
    ASSERT_FALSE(ole.ok());
    EXPECT_NE(ole.message().find("locked.docx: is an OLE container"), std::string::npos) << ole.message();
    auto not_zip = extract_bytes("plain.docx", "hello there");
    ASSERT_FALSE(not_zip.ok());
    EXPECT_NE(not_zip.message().find("plain.docx: not a readable .docx zip"), std::string::npos) << not_zip.message();
}

}  // namespace
}  // namespace sinan::knowledge
