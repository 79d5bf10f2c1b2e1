#include "blk/net/conversations.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <chrono>

#include "blk/wire/message.hpp"

namespace blk::net {
namespace {
Millis steady_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Result<void> ServeConversation::on_message(wire::Channel& channel, std::string_view message) {
  auto m = wire::parse_message(message);
  if (!m) return std::move(m).error();
  if (m->type == static_cast<std::uint64_t>(wire::MessageType::ping)) {
    if (m->body.size() != 8) return make_error(Code::failure, "peer sent a malformed ping");
    return channel.send(wire::encode_message(wire::MessageType::pong, m->body));
  }
  return make_error(Code::failure, fmt::format("peer sent an unknown message type {}", m->type));
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
