#include "blk/wire/records.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace blk::wire {
namespace {

constexpr std::size_t kA = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kLengthChunk = 4 + kA;

unsigned char* ubytes(std::string& s, std::size_t at = 0) {
  return reinterpret_cast<unsigned char*>(s.data() + at);
}
const unsigned char* ubytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Error broken(std::string why) {
  return make_error(Code::failure, "connection broken: " + why);
}

}  // namespace

RecordWriter::RecordWriter(const SessionKey& key) {
  header_.resize(crypto_secretstream_xchacha20poly1305_HEADERBYTES);
  crypto_secretstream_xchacha20poly1305_init_push(&state_, ubytes(header_), key.data());
}

RecordWriter::~RecordWriter() {
  sodium_memzero(&state_, sizeof state_);
}

Result<void> RecordWriter::write(std::string_view payload, bool final, std::string& out) {
  if (payload.size() > kMaxRecordBytes)
    return make_error(Code::invalid_input,
                      fmt::format("a record of {} bytes is over the limit", payload.size()));
  auto n = static_cast<std::uint32_t>(payload.size());
  unsigned char length[4] = {static_cast<unsigned char>(n >> 24),
                             static_cast<unsigned char>(n >> 16),
                             static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  std::size_t at = out.size();
  out.resize(at + kLengthChunk + payload.size() + kA);
  crypto_secretstream_xchacha20poly1305_push(&state_, ubytes(out, at), nullptr, length, 4, nullptr,
                                             0, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  crypto_secretstream_xchacha20poly1305_push(
      &state_, ubytes(out, at + kLengthChunk), nullptr, ubytes(payload), payload.size(), nullptr, 0,
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  return {};
}

RecordReader::RecordReader(const SessionKey& key) : key_(key) {}

RecordReader::~RecordReader() {
  sodium_memzero(&state_, sizeof state_);
  sodium_memzero(key_.data(), key_.size());
}

Result<std::size_t> RecordReader::feed(std::string_view in, Record& record, bool& got) {
  got = false;
  std::size_t used = 0;
  while (!got && st_ != State::ended && st_ != State::failed) {
    auto n = step(in.substr(used), record, got);
    if (!n) {
      st_ = State::failed;
      return std::move(n).error();
    }
    if (*n == 0) break;
    used += *n;
  }
  if (st_ == State::ended && !got && used < in.size()) {
    st_ = State::failed;
    return broken("bytes after the final record");
  }
  if (st_ == State::failed) return broken("the stream failed earlier");
  return used;
}

// Gathers the bytes of the current part into pending_; decrypts it whole.
Result<std::size_t> RecordReader::step(std::string_view in, Record& record, bool& got) {
  std::size_t part = st_ == State::header   ? crypto_secretstream_xchacha20poly1305_HEADERBYTES
                     : st_ == State::length ? kLengthChunk
                                            : std::size_t{length_} + kA;
  std::size_t take = std::min(part - pending_.size(), in.size());
  if (take == 0) return std::size_t{0};
  pending_.append(in.substr(0, take));
  if (pending_.size() < part) return take;

  unsigned char tag = 0;
  if (st_ == State::header) {
    if (crypto_secretstream_xchacha20poly1305_init_pull(&state_, ubytes(pending_), key_.data()) !=
        0)
      return broken("bad stream header");
    st_ = State::length;
  } else if (st_ == State::length) {
    unsigned char length[4];
    if (crypto_secretstream_xchacha20poly1305_pull(&state_, length, nullptr, &tag, ubytes(pending_),
                                                   pending_.size(), nullptr, 0) != 0 ||
        tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
      return broken("a record was altered, reordered, repeated or dropped");
    length_ = (std::uint32_t{length[0]} << 24) | (std::uint32_t{length[1]} << 16) |
              (std::uint32_t{length[2]} << 8) | length[3];
    // Checked before the body is read or any room made for it.
    if (length_ > kMaxRecordBytes)
      return broken(
          fmt::format("the peer announced a {}-byte record (limit {})", length_, kMaxRecordBytes));
    st_ = State::body;
  } else {
    record.payload.resize(length_);
    if (crypto_secretstream_xchacha20poly1305_pull(&state_, ubytes(record.payload), nullptr, &tag,
                                                   ubytes(pending_), pending_.size(), nullptr,
                                                   0) != 0)
      return broken("a record was altered, reordered, repeated or dropped");
    record.final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (!record.final && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
      return broken("unexpected record tag");
    got = true;
    st_ = record.final ? State::ended : State::length;
    ended_ = record.final;
  }
  pending_.clear();
  return take;
}

}  // namespace blk::wire
