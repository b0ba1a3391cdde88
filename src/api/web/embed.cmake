# Turns web/chat.html into a C++ header (cmake -P, run at build time when the page changes):
# -DINPUT=chat.html -DOUTPUT=.../api/web/chat_html.h. The page is served from memory; nothing is
# read from disk or fetched at run time.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from src/api/web/chat.html by src/api/web/embed.cmake; do not edit.\n"
  "#pragma once\n#include <string_view>\n"
  "namespace sinan::api::web {\n"
  "inline constexpr char kChatHtmlBytes[] = {${bytes}};\n"
  "inline constexpr std::string_view kChatHtml{kChatHtmlBytes, sizeof kChatHtmlBytes};\n"
  "}  // namespace sinan::api::web\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
