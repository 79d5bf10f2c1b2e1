// Records: the encrypted, authenticated byte stream after the handshake, one
// crypto_secretstream_xchacha20poly1305 stream per direction.
//
//   stream = header (24 bytes) || record*
//   record = push(length: u32 big-endian) (4 + 17 bytes)
//            || push(payload of `length` bytes) (length + 17 bytes)
//
// The length is authenticated before the body is read and is checked against
// kMaxRecordBytes before anything is allocated. The last record is pushed
// with the FINAL tag: a stream that ends without it was cut, not closed.
// Secretstream's nonces make reordered, repeated or dropped records fail.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "blk/error.hpp"
#include "blk/wire/handshake.hpp"

namespace blk::wire {

// Large enough for a 16 MiB blob with its metadata.
inline constexpr std::size_t kMaxRecordBytes = (16u << 20) + (64u << 10);

class RecordWriter {
 public:
  // Starts the stream; the header it makes is the first output.
  explicit RecordWriter(const SessionKey& key);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Appends one sealed record to `out`. `final` ends the stream.
  // Code::invalid_input if the payload exceeds kMaxRecordBytes.
  Result<void> write(std::string_view payload, bool final, std::string& out);
  std::string take_header() { return std::move(header_); }

 private:
  crypto_secretstream_xchacha20poly1305_state state_;
  std::string header_;
};

class RecordReader {
 public:
  explicit RecordReader(const SessionKey& key);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  struct Record {
    std::string payload;
    bool final = false;
  };

  // Feeds bytes; returns how many were consumed and fills `record` (and
  // sets `got`) when one is complete. Call again with the rest. Any failure
  // is final: the stream is not to be trusted after it.
  Result<std::size_t> feed(std::string_view in, Record& record, bool& got);

  bool ended() const { return ended_; }
  // True once the stream header has arrived.
  bool started() const { return st_ != State::header; }
  // True unless part of a record (or of the stream header) has arrived.
  bool between_records() const {
    return pending_.empty() && (st_ == State::length || st_ == State::ended);
  }

 private:
  enum class State { header, length, body, ended, failed };
  Result<std::size_t> step(std::string_view in, Record& record, bool& got);

  SessionKey key_;
  crypto_secretstream_xchacha20poly1305_state state_;
  State st_ = State::header;
  std::string pending_;  // bytes of the current part received so far
  std::uint32_t length_ = 0;
  bool ended_ = false;
};

}  // namespace blk::wire
