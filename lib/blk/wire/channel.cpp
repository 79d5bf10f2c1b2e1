#include "blk/wire/channel.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace blk::wire {

Channel::Channel(HandshakeConfig config, ChannelLimits limits, Millis now)
    : handshake_(std::move(config)),
      limits_(limits),
      started_(now),
      last_received_(now),
      last_sent_(now) {}

Result<void> Channel::receive(std::string_view bytes, Millis now) {
  if (failed_) return make_error(Code::failure, "the channel failed earlier");
  last_received_ = now;
  if (!handshake_.done()) {
    auto fed = handshake_.feed(bytes);
    if (!fed) {
      failed_ = true;
      return fed;
    }
    if (!handshake_.done()) return {};
    BLK_TRY(start_records());
    std::string rest = handshake_.take_leftover();
    if (!rest.empty()) {
      auto r = read_records(rest);
      if (!r) failed_ = true;
      return r;
    }
    return {};
  }
  auto r = read_records(bytes);
  if (!r) failed_ = true;
  return r;
}

Result<void> Channel::start_records() {
  writer_ = std::make_unique<RecordWriter>(handshake_.send_key());
  reader_ = std::make_unique<RecordReader>(handshake_.receive_key());
  out_ += handshake_.take_output();  // msg3, for the initiator
  out_ += writer_->take_header();
  while (!pending_sends_.empty()) {
    BLK_TRY(writer_->write(pending_sends_.front(), false, out_));
    pending_sends_.pop_front();
  }
  if (finish_requested_) finish();
  return {};
}

Result<void> Channel::read_records(std::string_view bytes) {
  while (!bytes.empty()) {
    if (peer_finished_)
      return make_error(Code::failure, "connection broken: bytes after the final record");
    RecordReader::Record rec;
    bool got = false;
    auto n = reader_->feed(bytes, rec, got);
    if (!n) return std::move(n).error();
    bytes.remove_prefix(*n);
    if (got) {
      record_started_.reset();  // this record is whole; the next one's clock starts below
      if (rec.final)
        peer_finished_ = true;
      else if (!rec.payload.empty())
        inbox_.push_back(std::move(rec.payload));
    }
    if (*n == 0) break;
  }
  // The per-record clock runs from the first byte of a record to its last:
  // a read that ends inside a record started that record's clock now, unless
  // an earlier read had already begun it.
  if (reader_->between_records())
    record_started_.reset();
  else if (!record_started_)
    record_started_ = last_received_;
  return {};
}

Result<void> Channel::tick(Millis now) {
  if (failed_) return make_error(Code::failure, "the channel failed earlier");
  auto fail = [&](std::string why) {
    failed_ = true;
    out_.clear();
    return make_error(Code::failure, why);
  };
  if (!handshake_.done() && now - started_ > limits_.handshake)
    return fail(fmt::format("handshake not done within {} s", limits_.handshake / 1000));
  if (record_started_ && now - *record_started_ > limits_.record)
    return fail(fmt::format("a record took over {} s to arrive", limits_.record / 1000));
  if (now - last_received_ > limits_.idle && !peer_finished_)
    return fail(fmt::format("the peer was silent for {} s", limits_.idle / 1000));
  if (writer_ && !finished_ && now - last_sent_ >= limits_.keepalive)
    BLK_TRY(writer_->write("", false, out_));  // a keepalive: an empty record
  return {};
}

Millis Channel::next_deadline() const {
  Millis next = last_received_ + limits_.idle;
  if (!handshake_.done()) next = std::min(next, started_ + limits_.handshake);
  if (record_started_) next = std::min(next, *record_started_ + limits_.record);
  if (writer_ && !finished_) next = std::min(next, last_sent_ + limits_.keepalive);
  return next + 1;
}

Result<void> Channel::send(std::string_view message) {
  if (finished_ || finish_requested_)
    return make_error(Code::failure, "the channel is finished; nothing more can be sent");
  if (message.empty()) return make_error(Code::invalid_input, "a message cannot be empty");
  if (message.size() > kMaxRecordBytes)
    return make_error(Code::invalid_input,
                      fmt::format("a {}-byte message is over the record limit", message.size()));
  if (!writer_) {
    pending_sends_.emplace_back(message);
    return {};
  }
  return writer_->write(message, false, out_);
}

void Channel::finish() {
  if (finished_) return;
  finish_requested_ = true;
  if (!writer_) return;
  (void)writer_->write("", true, out_);
  finished_ = true;
}

std::string Channel::take_output(Millis now) {
  if (failed_) return {};
  std::string out;
  if (!handshake_.done()) out = handshake_.take_output();
  if (out.empty())
    out.swap(out_);  // the common case: hand over, no copy
  else
    out += out_;
  out_.clear();
  if (!out.empty()) last_sent_ = now;
  return out;
}

std::optional<std::string> Channel::next_message() {
  if (inbox_.empty()) return std::nullopt;
  std::string m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

}  // namespace blk::wire
