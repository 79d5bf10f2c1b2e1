#include "blk/secret_key.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "blk/encoding.hpp"

namespace blk {
namespace {

// A seed file is 45 bytes; anything much longer is not one.
constexpr std::size_t kMaxFileBytes = 256;

// Wipes a buffer that held key material when it goes out of scope.
struct Wiped {
  std::string bytes;
  ~Wiped() { sodium_memzero(bytes.data(), bytes.size()); }
};

}  // namespace

Result<KeyPair> load_secret_key(const std::string& path, std::string_view expected_public_key) {
  if (sodium_init() < 0) return make_error(Code::failure, "libsodium failed to initialize");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    return make_error(err == ENOENT ? Code::store_unusable : Code::failure,
                      fmt::format("cannot read the secret key {}: {}", path, std::strerror(err)));
  }
  // Check the file we opened, not the name: it cannot change in between.
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return make_error(Code::store_unusable,
                      fmt::format("the secret key {} is not a regular file", path));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return make_error(Code::failure,
                      fmt::format("the secret key {} can be read by others (mode {:04o}); make it "
                                  "private with 'chmod 600 {}'",
                                  path, st.st_mode & 07777, path));
  }
  Wiped text;
  text.bytes.resize(kMaxFileBytes + 1);
  ssize_t n = read(fd, text.bytes.data(), text.bytes.size());
  int err = errno;
  close(fd);
  if (n < 0)
    return make_error(Code::failure,
                      fmt::format("cannot read the secret key {}: {}", path, std::strerror(err)));
  text.bytes.resize(static_cast<std::size_t>(n));
  std::string_view line(text.bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);

  auto seed = base64_decode(line);
  Wiped seed_bytes{seed ? std::move(*seed) : std::string()};
  if (!seed || seed_bytes.bytes.size() != crypto_sign_SEEDBYTES)
    return make_error(Code::store_unusable,
                      fmt::format("the secret key {} is damaged: not a base64 seed of {} bytes",
                                  path, crypto_sign_SEEDBYTES));
  KeyPair keys;
  crypto_sign_seed_keypair(keys.public_key.data(), keys.secret_key.data(),
                           reinterpret_cast<const unsigned char*>(seed_bytes.bytes.data()));
  std::string public_key = base64_encode(std::string_view(
      reinterpret_cast<const char*>(keys.public_key.data()), keys.public_key.size()));
  if (public_key != expected_public_key) {
    sodium_memzero(keys.secret_key.data(), keys.secret_key.size());
    return make_error(Code::store_unusable,
                      fmt::format("the secret key {} is not this store's: its public key is {}, "
                                  "the store's is {}",
                                  path, public_key, expected_public_key));
  }
  return keys;
}

}  // namespace blk
