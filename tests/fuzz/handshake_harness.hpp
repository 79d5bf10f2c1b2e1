// The body of the two handshake targets (fuzz_handshake_responder.cpp and
// fuzz_handshake_initiator.cpp): one Handshake in the role under test, with
// a real key pair and an accept callback that accepts one fixed key, made
// right after a reset of the deterministic random source (so its ephemeral
// key is the same on every run), fed the input as what the peer sent.
//
// The input is fed twice, to two identical handshakes: whole, and in
// chunks whose sizes come from the input's own bytes. Invariants:
// - Both runs agree: done, failed, the error, the peer, the keys, the
//   version, the leftover. (Message boundaries mean nothing on the wire.)
// - What the handshake sends is what the protocol says, in order: our
//   hello, then (initiator) msg1 at once; (responder) msg2 once msg1 is in;
//   (initiator) msg3 once msg2 checked out. Nothing after a failure, and a
//   failed handshake stays failed.
// - The genuine transcript finishes; and done means the input starts with
//   a genuine transcript: exactly the bytes the real peer (the one accepted
//   key) sends to this handshake, for the hello the input starts with.
//   Nobody else can finish: not a stranger with a valid key, not our own
//   key reflected, not any forgery.
// - Once done: the peer is the accepted key, the version is the highest in
//   both hellos, the two session keys differ, and the leftover is exactly
//   the input after the transcript.
#pragma once

#include <algorithm>

#include "fuzz_common.hpp"

