#include "blk/block_json.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <limits>

#include "blk/encoding.hpp"

namespace blk {

void append_block_json(std::string& out, const Block& b, BlobField blob) {
  out += "{\"id\":";
  append_json_string(out, b.id);
  out += ",\"type\":";
  append_json_string(out, b.type);
  fmt::format_to(std::back_inserter(out),
                 ",\"created_at\":{},\"modified_at\":{},\"deleted_at\":", b.created_at,
                 b.modified_at);
  if (b.deleted_at)
    fmt::format_to(std::back_inserter(out), "{}", *b.deleted_at);
  else
    out += "null";
  fmt::format_to(std::back_inserter(out), ",\"schema\":{},\"modified_by\":\"{}\",\"seq\":{}",
                 b.schema, b.modified_by, b.seq);
  out += ",\"version\":\"";
  out += hex_encode(b.version_hash);
  if (blob == BlobField::size) {
    fmt::format_to(std::back_inserter(out), "\",\"size\":{}}}", b.blob.size());
  } else {
    out += "\",\"blob\":\"";
    append_base64(out, b.blob);
    out += "\"}";
  }
}

// RapidJSON is header-only: unlike simdjson's shared library it adds
// nothing to the start-up of every `blk` (which `blk get` in a shell loop
// pays), and parsing is a few percent of an import next to base64.
//
// Each line gets a fresh Document over fixed buffers: a Document reused
// across lines keeps every line's values in its pool (a 1M-line import grew
// to 100 MB), while these buffers hold a block's few members without a
// malloc and anything larger is freed with the line.
struct BlockJsonParser::Impl {
  alignas(8) char values[8192];
  alignas(8) char stack[2048];
};

BlockJsonParser::BlockJsonParser() : impl_(std::make_unique<Impl>()) {}
BlockJsonParser::~BlockJsonParser() = default;

Result<BlockWrite> BlockJsonParser::parse(std::string& line) {
  auto bad = [](std::string_view why) { return make_error(Code::invalid_input, std::string(why)); };
  rapidjson::MemoryPoolAllocator<> values(impl_->values, sizeof impl_->values);
  rapidjson::MemoryPoolAllocator<> stack(impl_->stack, sizeof impl_->stack);
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                              rapidjson::MemoryPoolAllocator<>>;
  Document doc(&values, sizeof impl_->stack, &stack);
  // In place: strings stay in `line`'s buffer, nothing is copied. The
  // in-place parser stops at a NUL, so a NUL would hide what follows it.
  if (line.find('\0') != std::string::npos) return bad("not valid JSON (a NUL byte)");
  // Iterative: nesting depth costs heap, not stack ([[[[... cannot crash us).
  doc.ParseInsitu<rapidjson::kParseIterativeFlag>(
      line.data());  // trailing characters are an error too
  if (doc.HasParseError()) return bad("not valid JSON");
  if (!doc.IsObject()) return bad("not a JSON object");

  BlockWrite w;
  bool have_type = false, have_blob = false;
  auto millis = [&](const rapidjson::Value& v,
                    std::string_view key) -> Result<std::optional<Millis>> {
    if (v.IsNull()) return std::optional<Millis>();
    if (!v.IsInt64() || v.GetInt64() < 0)
      return bad(
          fmt::format("\"{}\" must be milliseconds since 1970 (a non-negative integer)", key));
    return std::optional<Millis>(v.GetInt64());
  };
  for (const auto& member : doc.GetObject()) {
    std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& v = member.value;
    if (key == "id" || key == "type") {
      if (!v.IsString()) return bad(fmt::format("\"{}\" must be a string", key));
      // An empty id is not "no id" (a new block): like put --id '', an error.
      if (key == "id" && v.GetStringLength() == 0)
        return bad("id is empty (leave \"id\" out for a new block)");
      (key == "id" ? w.id : w.type).assign(v.GetString(), v.GetStringLength());
      have_type |= key == "type";
    } else if (key == "blob") {
      if (!v.IsString()) return bad("\"blob\" must be a base64 string");
      auto bytes = base64_decode_data(std::string_view(v.GetString(), v.GetStringLength()));
      if (!bytes) return bad("\"blob\" is not valid base64");
      w.blob = std::move(*bytes);
      have_blob = true;
    } else if (key == "schema") {
      if (!v.IsUint64() || v.GetUint64() > std::numeric_limits<std::uint32_t>::max())
        return bad("\"schema\" must be an integer from 0 to 4294967295");
      w.schema = static_cast<std::uint32_t>(v.GetUint64());
    } else if (key == "created_at" || key == "modified_at" || key == "deleted_at") {
      auto t = millis(v, key);
      if (!t) return std::move(t).error();
      if (key == "created_at")
        w.created_at = *t;
      else if (key == "modified_at")
        w.modified_at = *t;
      else
        w.deleted_at = *t;
    }
    // Other keys are derived ("seq", "version", ...) or from a newer blk.
  }
  if (!have_type) return bad("\"type\" is missing");
  if (!have_blob && !w.deleted_at) return bad("\"blob\" is missing");
  return w;
}

Result<ImportSummary> import_json_lines(Store& store, std::FILE* in) {
  auto tx = store.begin();
  if (!tx) return std::move(tx).error();
  BlockJsonParser parser;
  ImportSummary summary;
  std::string line;
  char* buf = nullptr;
  std::size_t cap = 0;
  std::uint64_t number = 0;
  for (;;) {
    ssize_t n = getline(&buf, &cap, in);
    if (n < 0) break;
    ++number;
    line.assign(buf, static_cast<std::size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto w = parser.parse(line);
    Result<std::string> put = w ? (*tx)->put(std::move(*w)) : Result<std::string>(w.error());
    if (!put) {
      std::free(buf);
      Error e = std::move(put).error();
      // A bad line is bad input, named by its number; a storage failure
      // (locked, read-only, disk full) keeps its own code and words.
      if (e.code == Code::usage || e.code == Code::invalid_input) {
        e.code = Code::invalid_input;
        e.message = fmt::format("line {}: {}", number, e.message);
      }
      return e;
    }
    ++summary.blocks;
  }
  bool read_error = std::ferror(in);
  std::free(buf);
  if (read_error) return make_error(Code::failure, "error reading the input");
  BLK_TRY((*tx)->commit());
  return summary;
}

}  // namespace blk
