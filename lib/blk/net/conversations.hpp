// What blk says over an authenticated channel: ping/pong (the proof that a
// peer is set up right) and sync (sync_conversation.hpp). The answering
// side learns which from the first message.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "blk/net/session.hpp"
#include "blk/net/sync_conversation.hpp"
#include "blk/store.hpp"

namespace blk::net {

using StoreOpener = std::function<Result<std::unique_ptr<Store>>()>;

// The answering side: a pong for every ping; a sync hello starts a sync
// (with the store opened then, so a server holds no store between syncs).
class ServeConversation : public Conversation {
 public:
  ServeConversation(StoreOpener open_store, sync::Options options)
      : open_store_(std::move(open_store)), options_(std::move(options)) {}

  Result<void> on_message(wire::Channel& channel, std::string_view message) override;
  void on_peer_finished(wire::Channel& channel) override;
  Result<void> on_writable(wire::Channel& channel) override;
  Result<void> on_wakeup(wire::Channel& channel) override;
  Millis next_wakeup() const override;
  void on_closed() override;

  // The sync this connection carried, if it was one.
  const SyncConversation* sync() const { return sync_.get(); }
  Store* store() const { return store_.get(); }

 private:
  StoreOpener open_store_;
  sync::Options options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SyncConversation> sync_;
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
