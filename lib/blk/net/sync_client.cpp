#include "blk/net/sync_client.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "blk/identity.hpp"
#include "blk/net/peers.hpp"
#include "blk/net/session.hpp"
#include "blk/net/stream.hpp"
#include "blk/net/sync_conversation.hpp"

namespace blk::net {

namespace sync_client_impl {

std::string id_of(const Peer& p) {
  return machine_id_for(
      std::string_view(reinterpret_cast<const char*>(p.public_key.data()), p.public_key.size()));
}

// The conversations running now, so a signal can stop each cleanly.
using Live = std::vector<SyncConversation*>;

asio::awaitable<Result<SyncResult>> sync_one(Store& store, const KeyPair& keys,
                                             const Manifest& manifest, const SyncTarget& target,
                                             const Address& address, const sync::Options& options,
                                             const wire::ChannelLimits& limits, Live* live) {
  Millis started = steady_millis();
  auto stream = co_await dial(address);
  if (!stream) {
    if (target.peer)
      (void)store.record_sync_attempt(id_of(*target.peer), now_millis(), stream.error().message, 0);
    co_return std::move(stream).error();
  }
  wire::HandshakeConfig hc;
  hc.role = wire::Role::initiator;
  hc.self = &keys;
  hc.accept = accept_from_manifest(manifest, target.peer);
  wire::Channel channel(std::move(hc), limits, steady_millis());
  SyncConversation conversation(store, options, sync::Session::Role::initiator);
  if (live) live->push_back(&conversation);
  auto r = co_await run_session(**stream, channel, conversation);
  if (live) std::erase(*live, &conversation);
  if (r && conversation.error()) r = *conversation.error();
  if (r && !conversation.complete())
    r = make_error(Code::failure, "the peer ended the connection before the sync was complete");
  SyncResult out;
  if (channel.established()) {
    out.peer = peer_label(manifest, channel.handshake().peer_key());
    out.peer_id = conversation.peer_id();
  }
  if (const auto* s = conversation.session()) {
    out.stats = s->stats();
    out.peer_has = s->peer_has();
  }
  // Whatever happened, the store remembers it for `blk status` (under the
  // manifest peer's id if the handshake did not get far enough to tell).
  if (out.peer_id.empty() && target.peer) out.peer_id = id_of(*target.peer);
  // Not when the store could not be written: recording would wait for the
  // lock (10 s) again, and fail.
  bool unwritable =
      !r && (r.error().code == Code::store_locked || r.error().code == Code::store_readonly);
  if (!out.peer_id.empty() && !unwritable)
    (void)store.record_sync_attempt(out.peer_id, now_millis(), r ? "" : r.error().message,
                                    out.peer_has);
  if (!r)
    co_return make_error(r.error().code,
                         fmt::format("{}: {}", to_string(address), r.error().message));
  out.address = to_string(address);
  out.seconds = static_cast<double>(steady_millis() - started) / 1000.0;
  co_return out;
}

asio::awaitable<Result<SyncResult>> sync_any(Store& store, const KeyPair& keys,
                                             const Manifest& manifest, const SyncTarget& target,
                                             const sync::Options& options,
                                             const wire::ChannelLimits& limits,
                                             Live* live = nullptr) {
  Result<SyncResult> result = make_error(Code::failure, "no address tried");
  for (const Address& a : target.addresses) {
    result = co_await sync_one(store, keys, manifest, target, a, options, limits, live);
    if (result) break;
  }
  co_return result;
}

}  // namespace sync_client_impl

Result<SyncResult> sync_once(Store& store, const KeyPair& keys, const Manifest& manifest,
                             const SyncTarget& target, const sync::Options& options,
                             const wire::ChannelLimits& limits) {
  asio::io_context io;
  Result<SyncResult> result = make_error(Code::failure, "no address tried");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result =
            co_await sync_client_impl::sync_any(store, keys, manifest, target, options, limits);
      },
      asio::detached);
  io.run();
  return result;
}

Result<void> sync_watch(Store& store, const KeyPair& keys, const Manifest& manifest,
                        const std::vector<SyncTarget>& targets, const sync::Options& options,
                        const wire::ChannelLimits& limits, const SyncReport& report) {
  asio::io_context io;
  bool stopping = false;
  sync_client_impl::Live live;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io);
  std::size_t running = targets.size();
  for (const SyncTarget& target : targets) {
    auto& timer = timers.emplace_back(std::make_unique<asio::steady_timer>(io));
    asio::co_spawn(
        io,
        [&, t = timer.get()]() -> asio::awaitable<void> {
          Millis backoff = 1000;
          while (!stopping) {
            Millis started = steady_millis();
            auto r = co_await sync_client_impl::sync_any(store, keys, manifest, target, options,
                                                         limits, &live);
            report(target, r);
            if (stopping) break;
            // A connection that lasted resets the backoff; quick failures grow it.
            backoff =
                steady_millis() - started > 60'000 ? 1000 : std::min<Millis>(backoff * 2, 60'000);
            t->expires_after(std::chrono::milliseconds(backoff));
            boost::system::error_code ec;
            co_await t->async_wait(asio::redirect_error(asio::use_awaitable, ec));
          }
          if (--running == 0) {  // all stopped: nothing left to wait for
            deadline.cancel();
            signals.cancel();
          }
        },
        asio::detached);
  }
  // A signal ends each connection cleanly (what arrived is committed, both
  // sides record a good sync); a peer that does not answer within 5 s is cut.
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    stopping = true;
    for (auto* c : live) c->request_stop();
    for (auto& t : timers) t->cancel();
    deadline.expires_after(std::chrono::seconds(5));
    deadline.async_wait([&](const boost::system::error_code& e) {
      if (!e) io.stop();
    });
  });
  io.run();
  return {};
}

}  // namespace blk::net
