// Fuzz target: the record layer, blk::wire::RecordReader with a fixed key
// (and RecordWriter to make genuine streams).
//
// Input:
//   byte 0     mode = bits 0-1; bit 2: the last written record is final
//   byte 1     c = byte % 16, then c bytes of chunk sizes (0 = all the rest);
//              the stream is fed to the reader in chunks of these sizes, in
//              turn (none: all at once)
//   mode 0     the rest is the stream, as received (arbitrary bytes)
//   mode 1-3   2 bytes position (big-endian), 1 byte mask, then the records
//              to write: each one length byte L and L payload bytes (fewer
//              at the end of the input)
//
// Modes and invariants:
//   0 raw       Fed whole and in chunks, the reader gives the same records,
//               the same failure and the same end; no record is over the
//               limit; consumption never exceeds what was fed; after the
//               final record, or after a failure, more bytes are an error.
//   1 genuine   A stream from RecordWriter with the same key reads back
//               exactly: the same records, the end iff the last was final.
//   2 flipped   One byte of a genuine stream (the position's, xor the mask,
//               which is never 0) is altered: the reader delivers exactly
//               the records that end before that byte, unaltered, then
//               fails; never a record holding it, never the end.
//   3 truncated A genuine stream cut before its end: the records wholly
//               before the cut, no failure, never the end; between_records()
//               exactly at a record boundary.
#include <algorithm>

#include "blk/wire/records.hpp"
#include "fuzz_common.hpp"

using namespace blk;
using namespace blk::wire;

