#include "blk/identity.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "blk/encoding.hpp"

namespace blk {

KeyPair generate_keypair() {
  KeyPair k;
  crypto_sign_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

std::string machine_id_for(std::string_view public_key) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(public_key.data()),
                     public_key.size(), nullptr, 0);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(h), sizeof h));
}

Result<void> write_secret_key(const std::string& path, const KeyPair& keys) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  crypto_sign_ed25519_sk_to_seed(seed, keys.secret_key.data());
  std::string text =
      base64_encode(std::string_view(reinterpret_cast<const char*>(seed), sizeof seed)) + "\n";
  sodium_memzero(seed, sizeof seed);

  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    sodium_memzero(text.data(), text.size());
    Code code = err == EEXIST                   ? Code::store_exists
                : err == EROFS || err == EACCES ? Code::store_readonly
                                                : Code::failure;
    return make_error(code, fmt::format("cannot create {}: {}", path, std::strerror(err)));
  }
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fsync(fd) == 0 && ok;
  int err = errno;
  close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok)
    return make_error(Code::failure, fmt::format("cannot write {}: {}", path, std::strerror(err)));
  return {};
}

}  // namespace blk
