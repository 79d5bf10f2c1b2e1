// The handshake: mutual authentication with the manifest's ed25519 keys and
// fresh X25519 ephemeral keys (forward secrecy), SIGMA-I style, built only
// from libsodium primitives. Sans-I/O: feed it bytes, take bytes to send.
//
//   I → R  hello_I, msg1 = e_I                                  (32 bytes)
//   R → I  hello_R                          (sent at once, not waiting)
//   R → I  msg2 = e_R || AEAD(k2, pk_R || sig_R("blk-v1 responder" || H1))
//   I → R  msg3 =        AEAD(k3, pk_I || sig_I("blk-v1 initiator" || H2))
//
// H1 = BLAKE2b(label, hello_I, hello_R, e_I, e_R), H2 = BLAKE2b(H1-state,
// msg2), H3 = BLAKE2b(H2-state, msg3). hs = BLAKE2b(key = X25519(e_I, e_R),
// H1); k2, k3 are crypto_kdf subkeys of hs. The session keys are crypto_kdf
// subkeys of BLAKE2b(key = hs, H3). man 7 blk-protocol has every byte.
//
// Refused, with nothing more sent: a bad hello or no common version, a
// low-order ephemeral key, a failed AEAD (any altered byte), a bad
// signature, our own key coming back (reflection), and any key the
// `accept` callback refuses (not in the manifest, not the expected peer).
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "blk/error.hpp"
#include "blk/identity.hpp"

namespace blk::wire {

enum class Role { initiator, responder };

using PublicKey = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;
using SessionKey = std::array<unsigned char, 32>;

// Decides whether the authenticated peer key may talk to us; an error says
// why not (shown to the person, logged by servers).
using AcceptPeer = std::function<Result<void>(const PublicKey&)>;

struct HandshakeConfig {
  Role role = Role::initiator;
  const KeyPair* self = nullptr;  // borrowed; must outlive the handshake
  AcceptPeer accept;
  std::vector<std::uint16_t> versions;  // ours; empty means kOurVersions
};

class Handshake {
 public:
  explicit Handshake(HandshakeConfig config);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // Bytes to send now (the hello, then each message as it is due). Empty
  // once failed: a failed handshake writes nothing more.
  std::string take_output();
  bool has_output() const { return !out_.empty(); }

  // Feeds received bytes, in pieces of any size (one at a time works). An
  // error fails the handshake for good.
  Result<void> feed(std::string_view bytes);

  // Once done(): the bytes received after the handshake's last message
  // (the start of the record stream), handed over once.
  std::string take_leftover() { return std::move(inbox_); }

  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }

  // Valid once done().
  std::uint16_t version() const { return version_; }
  const PublicKey& peer_key() const { return peer_key_; }
  const SessionKey& send_key() const { return send_key_; }
  const SessionKey& receive_key() const { return receive_key_; }

  // Sizes of the fixed-size messages (for tests and the protocol page).
  static constexpr std::size_t kMsg1Size = 32;
  static constexpr std::size_t kProofSize = crypto_sign_PUBLICKEYBYTES + crypto_sign_BYTES;
  static constexpr std::size_t kMsg2Size =
      32 + kProofSize + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  static constexpr std::size_t kMsg3Size = kProofSize + crypto_aead_xchacha20poly1305_ietf_ABYTES;

 private:
  enum class State { hello, msg1, msg2, msg3, done, failed };

  Result<std::size_t> step(std::string_view bytes);
  Result<void> on_hello(std::string_view hello);
  Result<void> on_msg1(std::string_view msg);
  Result<void> on_msg2(std::string_view msg);
  Result<void> on_msg3(std::string_view msg);
  Result<void> derive_handshake_keys(const unsigned char* peer_ephemeral);
  std::string seal_proof(const char* label);
  Result<void> open_proof(std::string_view sealed, const SessionKey& key, const char* label,
                          const std::array<unsigned char, 32>& signed_hash);
  void derive_session_keys();
  Error fail(Error e);

  HandshakeConfig config_;
  State state_ = State::hello;
  std::string out_;
  std::string inbox_;  // received, not yet consumed
  std::string hello_ours_, hello_theirs_;
  std::string msg1_;  // the initiator's, until the transcript takes it
  std::array<unsigned char, 32> eph_secret_{}, eph_public_{};
  crypto_generichash_state transcript_{};
  std::array<unsigned char, 32> h1_{}, h2_{}, hs_{};
  SessionKey k2_{}, k3_{};
  std::uint16_t version_ = 0;
  PublicKey peer_key_{};
  SessionKey send_key_{}, receive_key_{};
};

}  // namespace blk::wire
