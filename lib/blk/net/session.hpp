// Runs a sans-I/O Channel over a Stream: reads feed the channel, its output
// is written as it appears (reading and writing at the same time, so two
// peers streaming at once never wait on each other), and a timer calls
// tick() for the channel's deadlines. What to say is the Conversation's.
#pragma once

#include <string_view>

#include "blk/error.hpp"
#include "blk/net/stream.hpp"
#include "blk/wire/channel.hpp"

namespace blk::net {

class Conversation {
 public:
  virtual ~Conversation() = default;
  // The peer is authenticated (channel.handshake().peer_key()).
  virtual Result<void> on_established(wire::Channel&) { return {}; }
  // One message from the peer; an error ends the session.
  virtual Result<void> on_message(wire::Channel& channel, std::string_view message) = 0;
  // The peer ended cleanly; by default we end too.
  virtual void on_peer_finished(wire::Channel& channel) { channel.finish(); }
  // Everything queued has been written: the moment to say more, so a
  // conversation with much to send never runs ahead of the connection.
  virtual Result<void> on_writable(wire::Channel&) { return {}; }
  // Called once steady_millis() reaches next_wakeup().
  virtual Result<void> on_wakeup(wire::Channel&) { return {}; }
  virtual Millis next_wakeup() const { return INT64_MAX; }
  // The session is over, cleanly or not: the last chance to keep work done.
  virtual void on_closed() {}
};

// A monotonic clock in milliseconds, for channel deadlines.
Millis steady_millis();

// Runs until both sides have finished cleanly (ok), or the stream breaks,
// a deadline passes, the peer misbehaves, or the conversation fails (error).
// The stream is closed when it returns.
asio::awaitable<Result<void>> run_session(Stream& stream, wire::Channel& channel,
                                          Conversation& conversation);

}  // namespace blk::net
