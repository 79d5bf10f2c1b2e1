// The channel as a whole, on a virtual clock: messages both ways, deadlines,
// keepalives and clean or cut ends.
#include "blk/wire/channel.hpp"

#include <doctest/doctest.h>

#include "blk/wire/message.hpp"

using namespace blk;
using namespace blk::wire;

namespace {

struct Pair {
  KeyPair ki = generate_keypair(), kr = generate_keypair();
  Channel i, r;
  Millis now = 1'000'000;

  static HandshakeConfig cfg(Role role, const KeyPair& self, const KeyPair& peer) {
    HandshakeConfig c;
    c.role = role;
    c.self = &self;
    PublicKey want = peer.public_key;
    c.accept = [want](const PublicKey& k) -> Result<void> {
      if (k != want) return make_error(Code::failure, "unknown key");
      return {};
    };
    return c;
  }
  Pair()
      : i(cfg(Role::initiator, ki, kr), ChannelLimits{}, 1'000'000),
        r(cfg(Role::responder, kr, ki), ChannelLimits{}, 1'000'000) {}

  // Moves bytes both ways until quiet.
  void pump() {
    for (int n = 0; n < 50; ++n) {
      std::string a = i.take_output(now), b = r.take_output(now);
      if (a.empty() && b.empty()) return;
      if (!a.empty()) REQUIRE(r.receive(a, now).ok());
      if (!b.empty()) REQUIRE(i.receive(b, now).ok());
    }
  }
};

}  // namespace

TEST_CASE("messages flow both ways, including those queued before the handshake") {
  Pair p;
  REQUIRE(p.i.send(encode_message(MessageType::ping, "early")).ok());
  p.pump();
  REQUIRE(p.i.established());
  REQUIRE(p.r.established());
  auto m = p.r.next_message();
  REQUIRE(m.has_value());
  auto parsed = parse_message(*m);
  REQUIRE(parsed.ok());
  CHECK(parsed->type == 1);
  CHECK(parsed->body == "early");
  REQUIRE(p.r.send(encode_message(MessageType::pong, "early")).ok());
  p.pump();
  CHECK(parse_message(*p.i.next_message())->type == 2);
  CHECK_FALSE(p.i.next_message().has_value());

  p.i.finish();
  p.pump();
  CHECK(p.r.peer_finished());
  CHECK_FALSE(p.r.send("x").ok() == false);  // r can still send until it finishes
  p.r.finish();
  p.pump();
  CHECK(p.i.peer_finished());
  CHECK_FALSE(p.i.send("late").ok());
}

TEST_CASE("a peer that trickles one byte every few seconds is cut at the handshake deadline") {
  Pair p;
  std::string hello = p.i.take_output(p.now);
  Millis t = p.now;
  Result<void> status;
  std::size_t sent = 0;
  while (status.ok() && sent < hello.size()) {
    t += 3000;
    status = p.r.receive(hello.substr(sent++, 1), t);  // every byte resets nothing
    if (status.ok()) status = p.r.tick(t);
  }
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("handshake not done within 10 s") != std::string::npos);
  CHECK(t - p.now <= 13'000);
  CHECK(p.r.take_output(t).empty());  // and it writes nothing more
}

TEST_CASE("idle peers get keepalives; a silent one is cut") {
  Pair p;
  p.pump();
  REQUIRE(p.i.established());
  p.now += 31'000;
  REQUIRE(p.i.tick(p.now).ok());
  std::string keepalive = p.i.take_output(p.now);
  CHECK_FALSE(keepalive.empty());
  REQUIRE(p.r.receive(keepalive, p.now).ok());
  CHECK_FALSE(p.r.next_message().has_value());  // keepalives are not messages
  CHECK(p.i.next_deadline() > p.now);
  p.now += 91'000;
  auto t = p.i.tick(p.now);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.find("silent for 90 s") != std::string::npos);
}

TEST_CASE("a record that starts but does not finish in time is cut") {
  Pair p;
  p.pump();
  REQUIRE(p.i.send(encode_message(MessageType::ping, std::string(1000, 'x'))).ok());
  std::string bytes = p.i.take_output(p.now);
  REQUIRE(p.r.receive(bytes.substr(0, 30), p.now).ok());
  p.now += 20'000;
  REQUIRE(p.r.receive(bytes.substr(30, 10), p.now).ok());  // still trickling
  REQUIRE(p.r.tick(p.now).ok());
  p.now += 11'000;
  auto t = p.r.tick(p.now);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.find("record took over 30 s") != std::string::npos);
}

TEST_CASE("a long stream whose reads end inside records is not cut: each record has its clock") {
  // A slow receiver reads 64 KiB at a time, rarely at a record boundary;
  // every record arrives within seconds, but the stream lasts minutes.
  Pair p;
  p.pump();
  std::string stream;
  for (int k = 0; k < 20; ++k)
    REQUIRE(p.i.send(encode_message(MessageType::ping, std::string(1000, 'x'))).ok());
  stream = p.i.take_output(p.now);
  std::size_t pos = 0, chunk = 1500;  // never a multiple of a record's size
  int messages = 0;
  while (pos < stream.size()) {
    std::size_t n = std::min(chunk, stream.size() - pos);
    REQUIRE(p.r.receive(std::string_view(stream).substr(pos, n), p.now).ok());
    pos += n;
    while (p.r.next_message()) ++messages;
    p.now += 10'000;
    auto t = p.r.tick(p.now);
    REQUIRE_MESSAGE(t.ok(), t.error().message);
    REQUIRE(p.i.receive(p.r.take_output(p.now), p.now).ok());  // keepalives back
    (void)p.i.take_output(p.now);
  }
  CHECK(messages == 20);
  CHECK(p.now - 1'000'000 > 120'000);  // well past the 30 s record limit in all
}
