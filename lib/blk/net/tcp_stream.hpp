// A TCP socket as a Stream; shared by tcp.cpp and ws.cpp (which dials TCP
// before its upgrade). Private to lib/blk/net.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "blk/net/stream.hpp"

namespace blk::net {

class TcpStream final : public Stream {
 public:
  explicit TcpStream(asio::ip::tcp::socket s) : socket_(std::move(s)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override;
  asio::awaitable<void> write_all(asio::const_buffer buf) override;
  void close() override;
  std::string remote() const override;

 private:
  asio::ip::tcp::socket socket_;
};

// A listening TCP socket; tcp:// and ws:// listeners are built on it.
class TcpAcceptor {
 public:
  // Binds and listens; throws on failure (port in use, bad host).
  TcpAcceptor(const Executor& ex, const std::string& host, std::uint16_t port);
  asio::awaitable<asio::ip::tcp::socket> accept();
  std::string local() const;  // the bound address, with the real port if 0 was asked
  void close();

 private:
  asio::ip::tcp::acceptor acceptor_;
};

// "127.0.0.1:7420", "[::1]:7420"
std::string endpoint_text(const asio::ip::tcp::endpoint& ep);

// Resolves and connects, trying each address; TCP_NODELAY on.
asio::awaitable<asio::ip::tcp::socket> dial_tcp(const std::string& host, std::uint16_t port);

}  // namespace blk::net
