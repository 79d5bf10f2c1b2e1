// The hello, handshake and record layer, driven in memory: both sides are
// real state machines, the "network" is a string we can cut, flip and replay.
#include "blk/wire/handshake.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "blk/wire/hello.hpp"
#include "blk/wire/records.hpp"

using namespace blk;
using namespace blk::wire;

namespace {

struct Keys {
  KeyPair initiator = generate_keypair();
  KeyPair responder = generate_keypair();
  KeyPair stranger = generate_keypair();
};

AcceptPeer only(const KeyPair& k) {
  PublicKey want = k.public_key;
  return [want](const PublicKey& got) -> Result<void> {
    if (got != want) return make_error(Code::failure, "handshake failed: unknown key");
    return {};
  };
}

HandshakeConfig config(Role role, const KeyPair& self, AcceptPeer accept) {
  HandshakeConfig c;
  c.role = role;
  c.self = &self;
  c.accept = std::move(accept);
  return c;
}

// Runs both sides to completion (or failure), handing over `chunk` bytes at
// a time; `tamper` may rewrite what goes I→R and R→I.
struct Run {
  bool i_done = false, r_done = false;
  std::string i_error, r_error;
};
using Tamper = std::function<void(std::string&, bool to_responder)>;

Run run(Handshake& i, Handshake& r, std::size_t chunk = 1 << 20, const Tamper& tamper = {}) {
  Run out;
  std::string to_r, to_i;
  for (int round = 0; round < 1000; ++round) {
    std::string a = i.take_output(), b = r.take_output();
    if (tamper) {
      if (!a.empty()) tamper(a, true);
      if (!b.empty()) tamper(b, false);
    }
    to_r += a;
    to_i += b;
    bool moved = false;
    auto deliver = [&](Handshake& h, std::string& q, std::string& err) {
      if (q.empty() || !err.empty() || h.done()) return;
      std::size_t n = std::min(chunk, q.size());
      auto fed = h.feed(std::string_view(q).substr(0, n));
      q.erase(0, n);
      moved = true;
      if (!fed) err = fed.error().message;
    };
    deliver(r, to_r, out.r_error);
    deliver(i, to_i, out.i_error);
    if (!moved && a.empty() && b.empty()) break;
  }
  out.i_done = i.done();
  out.r_done = r.done();
  return out;
}

}  // namespace

TEST_CASE("hello: encode, parse, negotiate") {
  auto h = encode_hello({1, 2, 7});
  CHECK(h.size() == 4 + 1 + 6);
  CHECK(hello_size(h.substr(0, 3)).value() == 0);
  CHECK(hello_size(h.substr(0, 5)).value() == 0);
  CHECK(hello_size(h).value() == h.size());
  CHECK(parse_hello(h).value() == std::vector<std::uint16_t>{1, 2, 7});
  CHECK_FALSE(hello_size("HTTP/1.1").ok());
  CHECK_FALSE(hello_size(std::string("blk!\0", 5)).ok());
  CHECK_FALSE(parse_hello(encode_hello({2, 1})).ok());
  CHECK(negotiate({0, 1}, {1, 2}) == 1);
  CHECK(negotiate({0, 1, 2}, {0, 2}) == 2);
  CHECK_FALSE(negotiate({1}, {2}).has_value());
}

TEST_CASE("a handshake between two listed peers agrees on keys, whole or byte by byte") {
  Keys k;
  for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{1}, std::size_t{7}}) {
    Handshake i(config(Role::initiator, k.initiator, only(k.responder)));
    Handshake r(config(Role::responder, k.responder, only(k.initiator)));
    auto res = run(i, r, chunk);
    REQUIRE(res.i_error == "");
    REQUIRE(res.r_error == "");
    REQUIRE(res.i_done);
    REQUIRE(res.r_done);
    CHECK(i.take_leftover().empty());
    CHECK(i.peer_key() == k.responder.public_key);
    CHECK(r.peer_key() == k.initiator.public_key);
    CHECK(i.send_key() == r.receive_key());
    CHECK(i.receive_key() == r.send_key());
    CHECK(i.send_key() != i.receive_key());
    CHECK(i.version() == 1);
  }
}

TEST_CASE("fresh ephemerals: two handshakes between the same peers get different keys") {
  Keys k;
  Handshake i1(config(Role::initiator, k.initiator, only(k.responder)));
  Handshake r1(config(Role::responder, k.responder, only(k.initiator)));
  Handshake i2(config(Role::initiator, k.initiator, only(k.responder)));
  Handshake r2(config(Role::responder, k.responder, only(k.initiator)));
  REQUIRE(run(i1, r1).i_done);
  REQUIRE(run(i2, r2).i_done);
  CHECK(i1.send_key() != i2.send_key());
}

TEST_CASE("an unknown initiator is refused by the responder") {
  Keys k;
  Handshake i(config(Role::initiator, k.stranger, only(k.responder)));
  Handshake r(config(Role::responder, k.responder, only(k.initiator)));
  auto res = run(i, r);
  CHECK_FALSE(res.r_done);
  CHECK(res.r_error.find("unknown key") != std::string::npos);
}

