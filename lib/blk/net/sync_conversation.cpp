#include "blk/net/sync_conversation.hpp"

#include "blk/identity.hpp"

namespace blk::net {

Result<void> SyncConversation::on_established(wire::Channel& channel) {
  const auto& key = channel.handshake().peer_key();
  peer_id_ =
      machine_id_for(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  session_ = std::make_unique<sync::Session>(store_, peer_id_, role_, options_);
  BLK_TRY(noted(session_->start(steady_millis())));
  return send_queued(channel);
}

Result<void> SyncConversation::on_message(wire::Channel& channel, std::string_view message) {
  if (!session_) return make_error(Code::failure, "sync message before the handshake ended");
  // We stopped (watch): what the peer sent before it saw our end is dropped;
  // it offers that again next time.
  if (channel.finished()) return {};
  BLK_TRY(noted(session_->receive(message, steady_millis())));
  return send_queued(channel);
}

Result<void> SyncConversation::on_writable(wire::Channel& channel) {
  if (!session_) return {};
  BLK_TRY(noted(session_->pump(steady_millis())));
  return send_queued(channel);
}

Result<void> SyncConversation::on_wakeup(wire::Channel& channel) {
  if (stop_requested_ && session_ && !channel.finished()) return stop(channel);
  return on_writable(channel);
}

Millis SyncConversation::next_wakeup() const {
  if (stop_requested_) return 0;
  return session_ ? session_->next_wakeup() : INT64_MAX;
}

void SyncConversation::on_peer_finished(wire::Channel& channel) {
  // A watching sync has no natural end: either side may stop it cleanly.
  if (session_ && session_->watching()) {
    if (!channel.finished()) {
      auto r = stop(channel);
      if (!r && !error_) error_ = std::move(r).error();
    }
    return;
  }
  if (!complete() && !error_)
    error_ = make_error(Code::failure, "the peer ended the sync before it was complete");
  channel.finish();
}

Result<void> SyncConversation::stop(wire::Channel& channel) {
  BLK_TRY(session_->flush());
  BLK_TRY(send_queued(channel));
  channel.finish();
  stopped_cleanly_ = true;
  return {};
}

void SyncConversation::on_closed() {
  // A cut connection: keep what arrived and checked out (no cursor moves).
  // Not if the store could not be written: that would only wait for the
  // lock another 10 s, and fail again.
  if (session_ && !complete() && !store_unwritable_) {
    auto r = session_->flush();
    if (!r && !error_) error_ = std::move(r).error();
  }
}

Result<void> SyncConversation::noted(Result<void> r) {
  if (!r && (r.error().code == Code::store_locked || r.error().code == Code::store_readonly))
    store_unwritable_ = true;
  return r;
}

Result<void> SyncConversation::send_queued(wire::Channel& channel) {
  for (auto& m : session_->take_messages()) BLK_TRY(channel.send(m));
  if (session_->done() && !channel.finished()) channel.finish();
  return {};
}

}  // namespace blk::net
