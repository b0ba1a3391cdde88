#include "knowledge/ocr.h"

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "knowledge/extract_formats.h"
#include "text/utf8.h"

namespace sinan::knowledge {

namespace {

struct PixDeleter {
    void operator()(Pix* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;

void quiet_leptonica() {
    static std::once_flag once;
    std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

// This thread's engine for (dir, languages), initialised on first use.
Result<tesseract::TessBaseAPI*> engine_for(const ExtractOptions& options) {
    thread_local std::map<std::string, std::unique_ptr<tesseract::TessBaseAPI>> engines;
    const std::string key = options.tessdata_dir + '\n' + options.ocr_languages;
    if (auto it = engines.find(key); it != engines.end()) return it->second.get();
    auto api = std::make_unique<tesseract::TessBaseAPI>();
    api->SetVariable("debug_file", "/dev/null");  // no "Estimating resolution" chatter on stderr
    if (api->Init(options.tessdata_dir.empty() ? nullptr : options.tessdata_dir.c_str(), options.ocr_languages.c_str(),
                  tesseract::OEM_DEFAULT) != 0) {
        return Status::error("OCR languages '" + options.ocr_languages +
                             "' are not installed (tessdata); install tesseract-ocr-eng and tesseract-ocr-chi-sim "
                             "or turn OCR off");
    }
    tesseract::TessBaseAPI* raw = api.get();
    engines.emplace(key, std::move(api));
    return raw;
}

bool is_cjk_at(std::string_view s, size_t pos, bool before) {
    // The code point that ends at `pos` (before) or starts at `pos` (after).
    size_t start = pos;
    if (before) {
        if (pos == 0) return false;
        start = pos - 1;
        while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    } else if (pos >= s.size()) {
        return false;
    }
    const text::Utf8Step step = text::decode_utf8(s.substr(start));
    const uint32_t cp = step.cp;
    return step.kind == text::Utf8Step::kOk &&
           ((cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
            (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x3134F));
}

// Tesseract's chi_sim model writes "知 识 库": drop a space between two CJK characters.
std::string join_cjk(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == ' ' && is_cjk_at(s, i, true) && is_cjk_at(s, i + 1, false)) continue;
        out += s[i];
    }
    return out;
}

Result<std::vector<std::string>> recognize(Pix* pix, int dpi, const ExtractOptions& options) {
    Result<tesseract::TessBaseAPI*> api = engine_for(options);
    if (!api.ok()) return api.status();
    tesseract::TessBaseAPI* t = *api;
    t->SetImage(pix);
    t->SetSourceResolution(dpi > 0 ? dpi : 300);
    if (t->Recognize(nullptr) != 0) {
        t->Clear();
        return Status::error("OCR failed on the image; check it is a readable scan");
    }
    std::vector<std::string> paragraphs;
    std::unique_ptr<tesseract::ResultIterator> it(t->GetIterator());
    if (it != nullptr) {
        do {
            std::unique_ptr<char[]> text(it->GetUTF8Text(tesseract::RIL_PARA));
            if (text == nullptr) continue;
            const std::string_view para = trim_space(text.get());
            if (!para.empty()) paragraphs.push_back(join_cjk(para));
        } while (it->Next(tesseract::RIL_PARA));
    }
    t->Clear();
    return paragraphs;
}

}  // namespace

Result<std::vector<std::string>> ocr_image(std::string_view encoded, const ExtractOptions& options) {
    quiet_leptonica();
    PixPtr pix(pixReadMem(reinterpret_cast<const l_uint8*>(encoded.data()), encoded.size()));
    if (pix == nullptr) return Status::error("cannot decode the image (corrupt or truncated?); check the file opens");
    if (pixGetWidth(pix.get()) < 3 || pixGetHeight(pix.get()) < 3) return Status::error("image too small to OCR");
    // Palette and 16-bit images: tesseract wants 1, 8 or 32 bits per pixel without a colormap.
    if (pixGetColormap(pix.get()) != nullptr || pixGetDepth(pix.get()) == 16 || pixGetDepth(pix.get()) == 2 ||
        pixGetDepth(pix.get()) == 4) {
        PixPtr converted(pixConvertTo8(pix.get(), 0));
        if (converted == nullptr) return Status::error("unsupported image pixel format; save it as 8-bit PNG");
        pix = std::move(converted);
    }
    int dpi = pixGetXRes(pix.get());
    return recognize(pix.get(), dpi >= 70 ? dpi : 300, options);
}

Result<std::vector<std::string>> ocr_argb32(const uint8_t* pixels, int width, int height, int bytes_per_row, int dpi,
                                            const ExtractOptions& options) {
    quiet_leptonica();
    // Tesseract binarizes grey anyway; grey is a quarter of the memory of a 300-dpi colour page.
    PixPtr pix(pixCreate(width, height, 8));
    if (pix == nullptr) return Status::error("page image too large to OCR");
    l_uint32* data = pixGetData(pix.get());
    const int wpl = pixGetWpl(pix.get());
    for (int y = 0; y < height; ++y) {
        const uint8_t* row = pixels + static_cast<size_t>(y) * bytes_per_row;
        l_uint32* line = data + static_cast<size_t>(y) * wpl;
        for (int x = 0; x < width; ++x) {
            uint32_t argb;
            std::memcpy(&argb, row + static_cast<size_t>(x) * 4, 4);
            const uint32_t r = (argb >> 16) & 0xFF, g = (argb >> 8) & 0xFF, b = argb & 0xFF;
            SET_DATA_BYTE(line, x, (r * 299 + g * 587 + b * 114) / 1000);
        }
    }
    return recognize(pix.get(), dpi, options);
}

}  // namespace sinan::knowledge
