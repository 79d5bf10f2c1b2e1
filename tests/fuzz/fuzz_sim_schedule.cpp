// Fuzz target: the deterministic sync simulator (tests/sim) with its
// schedule taken from the fuzzer's bytes. Every choice a run makes (clock
// skews, the workload, who dials whom and when, session options, latencies,
// chunk sizes, cuts, corrupted bytes, partitions, crashes, the order of the
// final rounds) is a draw of the simulator's Rng, and here the draws come
// from the input: a draw below n takes the fewest bytes that hold n - 1.
// When the input is used up, the generator of a fixed seed takes over, so a
// short input is an ordinary run whose first choices the fuzzer picked.
//
// Input: one byte (bit 0: 2 or 3 machines, few so that a run is quick),
// then the schedule.
//
// Invariants: the simulator's checks (tests/sim/README.md): convergence
// after one round of syncs and a silent round after it, no acknowledged
// write lost, nothing unacknowledged appears, every sync of the rounds
// completes, connections end after the faults, no unexpected error from a
// session, a store or a channel.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../sim/rng.hpp"
#include "../sim/world.hpp"
#include "fuzz_common.hpp"

namespace fs = std::filesystem;

namespace {

// The seed whose generator continues a schedule that ran out.
constexpr std::uint64_t kTailSeed = 1;

std::string g_root;  // this process's stores

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  blk::sim::install_deterministic_randombytes();
  FUZZ_CHECK(sodium_init() >= 0, "sodium_init");
  std::error_code ec;
  fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                      ? fs::path("/dev/shm")
                      : fs::temp_directory_path();
  std::string templ = (base / "blk-fuzz-sim-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(templ.data()), "mkdtemp in %s", base.c_str());
  g_root = templ;
  std::atexit([] {
    std::error_code e;
    fs::remove_all(g_root, e);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  blk::sim::Config c;
  c.seed = kTailSeed;
  c.machines = size > 0 && (data[0] & 1) ? 3 : 2;
  if (size > 0) c.schedule = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  c.dir = g_root + "/run";
  std::error_code ec;
  fs::remove_all(c.dir, ec);
  fs::create_directories(c.dir, ec);
  FUZZ_CHECK(!ec, "cannot create %s", c.dir.c_str());

  blk::sim::Outcome o = blk::sim::run_seed(c);
  fs::remove_all(c.dir, ec);
  if (!o.pass) {
    for (const auto& line : o.tail) std::fprintf(stderr, "%s\n", line.c_str());
    FUZZ_CHECK(o.pass, "the simulator's checks failed (%d machines, %llu events): %s", o.machines,
               static_cast<unsigned long long>(o.events), o.reason.c_str());
  }
  return 0;
}
