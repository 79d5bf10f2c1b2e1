// Shared by the fuzz targets and make_corpus: a deterministic random source
// for libsodium (so a handshake or a record stream made once can be replayed
// byte for byte), the fixed keys the targets use, and a check macro.
//
// Determinism: libsodium draws all its randomness through one
// randombytes_implementation; we install one that derives each request
// from a counter, and every target resets the counter at the start of each
// input. A Handshake draws its ephemeral secret in its constructor and a
// RecordWriter its stream header, so the n-th object made after a reset
// always gets the same bytes. Ed25519 signatures and the zero-nonce AEAD
// are deterministic by themselves.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blk/identity.hpp"
#include "blk/wire/handshake.hpp"
#include "blk/wire/hello.hpp"

// Like assert(), but never compiled out, and says what broke. libFuzzer
// sees the abort() as a crash and saves the input.
#define FUZZ_CHECK(cond, ...)                                                                  \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                       \
      std::fprintf(stderr, "\n");                                                              \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace blk::fuzz {

// ---- deterministic randomness -------------------------------------------

inline std::uint64_t& rng_counter() {
  static std::uint64_t counter = 0;
  return counter;
}

// The next draws start from `start` (targets use 0 for the side under test,
// make_corpus a far-away value for the other side, so the two sides'
// ephemeral keys differ as in real life).
inline void rng_reset(std::uint64_t start = 0) {
  rng_counter() = start;
}

inline void rng_buf(void* buf, std::size_t size) {
  unsigned char seed[randombytes_SEEDBYTES] = {'b', 'l', 'k', 'f', 'u', 'z', 'z'};
  std::uint64_t n = rng_counter()++;
  std::memcpy(seed + 8, &n, sizeof n);
  randombytes_buf_deterministic(buf, size, seed);
}

inline std::uint32_t rng_random() {
  std::uint32_t x;
  rng_buf(&x, sizeof x);
  return x;
}

inline const char* rng_name() {
  return "blk-fuzz-deterministic";
}

// Must run before anything else touches libsodium.
inline void init_sodium() {
  static randombytes_implementation impl = {
      rng_name, rng_random, nullptr /* stir */, nullptr /* uniform: derived from random */,
      rng_buf,  nullptr /* close */};
  static bool done = false;
  if (done) return;
  done = true;
  randombytes_set_implementation(&impl);
  if (sodium_init() < 0) {
    std::fprintf(stderr, "sodium_init failed\n");
    std::abort();
  }
}

// ---- fixed keys -----------------------------------------------------------

inline KeyPair keypair_from_seed(unsigned char fill) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  std::memset(seed, fill, sizeof seed);
  KeyPair k;
  crypto_sign_seed_keypair(k.public_key.data(), k.secret_key.data(), seed);
  return k;
}

// The machine under test in the handshake targets, its one accepted peer,
// and a stranger with a valid key that the accept callback refuses.
inline const KeyPair& responder_keys() {
  static KeyPair k = keypair_from_seed(0x52);  // 'R'
  return k;
}
inline const KeyPair& initiator_keys() {
  static KeyPair k = keypair_from_seed(0x49);  // 'I'
  return k;
}
inline const KeyPair& stranger_keys() {
  static KeyPair k = keypair_from_seed(0x53);  // 'S'
  return k;
}

// The record targets' stream key.
inline wire::SessionKey record_key() {
  wire::SessionKey k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(0xa0 + i);
  return k;
}

inline wire::AcceptPeer accept_only(const KeyPair& peer) {
  wire::PublicKey want = peer.public_key;
  return [want](const wire::PublicKey& got) -> Result<void> {
    if (got != want) return make_error(Code::failure, "handshake failed: not our peer");
    return {};
  };
}

inline wire::HandshakeConfig config(wire::Role role, const KeyPair& self, const KeyPair& accepted) {
  wire::HandshakeConfig c;
  c.role = role;
  c.self = &self;
  c.accept = accept_only(accepted);
  return c;
}

// ---- genuine transcripts ----------------------------------------------------

// What each side of a successful in-memory handshake received.
struct Transcript {
  std::string to_responder;  // hello_I || msg1 || msg3
  std::string to_initiator;  // hello_R || msg2
  bool ok = false;
};

// Runs a handshake between `i` and `r` in memory. The side under test is
// made first, right after rng_reset(0), exactly as the targets make it; the
// other side draws from far away in the random stream.
inline Transcript run_handshake(bool responder_under_test, const KeyPair& i_keys,
                                const KeyPair& i_accepts, const KeyPair& r_keys,
                                const KeyPair& r_accepts,
                                std::vector<std::uint16_t> i_versions = {},
                                std::vector<std::uint16_t> r_versions = {}) {
  auto i_cfg = config(wire::Role::initiator, i_keys, i_accepts);
  i_cfg.versions = std::move(i_versions);
  auto r_cfg = config(wire::Role::responder, r_keys, r_accepts);
  r_cfg.versions = std::move(r_versions);
  rng_reset(0);
  std::unique_ptr<wire::Handshake> i, r;
  if (responder_under_test) {
    r = std::make_unique<wire::Handshake>(r_cfg);
    rng_reset(1000);
    i = std::make_unique<wire::Handshake>(i_cfg);
  } else {
    i = std::make_unique<wire::Handshake>(i_cfg);
    rng_reset(1000);
    r = std::make_unique<wire::Handshake>(r_cfg);
  }
  Transcript t;
  // Each side gets its proof checked even if the other refuses, so a
  // refused transcript still holds all three messages.
  for (int round = 0; round < 8; ++round) {
    std::string a = i->take_output(), b = r->take_output();
    if (a.empty() && b.empty()) break;
    t.to_responder += a;
    t.to_initiator += b;
    if (!a.empty() && !r->failed()) (void)r->feed(a);
    if (!b.empty() && !i->failed()) (void)i->feed(b);
  }
  t.ok = i->done() && r->done();
  return t;
}

// The transcript a responder made right after rng_reset(0) must receive to
// finish with the genuine initiator, and the one an initiator made right
// after rng_reset(0) must receive.
inline const Transcript& genuine_for_responder() {
  static Transcript t =
      run_handshake(true, initiator_keys(), responder_keys(), responder_keys(), initiator_keys());
  return t;
}
inline const Transcript& genuine_for_initiator() {
  static Transcript t =
      run_handshake(false, initiator_keys(), responder_keys(), responder_keys(), initiator_keys());
  return t;
}

// ---- feeding in chunks --------------------------------------------------------

// Chunk sizes that cycle through `sizes` (a size of 0 means "all the rest");
// an empty list means one chunk.
inline std::vector<std::string_view> split(std::string_view data,
                                           const std::vector<std::size_t>& sizes) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (!data.empty()) {
    std::size_t n = sizes.empty() ? data.size() : sizes[i++ % sizes.size()];
    if (n == 0 || n > data.size()) n = data.size();
    out.push_back(data.substr(0, n));
    data.remove_prefix(n);
  }
  return out;
}

inline std::string hex(std::string_view s, std::size_t max = 64) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    out += digits[static_cast<unsigned char>(s[i]) >> 4];
    out += digits[static_cast<unsigned char>(s[i]) & 15];
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace blk::fuzz
