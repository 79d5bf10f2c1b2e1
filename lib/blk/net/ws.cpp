// ws://HOST:PORT/PATH — binary WebSocket messages carrying the same byte
// stream as tcp://, so a browser can be a peer.
#include <fmt/format.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "blk/net/stream.hpp"
#include "blk/net/tcp_stream.hpp"

namespace blk::net {
namespace ws_transport {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::use_awaitable;
using asio::ip::tcp;

class WsStream final : public Stream {
 public:
  WsStream(websocket::stream<tcp::socket> ws, std::string remote)
      : ws_(std::move(ws)), remote_(std::move(remote)) {
    ws_.binary(true);
    // Records are at most ~16 MiB; a frame above that is not ours.
    ws_.read_message_max(32u << 20);
  }
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    boost::system::error_code ec;
    std::size_t n = co_await ws_.async_read_some(buf, asio::redirect_error(use_awaitable, ec));
    if (ec == websocket::error::closed || ec == asio::error::eof) co_return 0;
    if (ec) throw boost::system::system_error(ec);
    if (n == 0 && ws_.is_message_done()) co_return co_await read_some(buf);  // empty message
    co_return n;
  }
  asio::awaitable<void> write_all(asio::const_buffer buf) override {
    co_await ws_.async_write(buf, use_awaitable);
  }
  void close() override {
    boost::system::error_code ec;
    beast::get_lowest_layer(ws_).shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close(ec);
  }
  std::string remote() const override { return remote_; }

 private:
  websocket::stream<tcp::socket> ws_;
  std::string remote_;
};

class WsListener final : public Listener {
 public:
  WsListener(const Executor& ex, const Address& a) : acceptor_(ex, a.host, a.port), path_(a.path) {}
  asio::awaitable<std::unique_ptr<Stream>> accept() override {
    tcp::socket socket = co_await acceptor_.accept();
    std::string remote = endpoint_text(socket.remote_endpoint());
    beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    co_await http::async_read(socket, buffer, request, use_awaitable);
    if (!websocket::is_upgrade(request) || request.target() != path_) {
      http::response<http::string_body> res{http::status::not_found, request.version()};
      res.body() = "blk: not a blk WebSocket endpoint\n";
      res.prepare_payload();
      co_await http::async_write(socket, res, use_awaitable);
      throw std::runtime_error(fmt::format("{} asked for {} (not a WebSocket upgrade to {})",
                                           remote, std::string(request.target()), path_));
    }
    websocket::stream<tcp::socket> ws(std::move(socket));
    co_await ws.async_accept(request, use_awaitable);
    co_return std::make_unique<WsStream>(std::move(ws), remote);
  }
  std::string where() const override { return "ws://" + acceptor_.local() + path_; }
  void close() override { acceptor_.close(); }

 private:
  TcpAcceptor acceptor_;
  std::string path_;
};

}  // namespace ws_transport

asio::awaitable<std::unique_ptr<Stream>> connect_ws(const Address& a) {
  using namespace ws_transport;
  auto socket = co_await dial_tcp(a.host, a.port);
  std::string remote = endpoint_text(socket.remote_endpoint());
  websocket::stream<tcp::socket> ws(std::move(socket));
  std::string host = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
  co_await ws.async_handshake(fmt::format("{}:{}", host, a.port), a.path, use_awaitable);
  co_return std::make_unique<WsStream>(std::move(ws), remote);
}

std::unique_ptr<Listener> listen_ws(const Executor& ex, const Address& a) {
  return std::make_unique<ws_transport::WsListener>(ex, a);
}

}  // namespace blk::net
