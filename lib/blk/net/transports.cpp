// Which transport serves an address.
#include <fmt/format.h>

#include "blk/net/stream.hpp"

namespace blk::net {

namespace {
// Quotes a word for the remote shell that ssh hands its command to.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

std::string ssh_command(const Address& a) {
  std::string cmd = "ssh";
  if (a.port) cmd += fmt::format(" -p {}", a.port);
  cmd += " " + shell_quote(a.user.empty() ? a.host : a.user + "@" + a.host);
  cmd += " blk";
  if (!a.store.empty()) cmd += " --store " + shell_quote(shell_quote(a.store));
  return cmd + " serve --stdio";
}

asio::awaitable<std::unique_ptr<Stream>> connect(const Address& a) {
  switch (a.kind) {
    case Address::Kind::tcp:
      co_return co_await connect_tcp(a);
    case Address::Kind::ws:
      co_return co_await connect_ws(a);
    case Address::Kind::exec:
      co_return co_await connect_exec(a.command);
    case Address::Kind::ssh:
      co_return co_await connect_exec(ssh_command(a));
  }
  throw std::logic_error("unknown address kind");
}

asio::awaitable<Result<std::unique_ptr<Stream>>> dial(const Address& a) {
  std::string error;
  try {
    co_return co_await connect(a);
  } catch (const std::exception& e) {
    error = e.what();
  }
  co_return make_error(Code::failure, fmt::format("cannot reach {}: {}", to_string(a), error));
}

std::unique_ptr<Listener> listen(const Executor& ex, const Address& a) {
  switch (a.kind) {
    case Address::Kind::tcp:
      return listen_tcp(ex, a);
    case Address::Kind::ws:
      return listen_ws(ex, a);
    default:
      throw std::invalid_argument(
          fmt::format("cannot listen on {}: only tcp:// and ws:// addresses", to_string(a)));
  }
}

}  // namespace blk::net
