// blk_merge_bench: merges per second through the merge worker process
// against the same plugin loaded into this process, for 4 KiB blobs, in the
// same run (scripts/bench, section `merge`). DESIGN.md §7 expects about
// 20 µs per merge through a pipe; the target is 30.
//
//   blk_merge_bench PLUGIN.so BLK N   prints key=value lines
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "blk/merge_plugin.h"
#include "blk/plugins/loader.hpp"
#include "blk/plugins/worker.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// A JSON object of about `bytes` bytes: fields f0..fN, some shared with the
// other version, so the merge does real work.
blk::Block version(char who, std::size_t bytes, blk::Millis at) {
  blk::Block v;
  v.id = "bench";
  v.type = "json";
  v.created_at = 1;
  v.modified_at = at;
  v.modified_by = std::string(32, who);
  v.versions[v.modified_by] = 1;
  std::string blob = "{";
  for (int i = 0; blob.size() + 40 < bytes; ++i)
    blob +=
        fmt::format("{}\"f{:03}\":\"{}{:030}\"", i ? "," : "", i + (who == 'b' ? 20 : 0), who, i);
  v.blob = blob + "}";
  return v;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: blk_merge_bench PLUGIN.so BLK N\n");
    return 2;
  }
  std::string plugin = argv[1], blk_exe = argv[2];
  long n = std::atol(argv[3]);
  blk::Block a = version('a', 4096, 1000), b = version('b', 4096, 2000);

  auto loaded = blk::plugins::LoadedPlugin::load(plugin);
  if (!loaded) {
    fmt::print(stderr, "{}\n", loaded.error().message);
    return 1;
  }
  std::size_t merged_bytes = 0;
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    auto r = loaded->merge(a, b);
    if (r.status != BLK_MERGE_MERGED) {
      fmt::print(stderr, "in-process merge failed: {}\n", r.error);
      return 1;
    }
    merged_bytes = r.blob.size();
  }
  double in_process = seconds_since(t0);

  blk::plugins::Worker worker(blk_exe);
  auto slot = worker.load(plugin, nullptr, 10000);
  if (!slot) {
    fmt::print(stderr, "{}\n", slot.error().message);
    return 1;
  }
  (void)worker.merge(*slot, a, b, 10000);  // warm: the first reply pages things in
  t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    auto r = worker.merge(*slot, a, b, 10000);
    if (!r || r->status != BLK_MERGE_MERGED) {
      fmt::print(stderr, "worker merge failed: {}\n", r ? r->error : r.error().message);
      return 1;
    }
  }
  double through_worker = seconds_since(t0);
  fmt::print("merges={}\nblob_a={}\nblob_b={}\nmerged={}\n", n, a.blob.size(), b.blob.size(),
             merged_bytes);
  fmt::print("in_process_us={:.2f}\nworker_us={:.2f}\n", in_process * 1e6 / static_cast<double>(n),
             through_worker * 1e6 / static_cast<double>(n));
  return 0;
}
