#include "blk/net/server.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "blk/net/conversations.hpp"
#include "blk/net/peers.hpp"
#include "blk/net/session.hpp"
#include "blk/net/stream.hpp"
#include "blk/permissions.hpp"

namespace blk::net {
namespace server_impl {
// The store a sync opens checks what it receives against the manifest the
// connection started with (permissions.hpp).
StoreOpener with_write_policy(StoreOpener open, std::shared_ptr<const Manifest> m) {
  return [open = std::move(open), m = std::move(m)]() -> Result<std::unique_ptr<Store>> {
    auto store = open();
    if (!store) return store;
    auto self = (*store)->identity();
    if (!self) return std::move(self).error();
    apply_write_policy(**store, *m, self->machine_id);
    return store;
  };
}

sync::Options options_for(const Manifest& m) {
  sync::Options o;
  o.prioritize(m.sync_priority);
  return o;
}

class Server {
 public:
  Server(const ServerConfig& config, asio::io_context& io)
      : config_(config), io_(io), manifest_(std::make_shared<const Manifest>(config.manifest)) {
    if (!config_.manifest_path.empty()) manifest_stamp_ = stamp_of(config_.manifest_path);
  }

  void log(const std::string& line) {
    if (config_.log) config_.log(line);
  }

  // One connection, start to end: the handshake counts against the cap.
  asio::awaitable<Result<void>> handle(std::unique_ptr<Stream> stream) {
    std::string who = stream->remote();
    if (handshaking_ >= config_.max_handshaking) {
      log(fmt::format("[{}] refused: {} connections already in their handshake", who,
                      handshaking_));
      stream->close();
      co_return Result<void>();
    }
    ++handshaking_;
    log(fmt::format("[{}] connected", who));
    // The connection keeps the manifest it started with, even if it changes.
    std::shared_ptr<const Manifest> manifest = current_manifest();
    wire::HandshakeConfig hc;
    hc.role = wire::Role::responder;
    hc.self = &config_.keys;
    hc.accept = accept_from_manifest(*manifest);
    wire::Channel channel(std::move(hc), config_.limits, steady_millis());
    struct Answer final : ServeConversation {
      Server& server;
      std::string who;
      bool counted = true;
      std::shared_ptr<const Manifest> manifest;
      Answer(Server& s, std::string w, std::shared_ptr<const Manifest> m)
          : ServeConversation(with_write_policy(s.config_.open_store, m), options_for(*m)),
            server(s),
            who(std::move(w)),
            manifest(std::move(m)) {}
      Result<void> on_established(wire::Channel& ch) override {
        --server.handshaking_;
        counted = false;
        name = peer_label(*manifest, ch.handshake().peer_key());
        server.log(fmt::format("[{}] authenticated as {} (protocol {})", who, name,
                               ch.handshake().version()));
        return {};
      }
      std::string name;
    } answer(*this, who, manifest);
    auto result = co_await run_session(*stream, channel, answer);
    if (answer.counted) --handshaking_;
    if (result && answer.sync() && answer.sync()->error()) result = *answer.sync()->error();
    if (const SyncConversation* sync = answer.sync(); sync && sync->session()) {
      // The answering side keeps `blk status` too: when each peer last synced.
      std::string error = result ? "" : result.error().message;
      (void)answer.store()->record_sync_attempt(sync->peer_id(), now_millis(), error,
                                                sync->session()->peer_has());
      if (result)
        log(fmt::format("[{}] synced with {}: {}", who, answer.name,
                        sync::summary(sync->session()->stats())));
    }
    if (result)
      log(fmt::format("[{}] closed", who));
    else
      log(fmt::format("[{}] {}", who, result.error().message));
    // The store's folder is gone (removed while we ran): no peer can sync
    // again, so stop with that error rather than refuse every one.
    if (!result && result.error().code == Code::no_store && !gone_) {
      gone_ = result.error();
      if (stop_) stop_();
    }
    co_return result;
  }

  asio::awaitable<void> accept_loop(Listener& listener) {
    for (;;) {
      std::unique_ptr<Stream> stream;
      try {
        stream = co_await listener.accept();
      } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) co_return;  // stopping
        log(fmt::format("{}: {}", listener.where(), e.what()));
        continue;
      } catch (const std::exception& e) {  // a failed WebSocket upgrade
        log(fmt::format("{}: refused: {}", listener.where(), e.what()));
        continue;
      }
      asio::co_spawn(
          io_,
          [this, s = std::move(stream)]() mutable -> asio::awaitable<void> {
            (void)co_await handle(std::move(s));
          },
          asio::detached);
    }
  }

  // Size, inode and modification time: a rewrite (peer add renames a new
  // file into place) changes at least one.
  static std::string stamp_of(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return {};
    return fmt::format("{}:{}:{}.{}", st.st_size, st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  }

  std::shared_ptr<const Manifest> current_manifest() {
    if (config_.manifest_path.empty()) return manifest_;
    std::string stamp = stamp_of(config_.manifest_path);
    if (stamp == manifest_stamp_) return manifest_;
    manifest_stamp_ = stamp;
    auto m = load_manifest(config_.manifest_path);
    if (!m) {
      log(fmt::format("keeping the last good manifest: {}", m.error().message));
      return manifest_;
    }
    log(fmt::format("manifest changed: {} peer{}", m->peers.size(),
                    m->peers.size() == 1 ? "" : "s"));
    manifest_ = std::make_shared<const Manifest>(std::move(*m));
    return manifest_;
  }

  const ServerConfig& config_;
  asio::io_context& io_;
  std::function<void()> stop_;  // stops listening and the loop
  std::optional<Error> gone_;   // why the store can no longer be served
  std::size_t handshaking_ = 0;
  std::shared_ptr<const Manifest> manifest_;
  std::string manifest_stamp_;
};

}  // namespace server_impl

Result<void> serve(const ServerConfig& config) {
  asio::io_context io;
  server_impl::Server server(config, io);
  if (config.stdio) {
    Result<void> result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          result = co_await server.handle(stdio_stream(io.get_executor()));
        },
        asio::detached);
    io.run();
    return result;
  }

  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::string> where;
  for (const Address& a : config.listen) {
    try {
      listeners.push_back(listen(io.get_executor(), a));
    } catch (const std::exception& e) {
      return make_error(Code::failure,
                        fmt::format("cannot listen on {}: {}", to_string(a), e.what()));
    }
    where.push_back(listeners.back()->where());
  }
  if (listeners.empty())
    return make_error(Code::usage,
                      "nothing to listen on: give --listen ADDRESS, or set listen in the manifest");
  for (auto& l : listeners) asio::co_spawn(io, server.accept_loop(*l), asio::detached);

  server.stop_ = [&] {
    for (auto& l : listeners) l->close();
    io.stop();
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    server.log(fmt::format("stopping on {}", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    server.stop_();
  });
  for (const auto& w : where) server.log(fmt::format("listening on {}", w));
  if (config.on_listening) config.on_listening(where);
  io.run();
  if (server.gone_) return *server.gone_;
  return {};
}

}  // namespace blk::net
