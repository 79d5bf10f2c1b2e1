// What blk says over an authenticated channel. For now: ping and pong, the
// proof that a peer is set up right. Sync's conversation joins it here.
#pragma once

#include <optional>
#include <string>

#include "blk/net/session.hpp"

namespace blk::net {

// The answering side: a pong for every ping.
class ServeConversation final : public Conversation {
 public:
  Result<void> on_message(wire::Channel& channel, std::string_view message) override;
};

// The asking side: one ping once authenticated, then a clean end.
class PingConversation final : public Conversation {
 public:
  Result<void> on_established(wire::Channel& channel) override;
  Result<void> on_message(wire::Channel& channel, std::string_view message) override;
  std::optional<double> rtt_ms() const { return rtt_ms_; }

 private:
  std::string nonce_;
  Millis sent_at_us_ = 0;
  std::optional<double> rtt_ms_;
};

}  // namespace blk::net
