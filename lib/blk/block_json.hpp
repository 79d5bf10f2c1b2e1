// Blocks as JSON lines: the shape of `get --json`, `ls --json`, `export` and
// `import`, a stable interface for scripts (documented in man blk(1)):
//
//   {"id":"…","type":"…","created_at":MS,"modified_at":MS,"deleted_at":MS|null,
//    "schema":N,"modified_by":"HEX","seq":N,"version":"HEX","blob":"BASE64"}
//
// Times are milliseconds since the Unix epoch, UTC. `ls --json` has
// "size":BYTES in place of "blob".
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "blk/block.hpp"
#include "blk/error.hpp"
#include "blk/store.hpp"

namespace blk {

enum class BlobField { base64, size };

// Appends one JSON object for `b` (no trailing newline).
void append_block_json(std::string& out, const Block& b, BlobField blob = BlobField::base64);

// Parses one line into a write. Reads "id" (optional: generated if absent),
// "type", "blob" (base64; may be absent for a tombstone), "schema",
// "created_at", "modified_at", "deleted_at"; ignores the derived fields
// ("seq", "version", "modified_by", "size") and unknown keys, for forward
// compatibility. Code::invalid_input with a message naming the field.
class BlockJsonParser {
 public:
  BlockJsonParser();
  ~BlockJsonParser();
  // Parses `line` in place: its text is used up (the result owns copies).
  Result<BlockWrite> parse(std::string& line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ImportSummary {
  std::uint64_t blocks = 0;
};

// Imports JSON lines from `in` in one transaction: all of them or, on the
// first bad line, none (the error names the line number). Blank lines are
// skipped. Streams: memory does not grow with the input.
Result<ImportSummary> import_json_lines(Store& store, std::FILE* in);

}  // namespace blk
