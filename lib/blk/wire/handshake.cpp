#include "blk/wire/handshake.hpp"

#include <fmt/format.h>

#include <cstring>

#include "blk/encoding.hpp"
#include "blk/wire/hello.hpp"

namespace blk::wire {
namespace {

constexpr std::string_view kTranscriptLabel = "blk handshake v1";
constexpr char kHandshakeKdf[] = "blk-hsk1";  // crypto_kdf contexts: 8 bytes
constexpr char kSessionKdf[] = "blk-ses1";
constexpr const char* kResponderLabel = "blk-v1 responder";
constexpr const char* kInitiatorLabel = "blk-v1 initiator";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void absorb(crypto_generichash_state& st, std::string_view s) {
  crypto_generichash_update(&st, bytes(s), s.size());
}

std::array<unsigned char, 32> digest(crypto_generichash_state st) {  // by value: a snapshot
  std::array<unsigned char, 32> h;
  crypto_generichash_final(&st, h.data(), h.size());
  return h;
}

std::string_view view(const unsigned char* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

Error refuse(std::string why) {
  return make_error(Code::failure, "handshake failed: " + why);
}

}  // namespace

Handshake::Handshake(HandshakeConfig config) : config_(std::move(config)) {
  if (config_.versions.empty()) config_.versions = kOurVersions;
  hello_ours_ = encode_hello(config_.versions);
  out_ = hello_ours_;
  randombytes_buf(eph_secret_.data(), eph_secret_.size());
  crypto_scalarmult_base(eph_public_.data(), eph_secret_.data());
  if (config_.role == Role::initiator) {
    msg1_.assign(view(eph_public_.data(), eph_public_.size()));
    out_ += msg1_;
  }
}

Handshake::~Handshake() {
  sodium_memzero(eph_secret_.data(), eph_secret_.size());
  sodium_memzero(hs_.data(), hs_.size());
  sodium_memzero(k2_.data(), k2_.size());
  sodium_memzero(k3_.data(), k3_.size());
  sodium_memzero(send_key_.data(), send_key_.size());
  sodium_memzero(receive_key_.data(), receive_key_.size());
}

std::string Handshake::take_output() {
  std::string out;
  out.swap(out_);
  return out;
}

Error Handshake::fail(Error e) {
  state_ = State::failed;
  out_.clear();
  return e;
}

Result<void> Handshake::feed(std::string_view in) {
  if (state_ == State::failed) return refuse("it failed earlier");
  inbox_.append(in);
  std::size_t used = 0;
  while (state_ != State::done) {
    auto n = step(std::string_view(inbox_).substr(used));
    if (!n) {
      inbox_.clear();
      return fail(std::move(n).error());
    }
    if (*n == 0) break;  // needs more bytes
    used += *n;
  }
  inbox_.erase(0, used);
  return {};
}

// Consumes one message if all of it is there; 0 if more bytes are needed.
Result<std::size_t> Handshake::step(std::string_view in) {
  std::size_t need = 0;
  switch (state_) {
    case State::hello: {
      auto size = hello_size(in);
      if (!size) return std::move(size).error();
      if (*size == 0) return std::size_t{0};
      BLK_TRY(on_hello(in.substr(0, *size)));
      return *size;
    }
    case State::msg1:
      need = kMsg1Size;
      break;
    case State::msg2:
      need = kMsg2Size;
      break;
    case State::msg3:
      need = kMsg3Size;
      break;
    case State::done:
    case State::failed:
      return std::size_t{0};
  }
  if (in.size() < need) return std::size_t{0};
  std::string_view msg = in.substr(0, need);
  switch (state_) {
    case State::msg1:
      BLK_TRY(on_msg1(msg));
      break;
    case State::msg2:
      BLK_TRY(on_msg2(msg));
      break;
    default:
      BLK_TRY(on_msg3(msg));
      break;
  }
  return need;
}

Result<void> Handshake::on_hello(std::string_view hello) {
  auto theirs = parse_hello(hello);
  if (!theirs) return std::move(theirs).error();
  auto v = negotiate(config_.versions, *theirs);
  if (!v) {
    auto list = [](const std::vector<std::uint16_t>& vs) {
      return fmt::format("{}", fmt::join(vs, ", "));
    };
    return refuse(fmt::format("no protocol version in common (we speak {}; the peer speaks {})",
                              list(config_.versions), list(*theirs)));
  }
  version_ = *v;
  hello_theirs_.assign(hello);
  state_ = config_.role == Role::initiator ? State::msg2 : State::msg1;
  return {};
}

// Both sides: DH with the peer's ephemeral, then H1 and the handshake keys.
Result<void> Handshake::derive_handshake_keys(const unsigned char* peer_ephemeral) {
  unsigned char shared[crypto_scalarmult_BYTES];
  // Fails (all-zero result) for low-order points: a peer cannot force a
  // known shared secret.
  if (crypto_scalarmult(shared, eph_secret_.data(), peer_ephemeral) != 0)
    return refuse("the peer's ephemeral key is a low-order point");
  bool initiator = config_.role == Role::initiator;
  const std::string& hello_i = initiator ? hello_ours_ : hello_theirs_;
  const std::string& hello_r = initiator ? hello_theirs_ : hello_ours_;
  std::string_view e_i = initiator ? view(eph_public_.data(), 32) : view(peer_ephemeral, 32);
  std::string_view e_r = initiator ? view(peer_ephemeral, 32) : view(eph_public_.data(), 32);
  crypto_generichash_init(&transcript_, nullptr, 0, 32);
  for (std::string_view part :
       {kTranscriptLabel, std::string_view(hello_i), std::string_view(hello_r), e_i, e_r})
    absorb(transcript_, part);
  h1_ = digest(transcript_);
  crypto_generichash(hs_.data(), hs_.size(), h1_.data(), h1_.size(), shared, sizeof shared);
  sodium_memzero(shared, sizeof shared);
  crypto_kdf_derive_from_key(k2_.data(), k2_.size(), 1, kHandshakeKdf, hs_.data());
  crypto_kdf_derive_from_key(k3_.data(), k3_.size(), 2, kHandshakeKdf, hs_.data());
  return {};
}

// pk || sign(label || transcript hash), sealed under the key of our message.
std::string Handshake::seal_proof(const char* label) {
  bool initiator = config_.role == Role::initiator;
  const auto& signed_hash = initiator ? h2_ : h1_;
  const SessionKey& key = initiator ? k3_ : k2_;
  std::string to_sign = std::string(label) + std::string(view(signed_hash.data(), 32));
  unsigned char proof[kProofSize];
  std::memcpy(proof, config_.self->public_key.data(), crypto_sign_PUBLICKEYBYTES);
  crypto_sign_detached(proof + crypto_sign_PUBLICKEYBYTES, nullptr, bytes(to_sign), to_sign.size(),
                       config_.self->secret_key.data());
  // Each handshake key seals exactly one message: a zero nonce is safe.
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
  std::string sealed(kProofSize + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(sealed.data()),
                                             nullptr, proof, sizeof proof, signed_hash.data(),
                                             signed_hash.size(), nullptr, nonce, key.data());
  return sealed;
}

Result<void> Handshake::open_proof(std::string_view sealed, const SessionKey& key,
                                   const char* label,
                                   const std::array<unsigned char, 32>& signed_hash) {
  unsigned char proof[kProofSize];
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(proof, nullptr, nullptr, bytes(sealed),
                                                 sealed.size(), signed_hash.data(),
                                                 signed_hash.size(), nonce, key.data()) != 0)
    return refuse("a handshake message was altered or is not from this session");
  std::memcpy(peer_key_.data(), proof, peer_key_.size());
  if (std::memcmp(peer_key_.data(), config_.self->public_key.data(), peer_key_.size()) == 0)
    return refuse("the peer has our own key (a reflected or self connection)");
  std::string to_sign = std::string(label) + std::string(view(signed_hash.data(), 32));
  if (crypto_sign_verify_detached(proof + peer_key_.size(), bytes(to_sign), to_sign.size(),
                                  peer_key_.data()) != 0)
    return refuse("bad signature from " + base64_encode(view(peer_key_.data(), 32)));
  if (config_.accept) BLK_TRY(config_.accept(peer_key_));
  return {};
}

Result<void> Handshake::on_msg1(std::string_view msg) {  // responder
  BLK_TRY(derive_handshake_keys(bytes(msg)));
  std::string msg2(view(eph_public_.data(), eph_public_.size()));
  msg2 += seal_proof(kResponderLabel);
  absorb(transcript_, msg2);
  h2_ = digest(transcript_);
  out_ += msg2;
  state_ = State::msg3;
  return {};
}

Result<void> Handshake::on_msg2(std::string_view msg) {  // initiator
  BLK_TRY(derive_handshake_keys(bytes(msg)));
  BLK_TRY(open_proof(msg.substr(32), k2_, kResponderLabel, h1_));
  absorb(transcript_, msg);
  h2_ = digest(transcript_);
  std::string msg3 = seal_proof(kInitiatorLabel);
  absorb(transcript_, msg3);
  out_ += msg3;
  derive_session_keys();
  return {};
}

Result<void> Handshake::on_msg3(std::string_view msg) {  // responder
  BLK_TRY(open_proof(msg, k3_, kInitiatorLabel, h2_));
  absorb(transcript_, msg);
  derive_session_keys();
  return {};
}

void Handshake::derive_session_keys() {
  auto h3 = digest(transcript_);
  unsigned char master[32];
  crypto_generichash(master, sizeof master, h3.data(), h3.size(), hs_.data(), hs_.size());
  SessionKey i2r, r2i;
  crypto_kdf_derive_from_key(i2r.data(), i2r.size(), 1, kSessionKdf, master);
  crypto_kdf_derive_from_key(r2i.data(), r2i.size(), 2, kSessionKdf, master);
  sodium_memzero(master, sizeof master);
  bool initiator = config_.role == Role::initiator;
  send_key_ = initiator ? i2r : r2i;
  receive_key_ = initiator ? r2i : i2r;
  sodium_memzero(i2r.data(), i2r.size());
  sodium_memzero(r2i.data(), r2i.size());
  state_ = State::done;
}

}  // namespace blk::wire
