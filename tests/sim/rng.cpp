#include "rng.hpp"

#include <sodium.h>

#include <cstring>

namespace blk::sim {
namespace {

unsigned char g_seed[randombytes_SEEDBYTES];
std::uint64_t g_calls = 0;

// Each call gets its own ChaCha20 stream: the run's seed with the call
// number folded into its last bytes.
void deterministic_buf(void* buf, std::size_t size) {
  unsigned char seed[randombytes_SEEDBYTES];
  std::memcpy(seed, g_seed, sizeof seed);
  for (int i = 0; i < 8; ++i)
    seed[sizeof seed - 8 + i] ^= static_cast<unsigned char>(g_calls >> (8 * i));
  ++g_calls;
  randombytes_buf_deterministic(buf, size, seed);
}

std::uint32_t deterministic_random() {
  std::uint32_t x;
  deterministic_buf(&x, sizeof x);
  return x;
}

const char* deterministic_name() {
  return "blk-sim-deterministic";
}
void deterministic_stir() {}

randombytes_implementation g_impl = {deterministic_name, deterministic_random,
                                     deterministic_stir, nullptr,
                                     deterministic_buf,  nullptr};

}  // namespace

void install_deterministic_randombytes() {
  randombytes_set_implementation(&g_impl);
}

void seed_randombytes(std::uint64_t seed) {
  Rng r(seed ^ 0x5eed5eed5eed5eedull);
  for (std::size_t i = 0; i < sizeof g_seed; i += 8) {
    std::uint64_t x = r.next();
    std::memcpy(g_seed + i, &x, 8);
  }
  g_calls = 0;
}

}  // namespace blk::sim
