#include "blk/net/server.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "blk/net/conversations.hpp"
#include "blk/net/peers.hpp"
#include "blk/net/session.hpp"
#include "blk/net/stream.hpp"

namespace blk::net {
namespace server_impl {

class Server {
 public:
  Server(const ServerConfig& config, asio::io_context& io) : config_(config), io_(io) {}

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
    wire::HandshakeConfig hc;
    hc.role = wire::Role::responder;
    hc.self = &config_.keys;
    hc.accept = accept_from_manifest(config_.manifest);
    wire::Channel channel(std::move(hc), config_.limits, steady_millis());
    struct Answer final : Conversation {
      Server& server;
      std::string who;
      bool counted = true;
      ServeConversation serve;
      Answer(Server& s, std::string w) : server(s), who(std::move(w)) {}
      Result<void> on_established(wire::Channel& ch) override {
        --server.handshaking_;
        counted = false;
        server.log(fmt::format("[{}] authenticated as {} (protocol {})", who,
                               peer_label(server.config_.manifest, ch.handshake().peer_key()),
                               ch.handshake().version()));
        return {};
      }
      Result<void> on_message(wire::Channel& ch, std::string_view m) override {
        return serve.on_message(ch, m);
      }
    } answer(*this, who);
    auto result = co_await run_session(*stream, channel, answer);
    if (answer.counted) --handshaking_;
    if (result)
      log(fmt::format("[{}] closed", who));
    else
      log(fmt::format("[{}] {}", who, result.error().message));
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

  const ServerConfig& config_;
  asio::io_context& io_;
  std::size_t handshaking_ = 0;
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

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    server.log(fmt::format("stopping on {}", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    for (auto& l : listeners) l->close();
    io.stop();
  });
  for (const auto& w : where) server.log(fmt::format("listening on {}", w));
  if (config.on_listening) config.on_listening(where);
  io.run();
  return {};
}

}  // namespace blk::net
