// blk_channel_bench: the channel's costs, next to a baseline measured in the
// same run (scripts/bench, sections `channel` and `handshake`).
//
//   blk_channel_bench throughput BYTES MESSAGE_BYTES [RUNS]
//       BYTES in messages of MESSAGE_BYTES over loopback TCP, one thread per
//       side, two ways: a plain Boost.Asio copy (async_write of each message,
//       reads of 64 KiB, as the session reads), and through blk: the real
//       transport, session driver and wire::Channel (hello, handshake,
//       secretstream records), with the receiver acknowledging each message
//       so that at most 8 are in flight. Each is timed RUNS times (default
//       3), alternating; the best counts. Also the crypto alone: secretstream
//       push and pull of the same messages in memory (the slower of the two,
//       as each side has its own core). Prints key=value lines: bytes,
//       messages, runs, plain_secs, channel_secs, crypto_secs.
//
//   blk_channel_bench handshakes SECONDS
//       On this thread, for about SECONDS each, in 5 interleaved rounds (the
//       best round of each counts): hello + handshake between two in-memory
//       wire::Handshake objects; whole wire::Channel pairs (the handshake,
//       both record streams started, one ping and its pong, both final
//       records); and the public-key crypto a handshake cannot avoid (per
//       pair: 2 X25519 key generations, 2 X25519, 2 Ed25519 signatures, 2
//       verifications) as the floor. Prints handshake_per_s, channel_per_s,
//       crypto_per_s.
//
// Both check their results (every byte arrived, every handshake finished),
// so a broken build cannot look fast.

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on

#include <sodium.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "blk/address.hpp"
#include "blk/identity.hpp"
#include "blk/net/session.hpp"
#include "blk/net/stream.hpp"
#include "blk/wire/channel.hpp"
#include "blk/wire/handshake.hpp"
#include "blk/wire/message.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "blk_channel_bench: %s\n", msg.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::uint64_t parse_count(const char* s) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (!end || *end || v == 0) die(std::string("not a positive number: ") + s);
  return v;
}

// The message body both runs send: not all zeros, the same every time.
std::string payload(std::size_t n) {
  std::string p(n, '\0');
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 2654435761u) >> 13);
  return p;
}

// Runs two io_contexts, one thread each, until both run out of work.
void run_threads(asio::io_context& a, asio::io_context& b) {
  std::thread ta([&] { a.run(); });
  std::thread tb([&] { b.run(); });
  ta.join();
  tb.join();
}

// ---- throughput: plain Asio ----

double plain_copy(std::uint64_t total, const std::string& msg) {
  asio::io_context ca(1), cb(1);
  tcp::acceptor acceptor(ca, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor.local_endpoint().port();
  std::uint64_t received = 0;
  std::exception_ptr ea, eb;
  auto t0 = Clock::now();
  asio::co_spawn(
      ca,
      [&]() -> asio::awaitable<void> {  // the receiver
        tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        s.set_option(tcp::no_delay(true));
        std::string buf(64 * 1024, '\0');
        while (received < total)
          received += co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
      },
      [&](std::exception_ptr e) { ea = e; });
  asio::co_spawn(
      cb,
      [&]() -> asio::awaitable<void> {  // the sender
        tcp::socket s(cb);
        co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                 asio::use_awaitable);
        s.set_option(tcp::no_delay(true));
        for (std::uint64_t sent = 0; sent < total; sent += msg.size())
          co_await asio::async_write(s, asio::buffer(msg), asio::use_awaitable);
        s.shutdown(tcp::socket::shutdown_send);
      },
      [&](std::exception_ptr e) { eb = e; });
  run_threads(ca, cb);
  double secs = seconds_since(t0);
  if (ea) std::rethrow_exception(ea);
  if (eb) std::rethrow_exception(eb);
  if (received != total) die("plain copy: bytes lost");
  return secs;
}

// ---- throughput: blk's channel ----

constexpr std::size_t kWindow = 8;  // messages in flight

class Sender final : public blk::net::Conversation {
 public:
  Sender(std::uint64_t count, const std::string& msg) : count_(count), msg_(msg) {}
  blk::Result<void> on_established(blk::wire::Channel& c) override {
    while (sent_ < count_ && sent_ < kWindow) BLK_TRY(send(c));
    return {};
  }
  blk::Result<void> on_message(blk::wire::Channel& c, std::string_view) override {
    ++acked_;
    if (sent_ < count_) return send(c);
    if (acked_ == count_) c.finish();
    return {};
  }
  std::uint64_t acked() const { return acked_; }

 private:
  blk::Result<void> send(blk::wire::Channel& c) {
    ++sent_;
    return c.send(msg_);
  }
  std::uint64_t count_, sent_ = 0, acked_ = 0;
  const std::string& msg_;
};

class Receiver final : public blk::net::Conversation {
 public:
  blk::Result<void> on_message(blk::wire::Channel& c, std::string_view m) override {
    bytes_ += m.size();
    ++messages_;
    return c.send("ack");
  }
  std::uint64_t bytes_ = 0, messages_ = 0;
};

