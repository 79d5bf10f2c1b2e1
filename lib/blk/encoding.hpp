// Byte-to-text encodings used in JSON, the manifest and on the terminal,
// all backed by libsodium.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk {

// Standard base64 with padding (RFC 4648 §4), in constant time (libsodium):
// for keys and other secrets.
std::string base64_encode(std::string_view bytes);
// Code::invalid_input if `text` is not valid padded standard base64.
Result<std::string> base64_decode(std::string_view text);

// The same encoding for blobs: table-driven, not constant time, several
// times faster (libsodium's decoder was 31% of `blk import`'s CPU time).
// Appends the base64 of `bytes` to `out`.
void append_base64(std::string& out, std::string_view bytes);
// Code::invalid_input unless `text` is padded standard base64 whose unused
// trailing bits are zero (so every blob has exactly one encoding).
Result<std::string> base64_decode_data(std::string_view text);

std::string hex_encode(std::string_view bytes);
// Lowercase or uppercase hex digits, even length; std::nullopt otherwise.
std::optional<std::string> hex_decode(std::string_view hex);

// Appends `s` as a JSON string literal (quotes included), escaping as
// RFC 8259 requires; bytes that are not valid UTF-8 become U+FFFD.
void append_json_string(std::string& out, std::string_view s);

// True if `bytes` would mess up a terminal: a NUL, a control character other
// than tab, newline, carriage return, escape and form feed, or invalid UTF-8.
bool looks_binary(std::string_view bytes);

}  // namespace blk
