// The simulator's only sources of randomness: one seeded generator for every
// choice the simulation makes, and a deterministic stand-in for libsodium's
// randombytes (handshake ephemeral keys, secretstream headers), so that a
// seed replays byte for byte.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace blk::sim {

// SplitMix64 with draws of our own: std::uniform_int_distribution gives
// different numbers on different standard libraries, this does not.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  // Draws from `schedule` first, then from SplitMix64 once it is used up:
  // the fuzz target sim_schedule hands over the fuzzer's bytes, so that the
  // run's choices are its. A draw below n takes the fewest bytes that can
  // hold n - 1 (little-endian, modulo n); `schedule` must outlive the Rng.
  Rng(std::uint64_t seed, std::string_view schedule) : state_(seed), schedule_(schedule) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) for n > 0, by rejection: no modulo bias. (Under a
  // schedule: its next bytes, modulo n.)
  std::uint64_t below(std::uint64_t n) {
    if (!schedule_.empty()) return from_schedule(n);
    return unscheduled_below(n);
  }

  // The same, always from the generator, even under a schedule: for key
  // seeds and epochs, which are no choice of the run's (a schedule of zeros
  // would give two machines one key: one machine twice).
  std::uint64_t unscheduled_below(std::uint64_t n) {
    std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
      std::uint64_t x = next();
      if (x < limit) return x % n;
    }
  }

  // Uniform in [lo, hi], both included.
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  bool percent(int p) { return below(100) < static_cast<std::uint64_t>(p); }

  // Between lo and hi with small values likelier: a uniform draw below a
  // uniformly drawn power of two. Sizes, byte counts and durations.
  std::int64_t skewed(std::int64_t lo, std::int64_t hi) {
    int bits = 0;
    while ((std::int64_t{1} << bits) <= hi - lo && bits < 62) ++bits;
    std::int64_t top = std::int64_t{1} << below(static_cast<std::uint64_t>(bits) + 1);
    return lo + range(0, std::min(top - 1, hi - lo));
  }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t from_schedule(std::uint64_t n) {
    std::uint64_t x = 0;
    for (std::uint64_t rest = n - 1, shift = 0; rest > 0 && !schedule_.empty();
         rest >>= 8, shift += 8) {
      x |= std::uint64_t{static_cast<unsigned char>(schedule_.front())} << shift;
      schedule_.remove_prefix(1);
    }
    return x % n;
  }

  std::uint64_t state_;
  std::string_view schedule_;
};

// Replaces libsodium's randombytes with a deterministic stream. Must be
// called before sodium_init(), once per process.
void install_deterministic_randombytes();
// Restarts that stream from `seed`: call at the start of every run.
void seed_randombytes(std::uint64_t seed);

}  // namespace blk::sim
