// exec:COMMAND — run COMMAND with /bin/sh and speak over its stdin and
// stdout, so any byte pipe (ssh, socat, tor) is a transport. Its stderr
// stays ours, so ssh can ask for a password and say what went wrong. Also
// this process's own stdin/stdout, for `blk serve --stdio`.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "blk/net/stream.hpp"

extern char** environ;

namespace blk::net {
namespace exec_transport {

using asio::posix::stream_descriptor;

// Reads from one descriptor, writes to another.
class PipeStream : public Stream {
 public:
  PipeStream(const Executor& ex, int read_fd, int write_fd, std::string remote)
      : in_(ex, read_fd), out_(ex, write_fd), remote_(std::move(remote)) {}
  asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf) override {
    boost::system::error_code ec;
    std::size_t n =
        co_await in_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) co_return 0;
    if (ec) throw boost::system::system_error(ec);
    co_return n;
  }
  asio::awaitable<void> write_all(asio::const_buffer buf) override {
    co_await asio::async_write(out_, buf, asio::use_awaitable);
  }
  void close() override {
    boost::system::error_code ec;
    in_.close(ec);
    out_.close(ec);
  }
  std::string remote() const override { return remote_; }

 private:
  stream_descriptor in_, out_;
  std::string remote_;
};

class ChildStream final : public PipeStream {
 public:
  ChildStream(const Executor& ex, int read_fd, int write_fd, pid_t pid, std::string command)
      : PipeStream(ex, read_fd, write_fd, "exec:" + command), pid_(pid) {}
  ~ChildStream() override {
    close();
    // Closing its stdin asks the child to end; give it a moment, then insist.
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) != 0) return;
      usleep(10'000);
    }
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_;
};

}  // namespace exec_transport

asio::awaitable<std::unique_ptr<Stream>> connect_exec(const std::string& command) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    throw std::system_error(err, std::generic_category());
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    throw std::runtime_error(fmt::format("cannot run {}: {}", command, std::strerror(rc)));
  }
  auto ex = co_await asio::this_coro::executor;
  co_return std::make_unique<exec_transport::ChildStream>(ex, from_child[0], to_child[1], pid,
                                                          command);
}

std::unique_ptr<Stream> stdio_stream(const Executor& ex) {
  // Duplicates, so that closing the stream leaves fds 0 and 1 valid.
  int in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  int out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (in < 0 || out < 0) throw std::system_error(errno, std::generic_category());
  return std::make_unique<exec_transport::PipeStream>(ex, in, out, "stdio");
}

}  // namespace blk::net
