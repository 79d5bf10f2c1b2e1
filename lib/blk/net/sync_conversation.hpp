// Sync over a channel: drives a sync::Session (the sans-I/O core) from the
// session loop's events, on either side of the connection.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "blk/net/session.hpp"
#include "blk/store.hpp"
#include "blk/sync/session.hpp"

namespace blk::net {

class SyncConversation final : public Conversation {
 public:
  SyncConversation(Store& store, sync::Options options, sync::Session::Role role)
      : store_(store), options_(std::move(options)), role_(role) {}

  Result<void> on_established(wire::Channel& channel) override;
  Result<void> on_message(wire::Channel& channel, std::string_view message) override;
  void on_peer_finished(wire::Channel& channel) override;
  Result<void> on_writable(wire::Channel& channel) override;
  Result<void> on_wakeup(wire::Channel& channel) override;
  Millis next_wakeup() const override;
  void on_closed() override;

  // Ends a watching sync cleanly at the next wakeup: commit what arrived,
  // then the channel's final record.
  void request_stop() { stop_requested_ = true; }

  // The peer's machine id, once authenticated.
  const std::string& peer_id() const { return peer_id_; }
  // Set if the sync did not complete although the channel ended cleanly
  // (the peer stopped early), or if saving the last batch failed.
  const std::optional<Error>& error() const { return error_; }
  // The sync did all it should: both sides done, or (watch) a clean end.
  bool complete() const { return session_ && (session_->done() || stopped_cleanly_); }
  const sync::Session* session() const { return session_.get(); }

 private:
  Result<void> send_queued(wire::Channel& channel);
  Result<void> stop(wire::Channel& channel);
  // Returns `r`, noting a failure to write the store.
  Result<void> noted(Result<void> r);

  Store& store_;
  sync::Options options_;
  sync::Session::Role role_;
  std::string peer_id_;
  std::unique_ptr<sync::Session> session_;
  std::optional<Error> error_;
  bool stop_requested_ = false;
  bool stopped_cleanly_ = false;
  bool store_unwritable_ = false;  // a commit failed: the store is locked or read-only
};

}  // namespace blk::net
