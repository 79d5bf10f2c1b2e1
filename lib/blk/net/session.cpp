#include "blk/net/session.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace blk::net {

Millis steady_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace session_impl {

using asio::use_awaitable;
using Timer = asio::steady_timer;

// The three loops of one session and what they share. All run on one
// executor, one at a time, so no locks are needed.
class Session {
 public:
  Session(Stream& s, wire::Channel& c, Conversation& conv, const Executor& ex)
      : stream_(s), channel_(c), conv_(conv), wake_writer_(ex), tick_(ex), done_(ex) {}

  asio::awaitable<Result<void>> run() {
    auto ex = co_await asio::this_coro::executor;
    live_ = 3;
    asio::co_spawn(ex, guarded(&Session::read_loop), asio::detached);
    asio::co_spawn(ex, guarded(&Session::write_loop), asio::detached);
    asio::co_spawn(ex, guarded(&Session::tick_loop), asio::detached);
    while (live_ > 0) co_await sleep_until_woken(done_);
    stream_.close();
    conv_.on_closed();
    if (error_) co_return *error_;
    co_return Result<void>();
  }

 private:
  // Runs one loop; any exception (a broken stream) ends the session.
  asio::awaitable<void> guarded(asio::awaitable<void> (Session::*loop)()) {
    try {
      co_await (this->*loop)();
    } catch (const std::exception& e) {
      if (!stopping_)
        fail(make_error(Code::failure, fmt::format("connection broken: {}", e.what())));
    }
    if (--live_ == 0) done_.cancel();
  }

  static asio::awaitable<void> sleep_until_woken(Timer& t) {
    t.expires_at(Timer::time_point::max());
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  void fail(Error e) {
    if (!error_) error_ = std::move(e);
    stop();
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    stream_.close();  // ends the pending read or write
    wake_writer_.cancel();
    tick_.cancel();
  }

  // Done when we sent our final record and the peer sent theirs.
  void maybe_done() {
    if (channel_.finished() && channel_.peer_finished() && writer_idle_ && !channel_.has_output())
      stop();
  }

  asio::awaitable<void> read_loop() {
    std::string buf(64 * 1024, '\0');
    bool was_established = false;
    while (!stopping_) {
      std::size_t n = co_await stream_.read_some(asio::buffer(buf));
      if (stopping_) break;
      if (n == 0) {
        if (!channel_.peer_finished()) fail(make_error(Code::failure, end_of_stream_error()));
        break;
      }
      auto r = channel_.receive(std::string_view(buf.data(), n), steady_millis());
      if (r && !was_established && channel_.established()) {
        was_established = true;
        r = conv_.on_established(channel_);
      }
      while (r) {
        auto msg = channel_.next_message();
        if (!msg) break;
        r = conv_.on_message(channel_, *msg);
      }
      if (!r) {
        fail(std::move(r).error());
        break;
      }
      if (channel_.peer_finished()) conv_.on_peer_finished(channel_);
      wake_writer_.cancel();
      if (channel_.peer_finished()) break;
    }
    maybe_done();
  }

  std::string end_of_stream_error() const {
    if (channel_.peer_accepted())
      return "connection cut: the peer's stream ended without its final record";
    if (channel_.established())
      return "the peer closed the connection during the handshake: it may not list this "
             "machine's key (blk id --key) in its manifest";
    return "connection closed by the peer during the handshake";
  }

  asio::awaitable<void> write_loop() {
    while (!stopping_) {
      std::string out = channel_.take_output(steady_millis());
      if (!out.empty()) {
        writer_idle_ = false;
        co_await stream_.write_all(asio::buffer(out));
        continue;
      }
      if (channel_.established() && !channel_.finished()) {
        auto r = conv_.on_writable(channel_);
        if (!r) {
          fail(std::move(r).error());
          break;
        }
        if (channel_.has_output()) continue;
      }
      writer_idle_ = true;
      maybe_done();
      if (stopping_) break;
      co_await sleep_until_woken(wake_writer_);
    }
  }

  asio::awaitable<void> tick_loop() {
    while (!stopping_) {
      Millis next = std::min(channel_.next_deadline(), conv_.next_wakeup());
      Millis wait = std::max<Millis>(next - steady_millis(), 1);
      tick_.expires_after(std::chrono::milliseconds(std::min<Millis>(wait, 1000)));
      boost::system::error_code ec;
      co_await tick_.async_wait(asio::redirect_error(use_awaitable, ec));
      if (stopping_) break;
      Millis now = steady_millis();
      auto r = channel_.tick(now);
      if (r && channel_.established() && !channel_.finished() && now >= conv_.next_wakeup())
        r = conv_.on_wakeup(channel_);
      if (!r) {
        fail(std::move(r).error());
        break;
      }
      wake_writer_.cancel();
    }
  }

  Stream& stream_;
  wire::Channel& channel_;
  Conversation& conv_;
  Timer wake_writer_, tick_, done_;
  int live_ = 0;
  bool stopping_ = false;
  bool writer_idle_ = false;
  std::optional<Error> error_;
};

}  // namespace session_impl

asio::awaitable<Result<void>> run_session(Stream& stream, wire::Channel& channel,
                                          Conversation& conversation) {
  auto ex = co_await asio::this_coro::executor;
  session_impl::Session session(stream, channel, conversation, ex);
  co_return co_await session.run();
}

}  // namespace blk::net
