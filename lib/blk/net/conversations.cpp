#include "blk/net/conversations.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <chrono>

#include "blk/sync/messages.hpp"
#include "blk/wire/message.hpp"

namespace blk::net {
namespace {
Millis steady_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Result<void> ServeConversation::on_message(wire::Channel& channel, std::string_view message) {
  if (sync_) return sync_->on_message(channel, message);
  auto m = wire::parse_message(message);
  if (!m) return std::move(m).error();
  if (m->type == static_cast<std::uint64_t>(wire::MessageType::ping)) {
    if (m->body.size() != 8) return make_error(Code::failure, "peer sent a malformed ping");
    return channel.send(wire::encode_message(wire::MessageType::pong, m->body));
  }
  if (m->type == static_cast<std::uint64_t>(sync::MessageType::hello)) {
    auto store = open_store_ ? open_store_() : make_error(Code::failure, "no store to sync");
    if (!store) return std::move(store).error();
    store_ = std::move(*store);
    sync_ = std::make_unique<SyncConversation>(*store_, options_, sync::Session::Role::responder);
    BLK_TRY(sync_->on_established(channel));
    return sync_->on_message(channel, message);
  }
  return make_error(Code::failure, fmt::format("peer sent an unknown message type {}", m->type));
}

void ServeConversation::on_peer_finished(wire::Channel& channel) {
  if (sync_)
    sync_->on_peer_finished(channel);
  else
    channel.finish();
}

Result<void> ServeConversation::on_writable(wire::Channel& channel) {
  return sync_ ? sync_->on_writable(channel) : Result<void>();
}

Result<void> ServeConversation::on_wakeup(wire::Channel& channel) {
  return sync_ ? sync_->on_wakeup(channel) : Result<void>();
}

Millis ServeConversation::next_wakeup() const {
  return sync_ ? sync_->next_wakeup() : INT64_MAX;
}

void ServeConversation::on_closed() {
  if (sync_) sync_->on_closed();
}

Result<void> PingConversation::on_established(wire::Channel& channel) {
  nonce_.resize(8);
  randombytes_buf(nonce_.data(), nonce_.size());
  sent_at_us_ = steady_micros();
  return channel.send(wire::encode_message(wire::MessageType::ping, nonce_));
}

Result<void> PingConversation::on_message(wire::Channel& channel, std::string_view message) {
  auto m = wire::parse_message(message);
  if (!m) return std::move(m).error();
  if (m->type != static_cast<std::uint64_t>(wire::MessageType::pong) || m->body != nonce_ ||
      rtt_ms_)
    return make_error(Code::failure, "peer answered the ping wrongly");
  rtt_ms_ = static_cast<double>(steady_micros() - sent_at_us_) / 1000.0;
  channel.finish();
  return {};
}

}  // namespace blk::net
