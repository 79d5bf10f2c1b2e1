// A channel: the whole conversation with one peer over one byte stream —
// hello, handshake, then records carrying messages — as a sans-I/O state
// machine. It is fed bytes and the time and hands back bytes to send, so the
// same code runs over sockets, pipes and the deterministic simulator.
//
// Deadlines (ChannelLimits) are checked by tick(now): the handshake as a
// whole, each record once its first byte arrived, and silence from the peer.
// Keepalives (empty records) go out when we have been quiet.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "blk/block.hpp"
#include "blk/error.hpp"
#include "blk/wire/handshake.hpp"
#include "blk/wire/records.hpp"

namespace blk::wire {

struct ChannelLimits {
  Millis handshake = 10'000;  // from the first byte to authenticated, in total
  Millis record = 30'000;     // from a record's first byte to its last
  Millis idle = 90'000;       // nothing at all from the peer for this long
  Millis keepalive = 30'000;  // send an empty record after this long quiet
};

class Channel {
 public:
  Channel(HandshakeConfig config, ChannelLimits limits, Millis now);

  // Bytes from the peer. An error is final: send nothing more, close.
  Result<void> receive(std::string_view bytes, Millis now);

  // Checks the deadlines and queues a keepalive if due. An error is final.
  Result<void> tick(Millis now);

  // When tick() should next be called.
  Millis next_deadline() const;

  // Queues one message (non-empty). Messages sent before the handshake is
  // done wait for it. Code::invalid_input if over kMaxRecordBytes.
  Result<void> send(std::string_view message);

  // Queues the final record: a clean end. Nothing is sent after it.
  void finish();

  // Bytes to write to the peer now (`now` restarts the keepalive clock).
  std::string take_output(Millis now);

  // True if take_output() would return bytes.
  bool has_output() const {
    return !failed_ && (!out_.empty() || (!handshake_.done() && handshake_.has_output()));
  }

  // The next message from the peer, if one has arrived.
  std::optional<std::string> next_message();

  bool established() const { return handshake_.done(); }
  // The peer has accepted us too: its first record bytes arrived. (The
  // initiator's handshake is done before the responder has checked msg3.)
  bool peer_accepted() const { return reader_ && reader_->started(); }
  bool finished() const { return finished_; }            // we sent our final record
  bool peer_finished() const { return peer_finished_; }  // the peer sent its final record
  const Handshake& handshake() const { return handshake_; }

 private:
  Result<void> start_records();
  Result<void> read_records(std::string_view bytes);

  Handshake handshake_;
  ChannelLimits limits_;
  Millis started_, last_received_, last_sent_;
  std::optional<Millis> record_started_;
  std::unique_ptr<RecordWriter> writer_;
  std::unique_ptr<RecordReader> reader_;
  std::string out_;
  std::deque<std::string> pending_sends_, inbox_;
  bool finished_ = false, finish_requested_ = false, peer_finished_ = false;
  bool failed_ = false;
};

}  // namespace blk::wire
