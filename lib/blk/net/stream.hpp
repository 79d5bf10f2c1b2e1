// Transports: a connected byte stream is all the channel needs, so each
// transport (tcp.cpp, ws.cpp, exec.cpp) only makes Streams. Adding one means
// adding one small file and a case in connect()/listen().
//
// Inside these coroutines errors are Boost.Asio's exceptions; run_session
// (session.hpp) turns them into blk::Error values at the edge.
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange unincluded
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "blk/address.hpp"
#include "blk/error.hpp"

namespace blk::net {

namespace asio = boost::asio;
using Executor = asio::any_io_executor;

class Stream {
 public:
  virtual ~Stream() = default;
  // Some bytes into `buf`; 0 when the peer closed its end cleanly.
  virtual asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) = 0;
  // All of `buf`.
  virtual asio::awaitable<void> write_all(asio::const_buffer buf) = 0;
  // Ends the stream; pending reads and writes finish with an error.
  virtual void close() = 0;
  // Who is at the other end, for messages and log lines.
  virtual std::string remote() const = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  // The next connection, ready for the channel's first byte (for ws://,
  // after the WebSocket upgrade). A failed upgrade throws; keep accepting.
  virtual asio::awaitable<std::unique_ptr<Stream>> accept() = 0;
  virtual std::string where() const = 0;
  virtual void close() = 0;
};

// Connects to `address` (tcp, ws, exec or ssh). Throws on failure.
asio::awaitable<std::unique_ptr<Stream>> connect(const Address& address);
// The same, for a dialling command: a failure is Code::failure, "cannot
// reach ADDRESS: why".
asio::awaitable<Result<std::unique_ptr<Stream>>> dial(const Address& address);

// Listens on a tcp:// or ws:// address. Throws on failure.
std::unique_ptr<Listener> listen(const Executor& ex, const Address& address);

// This process's stdin and stdout as one stream (`blk serve --stdio`).
std::unique_ptr<Stream> stdio_stream(const Executor& ex);

// Per transport (tcp.cpp, ws.cpp, exec.cpp).
asio::awaitable<std::unique_ptr<Stream>> connect_tcp(const Address& a);
std::unique_ptr<Listener> listen_tcp(const Executor& ex, const Address& a);
asio::awaitable<std::unique_ptr<Stream>> connect_ws(const Address& a);
std::unique_ptr<Listener> listen_ws(const Executor& ex, const Address& a);
asio::awaitable<std::unique_ptr<Stream>> connect_exec(const std::string& command);
// The command that ssh:// stands for: ssh [-p PORT] [USER@]HOST blk [--store S] serve --stdio
std::string ssh_command(const Address& a);

}  // namespace blk::net