blk::wire::AcceptPeer only(const blk::KeyPair& k) {
  blk::wire::PublicKey want = k.public_key;
  return [want](const blk::wire::PublicKey& got) -> blk::Result<void> {
    if (got != want) return blk::make_error(blk::Code::failure, "unknown peer");
    return {};
  };
}

blk::wire::HandshakeConfig config(blk::wire::Role role, const blk::KeyPair& self,
                                  const blk::KeyPair& peer) {
  blk::wire::HandshakeConfig c;
  c.role = role;
  c.self = &self;
  c.accept = only(peer);
  return c;
}

double channel_copy(std::uint64_t total, const std::string& msg) {
  blk::KeyPair ki = blk::generate_keypair(), kr = blk::generate_keypair();
  std::uint64_t count = total / msg.size();
  Sender sender(count, msg);
  Receiver receiver;
  blk::Result<void> rs, rr;
  asio::io_context ca(1), cb(1);
  auto listener =
      blk::net::listen(ca.get_executor(), *blk::parse_listen_address("tcp://127.0.0.1:0"));
  auto target = blk::parse_address(listener->where());
  if (!target) die("bad listen address " + listener->where());
  std::exception_ptr ea, eb;
  auto t0 = Clock::now();
  asio::co_spawn(
      ca,
      [&]() -> asio::awaitable<void> {
        auto stream = co_await listener->accept();
        blk::wire::Channel ch(config(blk::wire::Role::responder, kr, ki), {},
                              blk::net::steady_millis());
        rr = co_await blk::net::run_session(*stream, ch, receiver);
        listener->close();
      },
      [&](std::exception_ptr e) { ea = e; });
  asio::co_spawn(
      cb,
      [&]() -> asio::awaitable<void> {
        auto stream = co_await blk::net::connect(*target);
        blk::wire::Channel ch(config(blk::wire::Role::initiator, ki, kr), {},
                              blk::net::steady_millis());
        rs = co_await blk::net::run_session(*stream, ch, sender);
      },
      [&](std::exception_ptr e) { eb = e; });
  run_threads(ca, cb);
  double secs = seconds_since(t0);
  if (ea) std::rethrow_exception(ea);
  if (eb) std::rethrow_exception(eb);
  if (!rs) die("channel (sender): " + rs.error().message);
  if (!rr) die("channel (receiver): " + rr.error().message);
  if (receiver.bytes_ != count * msg.size() || receiver.messages_ != count ||
      sender.acked() != count)
    die("channel: messages lost");
  return secs;
}

// The crypto alone: secretstream push (the sender's work) and pull (the
// receiver's) of the same messages, in memory. The two sides run at once
// on their own threads, so the slower of the two bounds the channel.
double crypto_only(std::uint64_t total, const std::string& msg) {
  constexpr std::size_t kA = crypto_secretstream_xchacha20poly1305_ABYTES;
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_state push, pull;
  crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
  if (crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key) != 0) die("init_pull");
  std::string sealed(msg.size() + kA, '\0'), opened(msg.size(), '\0');
  auto* in = reinterpret_cast<const unsigned char*>(msg.data());
  auto* s = reinterpret_cast<unsigned char*>(sealed.data());
  auto* o = reinterpret_cast<unsigned char*>(opened.data());
  double push_secs = 0, pull_secs = 0;
  for (std::uint64_t done = 0; done < total; done += msg.size()) {
    auto t0 = Clock::now();
    crypto_secretstream_xchacha20poly1305_push(&push, s, nullptr, in, msg.size(), nullptr, 0, 0);
    auto t1 = Clock::now();
    if (crypto_secretstream_xchacha20poly1305_pull(&pull, o, nullptr, nullptr, s, sealed.size(),
                                                   nullptr, 0) != 0)
      die("pull");
    pull_secs += seconds_since(t1);
    push_secs += std::chrono::duration<double>(t1 - t0).count();
  }
  if (opened != msg) die("crypto: bytes differ");
  return std::max(push_secs, pull_secs);
}

int throughput(std::uint64_t total, std::uint64_t msg_bytes, int runs) {
  if (msg_bytes > blk::wire::kMaxRecordBytes) die("a message is over the record limit");
  total = total / msg_bytes * msg_bytes;
  if (total == 0) die("fewer bytes than one message");
  std::string msg = payload(msg_bytes);
  // Warm up both paths (TCP buffers, the allocator), then time each `runs`
  // times, alternating, and keep the best of each.
  plain_copy(std::min<std::uint64_t>(total, 64 * msg_bytes), msg);
  channel_copy(std::min<std::uint64_t>(total, 64 * msg_bytes), msg);
  double plain = 1e300, chan = 1e300;
  for (int i = 0; i < runs; ++i) {
    plain = std::min(plain, plain_copy(total, msg));
    chan = std::min(chan, channel_copy(total, msg));
  }
  double crypto = crypto_only(total, msg);
  std::printf(
      "bytes=%llu\nmessages=%llu\nruns=%d\nplain_secs=%.6f\nchannel_secs=%.6f\n"
      "crypto_secs=%.6f\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(total / msg_bytes),
      runs, plain, chan, crypto);
  return 0;
}

