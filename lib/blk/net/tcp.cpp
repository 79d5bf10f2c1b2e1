// tcp://HOST:PORT
#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "blk/net/stream.hpp"
#include "blk/net/tcp_stream.hpp"

namespace blk::net {

using asio::use_awaitable;
using asio::ip::tcp;

namespace tcp_transport {

class TcpListener final : public Listener {
 public:
  TcpListener(const Executor& ex, const Address& a) : acceptor_(ex, a.host, a.port) {}
  asio::awaitable<std::unique_ptr<Stream>> accept() override {
    co_return std::make_unique<TcpStream>(co_await acceptor_.accept());
  }
  std::string where() const override { return "tcp://" + acceptor_.local(); }
  void close() override { acceptor_.close(); }

 private:
  TcpAcceptor acceptor_;
};

}  // namespace tcp_transport

TcpAcceptor::TcpAcceptor(const Executor& ex, const std::string& host, std::uint16_t port)
    : acceptor_(ex) {
  tcp::resolver resolver(ex);
  auto ep =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive).begin()->endpoint();
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
}

asio::awaitable<tcp::socket> TcpAcceptor::accept() {
  tcp::socket s = co_await acceptor_.async_accept(use_awaitable);
  s.set_option(tcp::no_delay(true));
  co_return s;
}

std::string TcpAcceptor::local() const {
  return endpoint_text(acceptor_.local_endpoint());
}

void TcpAcceptor::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

asio::awaitable<std::size_t> TcpStream::read_some(asio::mutable_buffer buf) {
  boost::system::error_code ec;
  std::size_t n =
      co_await socket_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::eof) co_return 0;
  if (ec) throw boost::system::system_error(ec);
  co_return n;
}

asio::awaitable<void> TcpStream::write_all(asio::const_buffer buf) {
  co_await asio::async_write(socket_, buf, asio::use_awaitable);
}

void TcpStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string TcpStream::remote() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  return ec ? "tcp peer" : endpoint_text(ep);
}

asio::awaitable<asio::ip::tcp::socket> dial_tcp(const std::string& host, std::uint16_t port) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(ex);
  // An address needs no resolver: Asio's runs each lookup on a thread of its
  // own, started for the first one (a thread and a malloc arena per process).
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (!ec) {
    co_await socket.async_connect(asio::ip::tcp::endpoint(ip, port), asio::use_awaitable);
  } else {
    asio::ip::tcp::resolver resolver(ex);
    auto endpoints =
        co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  co_return socket;
}

asio::awaitable<std::unique_ptr<Stream>> connect_tcp(const Address& a) {
  auto socket = co_await dial_tcp(a.host, a.port);
  co_return std::make_unique<TcpStream>(std::move(socket));
}

std::unique_ptr<Listener> listen_tcp(const Executor& ex, const Address& a) {
  return std::make_unique<tcp_transport::TcpListener>(ex, a);
}

}  // namespace blk::net