namespace blk::fuzz {

struct Outcome {
  bool done = false, failed = false;
  std::string error;
  std::string output;    // everything the handshake gave to send
  std::string leftover;  // once done
  wire::PublicKey peer{};
  wire::SessionKey send{}, receive{};
  std::uint16_t version = 0;
};

inline const KeyPair& self_keys(wire::Role role) {
  return role == wire::Role::responder ? responder_keys() : initiator_keys();
}
inline const KeyPair& peer_keys(wire::Role role) {
  return role == wire::Role::responder ? initiator_keys() : responder_keys();
}

inline Outcome drive(wire::Role role, std::string_view in, const std::vector<std::size_t>& sizes) {
  rng_reset(0);
  wire::Handshake h(config(role, self_keys(role), peer_keys(role)));
  Outcome o;
  o.output = h.take_output();
  std::size_t first = wire::encode_hello(wire::kOurVersions).size() +
                      (role == wire::Role::initiator ? wire::Handshake::kMsg1Size : 0);
  FUZZ_CHECK(o.output.size() == first, "first output is %zu bytes, not %zu", o.output.size(),
             first);
  for (std::string_view chunk : split(in, sizes)) {
    auto r = h.feed(chunk);
    o.output += h.take_output();
    if (!r) {
      o.error = r.error().message;
      FUZZ_CHECK(h.failed(), "feed failed but the handshake is not failed");
      break;
    }
    FUZZ_CHECK(!h.failed(), "feed succeeded on a failed handshake");
  }
  o.done = h.done();
  o.failed = h.failed();
  FUZZ_CHECK(!(o.done && o.failed), "done and failed");
  if (o.failed) {
    FUZZ_CHECK(!h.has_output() && h.take_output().empty(), "a failed handshake has output");
    FUZZ_CHECK(!h.feed("x"), "a failed handshake accepted more bytes");
    FUZZ_CHECK(h.take_output().empty(), "a failed handshake wrote after more bytes");
  }
  if (o.done) {
    o.leftover = h.take_leftover();
    FUZZ_CHECK(h.take_leftover().empty(), "the leftover was handed over twice");
    o.peer = h.peer_key();
    o.send = h.send_key();
    o.receive = h.receive_key();
    o.version = h.version();
  }
  return o;
}

inline void check_handshake(wire::Role role, const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool responder = role == wire::Role::responder;

  // Chunk sizes from the input itself: 1..8 bytes, cycling over its first bytes.
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 16); ++i)
    sizes.push_back(1 + data[i] % 8);
  if (sizes.empty()) sizes.push_back(1);

  Outcome whole = drive(role, in, {});
  Outcome pieces = drive(role, in, sizes);

  FUZZ_CHECK(whole.done == pieces.done && whole.failed == pieces.failed,
             "whole vs chunked: done %d/%d failed %d/%d", whole.done, pieces.done, whole.failed,
             pieces.failed);
  FUZZ_CHECK(whole.error == pieces.error, "whole vs chunked errors: '%s' vs '%s'",
             whole.error.c_str(), pieces.error.c_str());
  FUZZ_CHECK(whole.leftover == pieces.leftover && whole.peer == pieces.peer &&
                 whole.send == pieces.send && whole.receive == pieces.receive &&
                 whole.version == pieces.version,
             "whole vs chunked: different results");

  // What was sent: a prefix of hello || msg1 || msg3 (initiator) or
  // hello || msg2 (responder), by sizes; all of it only when done, or, for
  // the responder, when it got to answer msg1.
  std::size_t hello = wire::encode_hello(wire::kOurVersions).size();
  std::vector<std::size_t> allowed =
      responder ? std::vector<std::size_t>{hello, hello + wire::Handshake::kMsg2Size}
                : std::vector<std::size_t>{
                      hello + wire::Handshake::kMsg1Size,
                      hello + wire::Handshake::kMsg1Size + wire::Handshake::kMsg3Size};
  for (const Outcome* o : {&whole, &pieces}) {
    FUZZ_CHECK(std::find(allowed.begin(), allowed.end(), o->output.size()) != allowed.end(),
               "sent %zu bytes", o->output.size());
    if (!responder)
      FUZZ_CHECK((o->output.size() == allowed[1]) == o->done,
                 "the initiator sent msg3 without finishing, or finished without it");
  }
  if (!whole.failed)
    FUZZ_CHECK(whole.output == pieces.output, "whole vs chunked: different output");
  FUZZ_CHECK(pieces.output.compare(0, whole.output.size(), whole.output) == 0,
             "whole vs chunked: output is not a prefix");

  // The genuine transcript (for our own hello's versions) always finishes.
  const Transcript& g = responder ? genuine_for_responder() : genuine_for_initiator();
  const std::string& g_in = responder ? g.to_responder : g.to_initiator;
  FUZZ_CHECK(g.ok, "the genuine in-memory handshake fails");
  if (in.substr(0, g_in.size()) == g_in)
    FUZZ_CHECK(whole.done, "the genuine transcript did not finish the handshake: %s",
               whole.error.c_str());

  if (!whole.done) return;

  // Done: only the genuine peer, with the genuine transcript, gets here.
  FUZZ_CHECK(whole.peer == peer_keys(role).public_key, "done with a peer we do not accept");
  FUZZ_CHECK(whole.send != whole.receive, "the two directions share a key");
  auto hello_size = wire::hello_size(in);
  FUZZ_CHECK(hello_size && *hello_size > 0, "done without a hello");
  auto theirs = wire::parse_hello(in.substr(0, *hello_size));
  FUZZ_CHECK(theirs, "done with a bad hello");
  auto version = wire::negotiate(wire::kOurVersions, *theirs);
  FUZZ_CHECK(version && *version == whole.version, "wrong version");

  Transcript t = responder ? run_handshake(true, initiator_keys(), responder_keys(),
                                           responder_keys(), initiator_keys(), *theirs, {})
                           : run_handshake(false, initiator_keys(), responder_keys(),
                                           responder_keys(), initiator_keys(), {}, *theirs);
  FUZZ_CHECK(t.ok, "the genuine handshake for this hello did not finish");
  const std::string& genuine = responder ? t.to_responder : t.to_initiator;
  const std::string& ours = responder ? t.to_initiator : t.to_responder;
  FUZZ_CHECK(in.substr(0, genuine.size()) == genuine,
             "finished on a transcript that is not the genuine one:\n  got  %s\n  want %s",
             hex(in.substr(0, genuine.size()), 400).c_str(), hex(genuine, 400).c_str());
  FUZZ_CHECK(whole.leftover == in.substr(genuine.size()), "wrong leftover (%zu bytes, want %zu)",
             whole.leftover.size(), in.size() - genuine.size());
  FUZZ_CHECK(whole.output == ours, "sent something other than the genuine messages");
}

}  // namespace blk::fuzz
