// Structure-following chunking with a token budget and overlap (src/knowledge/chunker.cpp).
#include "knowledge/chunker.h"

#include <gtest/gtest.h>

#include <string>

namespace sinan::knowledge {
namespace {

using Kind = Block::Kind;

Block block(Kind kind, std::string text, int level = 0, int page = 0) {
    Block b;
    b.kind = kind;
    b.text = std::move(text);
    b.level = level;
    b.page = page;
    return b;
}

Block heading(std::string text, int level) { return block(Kind::kHeading, std::move(text), level); }
Block paragraph(std::string text, int page = 0) { return block(Kind::kParagraph, std::move(text), 0, page); }

// "Sentence one has five words. Sentence two has ..." n distinct sentences.
std::string sentences(int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += "Sentence " + std::to_string(i) + " is about topic " + std::to_string(i * 7) + ". ";
    return s;
}

TEST(ApproximateTokenCount, CountsWordsByLengthCjkByCharacterAndPunctuation) {
    EXPECT_EQ(approximate_token_count(""), 0);
    EXPECT_EQ(approximate_token_count("hello world"), 2);
    EXPECT_EQ(approximate_token_count("internationalization"), 4);  // 20 letters: 4 pieces of 6
    EXPECT_EQ(approximate_token_count("a, b."), 4);
    EXPECT_EQ(approximate_token_count("你好，世界。"), 6);
    EXPECT_EQ(approximate_token_count("日本語のテキスト"), 8);
    EXPECT_EQ(approximate_token_count("café 3.14"), 4);  // café, 3, ., 14
}

TEST(Chunker, HeadingStartsAChunkAndLocationIsTheHeadingPath) {
    ExtractedDocument doc;
    doc.blocks = {heading("Guide", 1),     paragraph(sentences(8)), heading("Install", 2),
                  paragraph(sentences(8)), heading("Usage", 1),     paragraph(sentences(8))};
    const auto chunks = chunk_document(doc);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].location, "Guide");
    EXPECT_EQ(chunks[1].location, "Guide > Install");
    EXPECT_EQ(chunks[2].location, "Usage");
    EXPECT_EQ(chunks[1].text.rfind("Install\nSentence 0 ", 0), 0u) << chunks[1].text;
    for (size_t i = 0; i < chunks.size(); ++i) {
        EXPECT_EQ(chunks[i].ordinal, static_cast<int>(i));
        EXPECT_EQ(chunks[i].n_tokens, approximate_token_count(chunks[i].text));
    }
}

TEST(Chunker, TinySectionIsMergedWithTheNextOne) {
    ExtractedDocument doc;
    doc.blocks = {heading("Guide", 1),     heading("Install", 2),   paragraph("Run make install."), heading("Usage", 2),
                  paragraph(sentences(8)), heading("Reference", 1), paragraph(sentences(8))};
    const auto chunks = chunk_document(doc);
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].location, "Guide");
    EXPECT_EQ(chunks[0].text.rfind("Guide\nInstall\nRun make install.\nUsage\nSentence 0 ", 0), 0u) << chunks[0].text;
    EXPECT_EQ(chunks[1].location, "Reference");
}

TEST(Chunker, LongTextRespectsBudgetAndOverlapsWholeSentences) {
    ExtractedDocument doc;
    doc.blocks = {paragraph(sentences(40))};
    ChunkOptions opt;
    opt.max_tokens = 40;
    opt.overlap_tokens = 12;
    const auto chunks = chunk_document(doc, opt);
    ASSERT_GT(chunks.size(), 5u);
    for (size_t i = 0; i < chunks.size(); ++i) {
        EXPECT_LE(chunks[i].n_tokens, 40) << chunks[i].text;
        EXPECT_EQ(chunks[i].text.back(), '.') << "cut inside a sentence: " << chunks[i].text;
        if (i == 0) continue;
        // The next chunk starts with the last sentence of the previous one (8 tokens <= 12).
        const std::string& prev = chunks[i - 1].text;
        const size_t last = prev.rfind("Sentence ");
        const std::string tail = prev.substr(last);
        EXPECT_EQ(chunks[i].text.rfind(tail, 0), 0u) << "no overlap: [" << prev << "] -> [" << chunks[i].text << "]";
        EXPECT_LE(approximate_token_count(tail), 12);
    }
    // Every sentence is in some chunk.
    for (int k = 0; k < 40; ++k) {
        const std::string s = "Sentence " + std::to_string(k) + " is about topic " + std::to_string(k * 7) + ".";
        bool found = false;
        for (const auto& c : chunks) found = found || c.text.find(s) != std::string::npos;
        EXPECT_TRUE(found) << s;
    }
}

TEST(Chunker, NoOverlapWhenDisabledOrAcrossHeadings) {
    ExtractedDocument doc;
    doc.blocks = {paragraph(sentences(20)), heading("Next", 1), paragraph(sentences(3))};
    ChunkOptions opt;
    opt.max_tokens = 40;
    opt.overlap_tokens = 0;
    const auto chunks = chunk_document(doc, opt);
    std::string joined;
    for (const auto& c : chunks) joined += c.text + " ";
    EXPECT_EQ(joined.find("Sentence 5 is"), joined.rfind("Sentence 5 is")) << "repeated text without overlap";
    EXPECT_EQ(joined.find("Sentence 19 is"), joined.rfind("Sentence 19 is")) << "repeated text without overlap";
    EXPECT_EQ(chunks.back().text.rfind("Next\n", 0), 0u) << chunks.back().text;
}

