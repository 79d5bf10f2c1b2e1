// A Machine's identity: an ed25519 key pair, and the machine id derived from
// the public key (so nobody can claim an id without holding its secret key).
#pragma once

#include <sodium.h>

#include <array>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk {

struct KeyPair {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
};

// A fresh random key pair.
KeyPair generate_keypair();

// The machine id: hex of BLAKE2b-128 over the public key (32 characters).
std::string machine_id_for(std::string_view public_key);

// Writes the secret key seed, base64, to a new file of mode 0600. Refuses to
// overwrite (Code::store_exists). The key never goes through argv or stdout.
Result<void> write_secret_key(const std::string& path, const KeyPair& keys);

}  // namespace blk