TEST_CASE("the initiator refuses a responder with the wrong key, and sends no msg3") {
  Keys k;
  Handshake i(config(Role::initiator, k.initiator, only(k.responder)));
  Handshake r(config(Role::responder, k.stranger, only(k.initiator)));
  auto res = run(i, r);
  CHECK_FALSE(res.i_done);
  CHECK(res.i_error.find("unknown key") != std::string::npos);
  CHECK(i.take_output().empty());
  CHECK_FALSE(r.done());
}

TEST_CASE("reflection: a peer presenting our own key is refused, even if listed") {
  Keys k;
  auto anyone = [](const PublicKey&) -> Result<void> { return {}; };
  Handshake i(config(Role::initiator, k.initiator, anyone));
  Handshake r(config(Role::responder, k.initiator, anyone));  // ourselves
  auto res = run(i, r);
  CHECK_FALSE(res.i_done);
  CHECK(res.i_error.find("our own key") != std::string::npos);
}

TEST_CASE("no common version is a clear error on both sides") {
  Keys k;
  auto ci = config(Role::initiator, k.initiator, only(k.responder));
  ci.versions = {1};
  auto cr = config(Role::responder, k.responder, only(k.initiator));
  cr.versions = {2, 3};
  Handshake i(ci), r(cr);
  auto res = run(i, r);
  CHECK(res.i_error.find("no protocol version in common (we speak 1; the peer speaks 2, 3)") !=
        std::string::npos);
  CHECK(res.r_error.find("no protocol version in common") != std::string::npos);
}

TEST_CASE("both sides pick the highest common version") {
  Keys k;
  auto ci = config(Role::initiator, k.initiator, only(k.responder));
  ci.versions = {1, 2, 5};
  auto cr = config(Role::responder, k.responder, only(k.initiator));
  cr.versions = {1, 2, 3};
  Handshake i(ci), r(cr);
  REQUIRE(run(i, r).r_done);
  CHECK(i.version() == 2);
  CHECK(r.version() == 2);
}

TEST_CASE("a downgraded hello (a version struck out in transit) fails the handshake") {
  Keys k;
  auto ci = config(Role::initiator, k.initiator, only(k.responder));
  ci.versions = {1, 2};
  auto cr = config(Role::responder, k.responder, only(k.initiator));
  cr.versions = {1, 2};
  Handshake i(ci), r(cr);
  bool done = false;
  auto res = run(i, r, 1 << 20, [&](std::string& bytes, bool to_r) {
    if (to_r && !done) {  // rewrite I's hello to offer only version 1
      bytes = encode_hello({1}) + bytes.substr(encode_hello({1, 2}).size());
      done = true;
    }
  });
  CHECK_FALSE(res.i_done);
  CHECK_FALSE(res.r_done);
}

TEST_CASE("a flipped bit anywhere in the handshake fails it, and no side completes") {
  Keys k;
  // Every bit of every byte sent in either direction, one at a time.
  for (bool to_r : {true, false}) {
    std::size_t total =
        to_r ? encode_hello(kOurVersions).size() + Handshake::kMsg1Size + Handshake::kMsg3Size
             : encode_hello(kOurVersions).size() + Handshake::kMsg2Size;
    for (std::size_t pos = 0; pos < total; ++pos) {
      for (int bit = 0; bit < 8; bit += 3) {
        Handshake i(config(Role::initiator, k.initiator, only(k.responder)));
        Handshake r(config(Role::responder, k.responder, only(k.initiator)));
        std::size_t seen = 0;
        auto res = run(i, r, 1 << 20, [&](std::string& bytes, bool dir) {
          if (dir != to_r) return;
          if (pos >= seen && pos < seen + bytes.size())
            bytes[pos - seen] = static_cast<char>(bytes[pos - seen] ^ (1 << bit));
          seen += bytes.size();
        });
        INFO("direction " << (to_r ? "I->R" : "R->I") << " byte " << pos << " bit " << bit);
        // The initiator may finish before its msg3 is checked; the
        // responder never accepts, and the initiator never accepts a bad msg2.
        CHECK_FALSE(res.r_done);
        if (!to_r) CHECK_FALSE(res.i_done);
      }
    }
  }
}

TEST_CASE("low-order ephemeral keys are refused") {
  Keys k;
  // The all-zero point and the order-1 point 0x01 are small-order on Curve25519.
  for (int which = 0; which < 2; ++which) {
    Handshake r(config(Role::responder, k.responder, only(k.initiator)));
    CHECK(r.take_output() == encode_hello(kOurVersions));
    std::string msg = encode_hello(kOurVersions) + std::string(32, '\0');
    if (which == 1) msg[msg.size() - 32] = 1;
    auto fed = r.feed(msg);
    REQUIRE_FALSE(fed.ok());
    CHECK(fed.error().message.find("low-order") != std::string::npos);
    CHECK(r.take_output().empty());  // no msg2
  }
}

