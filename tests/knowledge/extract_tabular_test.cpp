// CSV and JSON extraction (src/knowledge/extract_tabular.cpp).
#include <gtest/gtest.h>

#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

TEST(ExtractCsv, QuotedFieldsBecomeTableRows) {
    const std::string csv = "name,notes,size\r\n\"Smith, J\",\"said \"\"hi\"\"\nthen left\",10\r\n,,\r\nplain,x,20";
    auto doc = extract_bytes("people.csv", csv);
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "csv");
    ASSERT_EQ(doc->blocks.size(), 1u);
    EXPECT_EQ(doc->blocks[0].kind, Block::Kind::kTable);
    EXPECT_EQ(doc->blocks[0].text, "name | notes | size\nSmith, J | said \"hi\" then left | 10\nplain | x | 20");
}

TEST(ExtractCsv, SemicolonDelimiterIsSniffed) {
    auto doc = extract_bytes("de.csv", "Name;Preis\nBrot;1,50\n");
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->blocks[0].text, "Name | Preis\nBrot | 1,50");
}

TEST(ExtractCsv, UnclosedQuoteIsAnError) {
    auto doc = extract_bytes("cut.csv", "a,b\n1,\"never closed\n2,3\n");
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.message(), "cut.csv: line 2: a quoted field is never closed; check the file is complete");
}

TEST(ExtractJson, FlattenedToPathValueLinesOneBlockPerTopLevelEntry) {
    auto doc = extract_bytes("kb.json", R"({"product": {"name": "Sinan", "tags": ["llm", "rag"]}, "version": 2,
                                          "notes": null, "ok": true})");
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "json");
    ASSERT_EQ(doc->blocks.size(), 4u);
    EXPECT_EQ(doc->blocks[0].text, "product.name: Sinan\nproduct.tags[0]: llm\nproduct.tags[1]: rag");
    EXPECT_EQ(doc->blocks[1].text, "version: 2");
    EXPECT_EQ(doc->blocks[2].text, "notes: null");
    EXPECT_EQ(doc->blocks[3].text, "ok: true");
    auto records = extract_bytes("rows.json", R"([{"id": 1, "q": "你好"}, {"id": 2}])");
    ASSERT_TRUE(records.ok()) << records.message();
    ASSERT_EQ(records->blocks.size(), 2u);
    EXPECT_EQ(records->blocks[0].text, "[0].id: 1\n[0].q: 你好");
}

TEST(ExtractJson, InvalidOrTooDeepJsonIsAnError) {
    auto bad = extract_bytes("bad.json", "{\"a\": [1, 2");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.message(), "bad.json: not valid JSON; check the file is complete");
    auto deep = extract_bytes("deep.json", std::string(5000, '[') + std::string(5000, ']'));
    ASSERT_FALSE(deep.ok());
    EXPECT_NE(deep.message().find("deep.json: JSON nested deeper than 256 levels"), std::string::npos)
        << deep.message();
}

}  // namespace
}  // namespace sinan::knowledge
