// OCR with tesseract (English and simplified Chinese by default) for images and for PDF pages
// that have no text layer. Internal to src/knowledge; callers use extract.h.
//
// Each thread keeps one tesseract engine per (tessdata dir, languages), loaded on first use
// (loading eng+chi_sim takes about a second) and reused; so the functions are safe to call from
// several threads at once. Output is UTF-8 paragraphs in reading order; the spaces tesseract puts
// between Chinese/Japanese characters are removed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "knowledge/extract.h"

namespace sinan::knowledge {

// OCRs an encoded image (PNG, JPEG, TIFF, BMP: whatever leptonica reads). Fails when the image
// cannot be decoded or the languages' traineddata files are missing.
Result<std::vector<std::string>> ocr_image(std::string_view encoded, const ExtractOptions& options);

// OCRs a rendered page: `pixels` is [height][bytes_per_row] of 32-bit native-endian 0xAARRGGBB
// (poppler's and cairo's ARGB32), scanned at `dpi`.
Result<std::vector<std::string>> ocr_argb32(const uint8_t* pixels, int width, int height, int bytes_per_row, int dpi,
                                            const ExtractOptions& options);

}  // namespace sinan::knowledge
