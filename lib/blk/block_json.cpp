#include "blk/block_json.hpp"

#include <simdjson.h>

#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "blk/encoding.hpp"

namespace blk {

void append_block_json(std::string& out, const Block& b, BlobField blob) {
  out += "{\"id\":";
  append_json_string(out, b.id);
  out += ",\"type\":";
  append_json_string(out, b.type);
  fmt::format_to(std::back_inserter(out), ",\"created_at\":{},\"modified_at\":{},\"deleted_at\":",
                 b.created_at, b.modified_at);
  if (b.deleted_at) fmt::format_to(std::back_inserter(out), "{}", *b.deleted_at);
  else out += "null";
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

// The DOM parser dispatches at run time to the best SIMD kernel the CPU has
// (the On-Demand front end would be fixed to the build's -march baseline).
struct BlockJsonParser::Impl {
  simdjson::dom::parser parser;
};

BlockJsonParser::BlockJsonParser() : impl_(std::make_unique<Impl>()) {}
BlockJsonParser::~BlockJsonParser() = default;

Result<BlockWrite> BlockJsonParser::parse(std::string& line) {
  using namespace simdjson;
  auto bad = [](std::string_view why) { return make_error(Code::invalid_input, std::string(why)); };
  std::size_t len = line.size();
  if (line.capacity() < len + SIMDJSON_PADDING) line.reserve(len + SIMDJSON_PADDING);
  dom::element doc;
  if (impl_->parser.parse(line.data(), len, /*realloc_if_needed=*/false).get(doc))
    return bad("not valid JSON");
  dom::object obj;
  if (doc.get_object().get(obj)) return bad("not a JSON object");

  BlockWrite w;
  bool have_type = false, have_blob = false;
  auto millis = [&](dom::element v, std::string_view key) -> Result<std::optional<Millis>> {
    if (v.is_null()) return std::optional<Millis>();
    int64_t n;
    if (v.get_int64().get(n) || n < 0)
      return bad(fmt::format("\"{}\" must be milliseconds since 1970 (a non-negative integer)", key));
    return std::optional<Millis>(n);
  };
  for (auto [key, v] : obj) {
    if (key == "id" || key == "type") {
      std::string_view s;
      if (v.get_string().get(s)) return bad(fmt::format("\"{}\" must be a string", key));
      (key == "id" ? w.id : w.type) = s;
      have_type |= key == "type";
    } else if (key == "blob") {
      std::string_view s;
      if (v.get_string().get(s)) return bad("\"blob\" must be a base64 string");
      auto bytes = base64_decode(s);
      if (!bytes) return bad("\"blob\" is not valid base64");
      w.blob = std::move(*bytes);
      have_blob = true;
    } else if (key == "schema") {
      uint64_t n;
      if (v.get_uint64().get(n) || n > std::numeric_limits<std::uint32_t>::max())
        return bad("\"schema\" must be an integer from 0 to 4294967295");
      w.schema = static_cast<std::uint32_t>(n);
    } else if (key == "created_at" || key == "modified_at" || key == "deleted_at") {
      auto t = millis(v, key);
      if (!t) return std::move(t).error();
      if (key == "created_at") w.created_at = *t;
      else if (key == "modified_at") w.modified_at = *t;
      else w.deleted_at = *t;
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
