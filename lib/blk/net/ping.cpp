#include "blk/net/ping.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "blk/net/conversations.hpp"
#include "blk/net/peers.hpp"
#include "blk/net/session.hpp"
#include "blk/net/stream.hpp"

namespace blk::net {

namespace ping_impl {

asio::awaitable<Result<PingResult>> ping_one(const KeyPair& keys, const Manifest& manifest,
                                             const Peer* expected, const Address& address,
                                             const wire::ChannelLimits& limits) {
  auto stream = co_await dial(address);
  if (!stream) co_return std::move(stream).error();
  wire::HandshakeConfig hc;
  hc.role = wire::Role::initiator;
  hc.self = &keys;
  hc.accept = accept_from_manifest(manifest, expected);
  wire::Channel channel(std::move(hc), limits, steady_millis());
  PingConversation conversation;
  auto r = co_await run_session(**stream, channel, conversation);
  if (!r)
    co_return make_error(r.error().code,
                         fmt::format("{}: {}", to_string(address), r.error().message));
  if (!conversation.rtt_ms())
    co_return make_error(Code::failure,
                         fmt::format("{}: the peer ended without answering", to_string(address)));
  PingResult out;
  out.key = channel.handshake().peer_key();
  out.peer = peer_label(manifest, out.key);
  out.address = to_string(address);
  out.version = channel.handshake().version();
  out.rtt_ms = *conversation.rtt_ms();
  co_return out;
}

}  // namespace ping_impl

Result<PingResult> ping(const KeyPair& keys, const Manifest& manifest, const std::string& target,
                        const wire::ChannelLimits& limits) {
  auto t = resolve_target(manifest, target);
  if (!t) return std::move(t).error();
  asio::io_context io;
  Result<PingResult> result = make_error(Code::failure, "no address tried");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const Address& a : t->addresses) {
          result = co_await ping_impl::ping_one(keys, manifest, t->peer, a, limits);
          if (result) break;
        }
      },
      asio::detached);
  io.run();
  return result;
}

}  // namespace blk::net
