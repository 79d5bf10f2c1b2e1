// Fuzz target: one line of `blk import`, blk::BlockJsonParser::parse.
//
// Invariants:
// - A parser that has parsed other lines (as import reuses one) gives the
//   same answer as a fresh one.
// - A raw NUL byte is never part of a JSON text (RFC 8259: control
//   characters must be escaped in strings and are not whitespace), so a
//   line holding one is refused: import reads lines with getline, NULs and
//   all, and must not keep the part before the NUL and drop the rest.
// - Refusals are Code::invalid_input.
// - What parses has times >= 0; and written back as JSON (the export
//   format) it parses to the same write, byte for byte (ids and types that
//   are valid UTF-8; in others each bad byte becomes U+FFFD when written,
//   and the write is stable from then on).
#include <cstring>

#include "blk/block_json.hpp"
#include "blk/encoding.hpp"
#include "fuzz_common.hpp"

using namespace blk;

namespace {

// Mirrors encoding.cpp: UTF-8 without overlong forms, surrogates or > U+10FFFF.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0)
      n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      n = 4, cp = c & 0x07;
    else
      return false;
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return false;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += n;
  }
  return true;
}

void append_time(std::string& out, const char* key, const std::optional<Millis>& t) {
  out += ",\"";
  out += key;
  out += "\":";
  out += t ? std::to_string(*t) : "null";
}

// The write as a JSON line, in the shape `blk export` writes.
std::string to_json(const BlockWrite& w) {
  std::string out = "{";
  if (!w.id.empty()) {  // no id: a new block ("id":"" is refused)
    out += "\"id\":";
    append_json_string(out, w.id);
    out += ",";
  }
  out += "\"type\":";
  append_json_string(out, w.type);
  append_time(out, "created_at", w.created_at);
  append_time(out, "modified_at", w.modified_at);
  append_time(out, "deleted_at", w.deleted_at);
  out += ",\"schema\":" + std::to_string(w.schema);
  out += ",\"blob\":\"";
  append_base64(out, w.blob);
  out += "\"}";
  return out;
}

std::string describe(const Result<BlockWrite>& r) {
  if (!r) return "error: " + r.error().message;
  return "ok: " + to_json(*r);
}

bool same(const BlockWrite& a, const BlockWrite& b) {
  return a.id == b.id && a.type == b.type && a.blob == b.blob && a.schema == b.schema &&
         a.created_at == b.created_at && a.modified_at == b.modified_at &&
         a.deleted_at == b.deleted_at;
}

bool same_but_strings(const BlockWrite& a, const BlockWrite& b) {
  return a.blob == b.blob && a.schema == b.schema && a.created_at == b.created_at &&
         a.modified_at == b.modified_at && a.deleted_at == b.deleted_at;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static BlockJsonParser reused;  // keeps its state from input to input, as in import
  std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string a(in), b(in);
  auto r = reused.parse(a);
  BlockJsonParser fresh;
  auto f = fresh.parse(b);
  FUZZ_CHECK(describe(r) == describe(f), "a reused parser differs from a fresh one:\n  %s\n  %s",
             describe(r).c_str(), describe(f).c_str());

  const void* nul = std::memchr(in.data(), 0, in.size());
  FUZZ_CHECK(!r || nul == nullptr, "a line with a NUL byte at %zu of %zu was accepted as %s",
             nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - in.data()) : 0,
             in.size(), describe(r).c_str());
  if (!r) {
    FUZZ_CHECK(r.error().code == Code::invalid_input, "error code %d",
               static_cast<int>(r.error().code));
    return 0;
  }

  const BlockWrite& w = *r;
  for (const auto& t : {w.created_at, w.modified_at, w.deleted_at})
    FUZZ_CHECK(!t || *t >= 0, "a negative time");

  // Written back and read again.
  std::string line = to_json(w);
  std::string copy = line;
  auto again = fresh.parse(copy);
  FUZZ_CHECK(again, "its own JSON does not parse: %s\n  %s", again.error().message.c_str(),
             line.c_str());
  if (valid_utf8(w.id) && valid_utf8(w.type)) {
    FUZZ_CHECK(same(w, *again), "the rewritten line parses to a different write:\n  %s\n  %s",
               line.c_str(), to_json(*again).c_str());
  } else {
    FUZZ_CHECK(same_but_strings(w, *again), "the rewritten line parses to a different write");
    FUZZ_CHECK(valid_utf8(again->id) && valid_utf8(again->type),
               "invalid UTF-8 survived a rewrite: %s", line.c_str());
    std::string line2 = to_json(*again), copy2 = line2;
    auto third = fresh.parse(copy2);
    FUZZ_CHECK(third && same(*again, *third), "not stable after one rewrite:\n  %s", line2.c_str());
  }
  return 0;
}