namespace {

constexpr std::size_t kHeader = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kA = crypto_secretstream_xchacha20poly1305_ABYTES;

struct Reading {
  std::vector<RecordReader::Record> records;
  bool failed = false;
  std::string error;
  bool ended = false, started = false, between = false;
};

Reading read(std::string_view stream, const std::vector<std::size_t>& sizes) {
  RecordReader reader(fuzz::record_key());
  Reading out;
  for (std::string_view chunk : fuzz::split(stream, sizes)) {
    while (!out.failed) {
      RecordReader::Record rec;
      bool got = false;
      auto n = reader.feed(chunk, rec, got);
      if (!n) {
        out.failed = true;
        out.error = n.error().message;
        FUZZ_CHECK(!got, "a record came with a failure");
        break;
      }
      FUZZ_CHECK(*n <= chunk.size(), "consumed %zu of %zu bytes", *n, chunk.size());
      chunk.remove_prefix(*n);
      if (got) {
        FUZZ_CHECK(rec.payload.size() <= kMaxRecordBytes, "a %zu-byte record", rec.payload.size());
        FUZZ_CHECK(!out.ended, "a record after the final one");
        out.ended = rec.final;
        FUZZ_CHECK(reader.ended() == rec.final, "ended() disagrees with the final record");
        out.records.push_back(std::move(rec));
        if (chunk.empty()) break;
        continue;
      }
      // No record: it took everything it was given.
      FUZZ_CHECK(chunk.empty(), "feed stopped with %zu bytes left and no record", chunk.size());
      break;
    }
    if (out.failed) break;
  }
  out.started = reader.started();
  out.between = reader.between_records();
  // Nothing in, nothing out; then a failure is final, and so is the end:
  // any byte after either is refused (and fails the reader for good).
  RecordReader::Record rec;
  bool got = false;
  auto empty = reader.feed("", rec, got);
  FUZZ_CHECK(!got && (!empty || *empty == 0), "a record from nothing");
  if (!out.failed) FUZZ_CHECK(bool(empty), "an empty feed failed");
  if (out.failed || out.ended) {
    auto more = reader.feed("x", rec, got);
    FUZZ_CHECK(!more && !got, "the reader took bytes after %s",
               out.failed ? "failing" : "the final record");
    auto after = reader.feed("", rec, got);
    FUZZ_CHECK(!after, "the reader recovered after refusing bytes");
  }
  return out;
}

bool same_records(const std::vector<RecordReader::Record>& a,
                  const std::vector<RecordReader::Record>& b, std::size_t n) {
  if (a.size() < n || b.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (a[i].payload != b[i].payload || a[i].final != b[i].final) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::rng_reset(0);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto byte = [&](std::size_t def = 0) -> std::size_t {
    if (in.empty()) return def;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    return b;
  };
  std::size_t flags = byte();
  unsigned mode = flags & 3;
  bool final = flags & 4;
  std::vector<std::size_t> sizes;
  for (std::size_t c = byte() % 16; c > 0; --c) sizes.push_back(byte());

  if (mode == 0) {
    Reading whole = read(in, {});
    Reading pieces = read(in, sizes);
    FUZZ_CHECK(whole.failed == pieces.failed, "whole vs chunked: failed %d/%d ('%s' / '%s')",
               whole.failed, pieces.failed, whole.error.c_str(), pieces.error.c_str());
    FUZZ_CHECK(whole.records.size() == pieces.records.size() &&
                   same_records(whole.records, pieces.records, whole.records.size()),
               "whole vs chunked: %zu/%zu records", whole.records.size(), pieces.records.size());
    FUZZ_CHECK(whole.ended == pieces.ended, "whole vs chunked: ended %d/%d", whole.ended,
               pieces.ended);
    if (!whole.failed)
      FUZZ_CHECK(whole.between == pieces.between && whole.started == pieces.started,
                 "whole vs chunked: reader state differs");
    return 0;
  }

  std::size_t pos = byte() << 8;
  pos |= byte();
  auto mask = static_cast<unsigned char>(byte());
  if (mask == 0) mask = 1;

  // Write the genuine stream; note where each record ends.
  RecordWriter writer(fuzz::record_key());
  std::string stream = writer.take_header();
  FUZZ_CHECK(stream.size() == kHeader, "a %zu-byte header", stream.size());
  std::vector<RecordReader::Record> written;
  std::vector<std::size_t> ends;
  while (!in.empty() && written.size() < 64) {
    std::size_t len = std::min(byte(), in.size());
    written.push_back({std::string(in.substr(0, len)), false});
    in.remove_prefix(len);
  }
  if (final && !written.empty()) written.back().final = true;
  for (const auto& rec : written) {
    std::size_t before = stream.size();
    auto w = writer.write(rec.payload, rec.final, stream);
    FUZZ_CHECK(w, "the writer refused a %zu-byte record", rec.payload.size());
    FUZZ_CHECK(stream.size() == before + 4 + kA + rec.payload.size() + kA,
               "a record of %zu bytes took %zu", rec.payload.size(), stream.size() - before);
    ends.push_back(stream.size());
  }
  auto records_before = [&](std::size_t at) {  // how many records end at or before `at`
    return static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), at) - ends.begin());
  };

  if (mode == 1) {
    Reading r = read(stream, sizes);
    FUZZ_CHECK(!r.failed, "a genuine stream failed: %s", r.error.c_str());
    FUZZ_CHECK(
        r.records.size() == written.size() && same_records(r.records, written, written.size()),
        "a genuine stream of %zu records read as %zu", written.size(), r.records.size());
    FUZZ_CHECK(r.ended == (final && !written.empty()), "ended %d, final %d", r.ended, final);
    FUZZ_CHECK(r.started && r.between, "a whole stream left the reader mid-record");
  } else if (mode == 2) {
    pos %= stream.size();
    stream[pos] = static_cast<char>(stream[pos] ^ mask);
    Reading r = read(stream, sizes);
    std::size_t k = records_before(pos);
    FUZZ_CHECK(r.records.size() == k && same_records(r.records, written, k),
               "byte %zu of %zu flipped: %zu records delivered, %zu end before it", pos,
               stream.size(), r.records.size(), k);
    FUZZ_CHECK(r.failed == (k < written.size()),
               "byte %zu of %zu flipped: failed %d with %zu of %zu records before it", pos,
               stream.size(), r.failed, k, written.size());
    FUZZ_CHECK(!r.ended, "a stream with a flipped byte ended cleanly");
  } else {
    std::size_t cut = pos % stream.size();
    Reading r = read(std::string_view(stream).substr(0, cut), sizes);
    std::size_t k = records_before(cut);
    FUZZ_CHECK(!r.failed, "a truncated stream failed: %s", r.error.c_str());
    FUZZ_CHECK(r.records.size() == k && same_records(r.records, written, k),
               "cut at %zu of %zu: %zu records, %zu end before", cut, stream.size(),
               r.records.size(), k);
    FUZZ_CHECK(!r.ended, "a truncated stream ended cleanly");
    FUZZ_CHECK(r.started == (cut >= kHeader), "started() wrong at cut %zu", cut);
    bool boundary = cut == kHeader || std::find(ends.begin(), ends.end(), cut) != ends.end();
    FUZZ_CHECK(r.between == boundary, "between_records() %d at cut %zu (boundary %d)", r.between,
               cut, boundary);
  }
  return 0;
}