TEST(Chunker, WordsTooLongForTheBudgetAreCut) {
    ExtractedDocument doc;
    doc.blocks = {paragraph(std::string(600, 'x') + " tail")};
    ChunkOptions opt;
    opt.max_tokens = 20;
    opt.overlap_tokens = 0;
    const auto chunks = chunk_document(doc, opt);
    size_t total = 0;
    for (const auto& c : chunks) {
        EXPECT_LE(c.n_tokens, 20);
        total += c.text.size();
    }
    EXPECT_GE(total, 604u);
    EXPECT_EQ(chunks.back().text.substr(chunks.back().text.size() - 4), "tail");
}

TEST(Chunker, TableStaysWholeWhenItFitsElseSplitsByRowsWithHeader) {
    std::string small = "Name | Size\na | 1\nb | 2";
    std::string big = "Name | Size";
    for (int i = 0; i < 30; ++i) big += "\nfile" + std::to_string(i) + " | " + std::to_string(i * 100);
    ExtractedDocument doc;
    doc.blocks = {block(Kind::kTable, small), heading("Big", 1), block(Kind::kTable, big)};
    ChunkOptions opt;
    opt.max_tokens = 30;
    opt.overlap_tokens = 5;
    opt.min_tokens = 1;
    const auto chunks = chunk_document(doc, opt);
    ASSERT_GE(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].text, small);
    int rows = 0;
    for (size_t i = 1; i < chunks.size(); ++i) {
        EXPECT_LE(chunks[i].n_tokens, 30);
        const std::string& t = chunks[i].text;
        const std::string body = i == 1 ? t.substr(std::min<size_t>(4, t.size())) : t;  // chunk 1 opens with "Big\n"
        EXPECT_EQ(body.rfind("Name | Size\n", 0), 0u) << t;
        for (size_t p = t.find("\nfile"); p != std::string::npos; p = t.find("\nfile", p + 1)) ++rows;
    }
    EXPECT_EQ(rows, 30) << "rows lost, split or repeated";
}

TEST(Chunker, ChineseTextSplitsAtSentenceEndsAndCountsCharacters) {
    std::string text;
    for (int i = 0; i < 30; ++i) text += "知识库把文档切成小块以便检索。";  // 15 characters each
    ExtractedDocument doc;
    doc.blocks = {paragraph(text)};
    ChunkOptions opt;
    opt.max_tokens = 50;
    opt.overlap_tokens = 15;
    const auto chunks = chunk_document(doc, opt);
    ASSERT_GT(chunks.size(), 3u);
    for (const auto& c : chunks) {
        EXPECT_LE(c.n_tokens, 50);
        EXPECT_EQ(c.n_tokens % 15, 0) << c.text;  // whole sentences only
        EXPECT_EQ(c.text.rfind("知识库", 0), 0u) << c.text;
        EXPECT_EQ(c.text.substr(c.text.size() - 3), "。") << c.text;
        EXPECT_EQ(c.text.find(' '), std::string::npos);
    }
    // 3 sentences per chunk (45 <= 50), the first being the previous chunk's last.
    EXPECT_EQ(chunks[0].n_tokens, 45);
    EXPECT_EQ(chunks.size(), 15u);  // 1 + ceil((30 - 3) / 2)
}

TEST(Chunker, PagedDocumentsNameThePage) {
    ExtractedDocument doc;
    doc.blocks = {paragraph("Cover page words.", 1), heading("Intro", 1), paragraph(sentences(10), 2),
                  paragraph(sentences(10), 3)};
    doc.blocks[1].page = 2;
    ChunkOptions opt;
    opt.max_tokens = 100;
    opt.overlap_tokens = 0;  // else the third chunk starts with page 2's last sentence
    opt.min_tokens = 1;
    const auto chunks = chunk_document(doc, opt);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].location, "page 1");
    EXPECT_EQ(chunks[0].page, 1);
    EXPECT_EQ(chunks[1].location, "Intro, page 2");
    EXPECT_EQ(chunks[1].page, 2);
    EXPECT_EQ(chunks.back().location, "Intro, page 3");
}

TEST(Chunker, UsesTheCallersTokenCounter) {
    ExtractedDocument doc;
    doc.blocks = {paragraph(sentences(10))};
    ChunkOptions opt;
    opt.max_tokens = 100;
    opt.overlap_tokens = 0;
    opt.count_tokens = [](std::string_view s) { return static_cast<int>(s.size()); };  // bytes
    const auto chunks = chunk_document(doc, opt);
    ASSERT_GT(chunks.size(), 2u);
    for (const auto& c : chunks) {
        EXPECT_LE(c.text.size(), 100u);
        EXPECT_EQ(c.n_tokens, static_cast<int>(c.text.size()));
    }
}

TEST(Chunker, EmptyDocumentGivesNoChunks) {
    ExtractedDocument doc;
    doc.blocks = {paragraph("  \n ")};
    EXPECT_TRUE(chunk_document(doc).empty());
}

}  // namespace
}  // namespace sinan::knowledge
