// HTML extraction with libxml2 (src/knowledge/extract_html.cpp).
#include <gtest/gtest.h>

#include "knowledge/extract.h"

namespace sinan::knowledge {
namespace {

using Kind = Block::Kind;

TEST(ExtractHtml, StructureTitleAndDroppedScripts) {
    const std::string html = R"(<!DOCTYPE html>
<html><head><title> Admin   Guide </title><style>p { color: red }</style>
<script>var secret = "do not index";</script></head>
<body>
  <nav>Home &amp; about</nav>
  <h1>Install</h1>
  <p>Run the <b>installer</b>
     then <a href="/x">reboot</a>.<br>New line here.</p>
  <ul><li>first</li><li>second <ul><li>nested</li></ul></li></ul>
  <h2>Sizes</h2>
  <table><thead><tr><th>Name</th><th>Size</th></tr></thead>
         <tbody><tr><td>a.txt</td><td>10</td></tr><tr><td></td><td></td></tr><tr><td>b</td><td>20</td></tr></tbody></table>
  <pre>  indented
    code</pre>
  <div>Loose <span>div</span> text<noscript>nojs</noscript></div>
</body></html>)";
    auto doc = extract_bytes("guide.html", html);
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->format, "html");
    EXPECT_EQ(doc->title, "Admin Guide");
    const auto& b = doc->blocks;
    ASSERT_EQ(b.size(), 10u);
    EXPECT_EQ(b[0].text, "Home & about");
    EXPECT_EQ(b[1].kind, Kind::kHeading);
    EXPECT_EQ(b[1].level, 1);
    EXPECT_EQ(b[1].text, "Install");
    EXPECT_EQ(b[2].kind, Kind::kParagraph);
    EXPECT_EQ(b[2].text, "Run the installer then reboot.\nNew line here.");
    EXPECT_EQ(b[3].kind, Kind::kListItem);
    EXPECT_EQ(b[3].text, "first");
    EXPECT_EQ(b[4].text, "second");
    EXPECT_EQ(b[5].text, "nested");
    EXPECT_EQ(b[5].kind, Kind::kListItem);
    EXPECT_EQ(b[6].level, 2);
    EXPECT_EQ(b[7].kind, Kind::kTable);
    EXPECT_EQ(b[7].text, "Name | Size\na.txt | 10\nb | 20");
    EXPECT_EQ(b[8].kind, Kind::kCode);
    EXPECT_EQ(b[8].text, "indented\n    code");
    EXPECT_EQ(b[9].text, "Loose div text");
    for (const Block& block : b) EXPECT_EQ(block.text.find("secret"), std::string::npos);
}

TEST(ExtractHtml, CharsetFromMetaIsDecodedToUtf8) {
    // "café" in ISO-8859-1.
    auto doc = extract_bytes("latin.html",
                             "<html><head><meta charset=\"iso-8859-1\"></head><body><p>caf\xE9</p></body></html>");
    ASSERT_TRUE(doc.ok()) << doc.message();
    ASSERT_EQ(doc->blocks.size(), 1u);
    EXPECT_EQ(doc->blocks[0].text, "caf\xC3\xA9");
}

TEST(ExtractHtml, FragmentWithoutHtmlElementAndTitleFromH1) {
    auto doc = extract_bytes("frag.htm", "<h1>Only heading</h1><p>body</p>");
    ASSERT_TRUE(doc.ok()) << doc.message();
    EXPECT_EQ(doc->title, "Only heading");
    ASSERT_EQ(doc->blocks.size(), 2u);
}

TEST(ExtractHtml, PageWithoutTextIsReported) {
    auto doc = extract_bytes("empty.html", "<html><body><script>x()</script><img src=a.png></body></html>");
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.message(), "empty.html: no text found in this html file; nothing to index");
}

}  // namespace
}  // namespace sinan::knowledge