// ---- handshakes ----

// Calls `one` repeatedly for about `secs`; returns calls per second.
template <class F>
double rate(double secs, F one) {
  for (int i = 0; i < 20; ++i) one();  // warm up
  std::uint64_t n = 0;
  auto t0 = Clock::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 20; ++i) one();
    n += 20;
    elapsed = seconds_since(t0);
  } while (elapsed < secs);
  return static_cast<double>(n) / elapsed;
}

void expect(bool ok, const char* what) {
  if (!ok) die(std::string("failed: ") + what);
}

int handshakes(double secs) {
  blk::KeyPair ki = blk::generate_keypair(), kr = blk::generate_keypair();
  auto ci = config(blk::wire::Role::initiator, ki, kr);
  auto cr = config(blk::wire::Role::responder, kr, ki);

  auto handshake = [&] {
    blk::wire::Handshake i(ci), r(cr);
    expect(bool(r.feed(i.take_output())), "msg1");  // hello_I || msg1
    expect(bool(i.feed(r.take_output())), "msg2");  // hello_R || msg2
    expect(bool(r.feed(i.take_output())), "msg3");  // msg3
    expect(i.done() && r.done() && i.send_key() == r.receive_key(), "handshake");
  };

  const std::string ping = blk::wire::encode_message(blk::wire::MessageType::ping, "12345678");
  auto channel_pair = [&] {
    blk::wire::Channel i(ci, {}, 0), r(cr, {}, 0);
    expect(bool(i.send(ping)), "send");
    bool pong = false;
    for (int round = 0; round < 10 && !(i.peer_finished() && r.peer_finished()); ++round) {
      if (i.has_output()) expect(bool(r.receive(i.take_output(0), 0)), "r.receive");
      while (auto m = r.next_message()) {
        expect(*m == ping, "ping");
        expect(bool(r.send(blk::wire::encode_message(blk::wire::MessageType::pong, "12345678"))),
               "pong");
        r.finish();
      }
      if (r.has_output()) expect(bool(i.receive(r.take_output(0), 0)), "i.receive");
      while (i.next_message()) {
        pong = true;
        i.finish();
      }
    }
    expect(pong && i.peer_finished() && r.peer_finished(), "channel pair");
  };

  // The floor: the public-key operations of one handshake pair.
  unsigned char sk_e[2][32], pk_e[2][32], shared[32], sig[2][crypto_sign_BYTES];
  unsigned char msg[48] = {};
  auto crypto_floor = [&] {
    for (int s = 0; s < 2; ++s) {
      randombytes_buf(sk_e[s], 32);
      crypto_scalarmult_base(pk_e[s], sk_e[s]);
    }
    for (int s = 0; s < 2; ++s) expect(crypto_scalarmult(shared, sk_e[s], pk_e[1 - s]) == 0, "dh");
    crypto_sign_detached(sig[0], nullptr, msg, sizeof msg, ki.secret_key.data());
    crypto_sign_detached(sig[1], nullptr, msg, sizeof msg, kr.secret_key.data());
    expect(crypto_sign_verify_detached(sig[0], msg, sizeof msg, ki.public_key.data()) == 0, "v");
    expect(crypto_sign_verify_detached(sig[1], msg, sizeof msg, kr.public_key.data()) == 0, "v");
  };

  // Interleaved in short rounds, the best round of each counting, so that
  // a busy moment on the machine does not land on one kind only.
  constexpr int kRounds = 5;
  double hs = 0, ch = 0, crypto = 0;
  for (int round = 0; round < kRounds; ++round) {
    hs = std::max(hs, rate(secs / kRounds, handshake));
    ch = std::max(ch, rate(secs / kRounds, channel_pair));
    crypto = std::max(crypto, rate(secs / kRounds, crypto_floor));
  }

  std::printf("handshake_per_s=%.1f\nchannel_per_s=%.1f\ncrypto_per_s=%.1f\n", hs, ch, crypto);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) die("libsodium failed to initialize");
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "throughput" && (argc == 4 || argc == 5))
      return throughput(parse_count(argv[2]), parse_count(argv[3]),
                        argc == 5 ? static_cast<int>(parse_count(argv[4])) : 3);
    if (cmd == "handshakes" && argc == 3) return handshakes(std::atof(argv[2]));
  } catch (const std::exception& e) {
    die(e.what());
  }
  std::fprintf(stderr,
               "usage: blk_channel_bench throughput BYTES MESSAGE_BYTES [RUNS]\n"
               "       blk_channel_bench handshakes SECONDS\n");
  return 2;
}