TEST_CASE("a replayed msg1 or msg3 does not complete a new handshake") {
  Keys k;
  std::string recorded_to_r;
  {
    Handshake i(config(Role::initiator, k.initiator, only(k.responder)));
    Handshake r(config(Role::responder, k.responder, only(k.initiator)));
    auto res = run(i, r, 1 << 20, [&](std::string& bytes, bool to_r) {
      if (to_r) recorded_to_r += bytes;
    });
    REQUIRE(res.r_done);
  }
  // The attacker replays everything the initiator sent to a fresh responder.
  Handshake r(config(Role::responder, k.responder, only(k.initiator)));
  auto fed = r.feed(recorded_to_r);
  CHECK_FALSE(fed.ok());
  CHECK_FALSE(r.done());
}

TEST_CASE("records: round trip, one byte at a time, final tag") {
  SessionKey key;
  randombytes_buf(key.data(), key.size());
  RecordWriter w(key);
  std::string wire = w.take_header();
  REQUIRE(w.write("hello", false, wire).ok());
  REQUIRE(w.write("", false, wire).ok());
  REQUIRE(w.write(std::string(100000, 'x'), true, wire).ok());

  for (std::size_t chunk : {wire.size(), std::size_t{1}, std::size_t{13}}) {
    RecordReader r(key);
    std::vector<RecordReader::Record> got;
    std::size_t at = 0;
    while (at < wire.size()) {
      std::string_view piece = std::string_view(wire).substr(at, chunk);
      std::size_t off = 0;
      while (off < piece.size()) {
        RecordReader::Record rec;
        bool have = false;
        auto n = r.feed(piece.substr(off), rec, have);
        REQUIRE(n.ok());
        off += *n;
        if (have) got.push_back(rec);
        if (*n == 0) break;
      }
      at += piece.size();
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0].payload == "hello");
    CHECK(got[1].payload.empty());
    CHECK(got[2].payload.size() == 100000);
    CHECK_FALSE(got[1].final);
    CHECK(got[2].final);
    CHECK(r.ended());
  }
}

namespace {
// Feeds all of `wire`; returns the payloads read and the error, if any.
std::pair<std::vector<std::string>, std::string> read_all(const SessionKey& key,
                                                          std::string_view wire) {
  RecordReader r(key);
  std::vector<std::string> out;
  while (!wire.empty()) {
    RecordReader::Record rec;
    bool have = false;
    auto n = r.feed(wire, rec, have);
    if (!n) return {out, n.error().message};
    if (have) out.push_back(rec.payload);
    wire.remove_prefix(*n);
    if (*n == 0) break;
  }
  return {out, ""};
}
}  // namespace

TEST_CASE("records: flipped, reordered, repeated, dropped or trailing bytes fail") {
  SessionKey key;
  randombytes_buf(key.data(), key.size());
  RecordWriter w(key);
  std::string header = w.take_header();
  std::vector<std::string> recs(3);
  for (int n = 0; n < 3; ++n) REQUIRE(w.write("record " + std::to_string(n), n == 2, recs[n]).ok());
  std::string wire = header + recs[0] + recs[1] + recs[2];
  CHECK(read_all(key, wire).second == "");

  for (std::size_t pos = 0; pos < wire.size(); ++pos) {
    std::string bad = wire;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    auto [got, err] = read_all(key, bad);
    INFO("flipped byte " << pos);
    CHECK(err != "");
  }
  CHECK(read_all(key, header + recs[1] + recs[0] + recs[2]).second != "");  // reordered
  CHECK(read_all(key, header + recs[0] + recs[0] + recs[1]).second != "");  // repeated
  CHECK(read_all(key, header + recs[0] + recs[2]).second != "");            // dropped
  CHECK(read_all(key, wire + "x").second.find("after the final") != std::string::npos);

  // Truncated: no error, but the stream has not ended (the caller sees a cut).
  RecordReader r(key);
  RecordReader::Record rec;
  bool have = false;
  auto n = r.feed(std::string_view(wire).substr(0, wire.size() - 1), rec, have);
  CHECK(n.ok());
  CHECK_FALSE(r.ended());
}

TEST_CASE("records: a length over the limit is refused before the body is read") {
  SessionKey key;
  randombytes_buf(key.data(), key.size());
  // Forge a valid-looking length chunk claiming 4 GiB - 1, with the real key.
  crypto_secretstream_xchacha20poly1305_state st;
  std::string wire(crypto_secretstream_xchacha20poly1305_HEADERBYTES, '\0');
  crypto_secretstream_xchacha20poly1305_init_push(
      &st, reinterpret_cast<unsigned char*>(wire.data()), key.data());
  unsigned char length[4] = {0xff, 0xff, 0xff, 0xff};
  std::string chunk(4 + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
  crypto_secretstream_xchacha20poly1305_push(&st, reinterpret_cast<unsigned char*>(chunk.data()),
                                             nullptr, length, 4, nullptr, 0, 0);
  wire += chunk;
  auto [got, err] = read_all(key, wire);
  CHECK(err.find("4294967295-byte record") != std::string::npos);
  RecordWriter w(key);
  std::string out;
  CHECK(w.write(std::string(kMaxRecordBytes + 1, 'x'), false, out).error().code ==
        Code::invalid_input);
}
