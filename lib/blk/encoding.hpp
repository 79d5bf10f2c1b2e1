// Byte-to-text encodings used in JSON, the manifest and on the terminal,
// all backed by libsodium.
#pragma once

#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk {

// Standard base64 with padding (RFC 4648 §4).
std::string base64_encode(std::string_view bytes);
// Code::invalid_input if `text` is not valid padded standard base64.
Result<std::string> base64_decode(std::string_view text);
// Appends the base64 of `bytes` to `out` without a temporary.
void append_base64(std::string& out, std::string_view bytes);

std::string hex_encode(std::string_view bytes);

// Appends `s` as a JSON string literal (quotes included), escaping as
// RFC 8259 requires; bytes that are not valid UTF-8 become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

// True if `bytes` would mess up a terminal: a NUL, a control character other
// than tab, newline, carriage return, escape and form feed, or invalid UTF-8.
bool looks_binary(std::string_view bytes);

}  // namespace blk
