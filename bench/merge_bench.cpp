// blk_merge_bench: merges per second through the merge worker process
// against the same plugin loaded into this process, for 4 KiB blobs, in the
// same run (scripts/bench, section `merge`). DESIGN.md §7 expects about
// 20 µs per merge through a pipe; the target is 30.
//
//   blk_merge_bench [--blobs json|score] [--only WAY] PLUGIN.so BLK N   prints key=value lines
//
// --only times one way (in-process, worker or pipelined), for a profiler.
// --blobs json (the default): two JSON objects of about 4 KiB, type "json",
// for plugins/json_fields. --blobs score: two 4096-digit decimal numbers of
// the plugin's first type, for plugins/max_score, whose merge costs next to
// nothing: worker_us - in_process_us is then what the worker itself costs.
// The ways alternate in rounds, so that a change in the machine's load
// falls on all of them; each figure is the median of its 20 rounds. The
// third, worker_pipelined_us, is the path a sync takes: batches of 64
// merges given to PluginHost::prepare, which pipelines them through the
// worker, and then merged one by one (host.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "blk/merge_plugin.h"
#include "blk/plugins/host.hpp"
#include "blk/plugins/loader.hpp"
#include "blk/plugins/worker.hpp"

namespace {

using Clock = std::chrono::steady_clock;

blk::Block version(char who, std::string type, blk::Millis at) {
  blk::Block v;
  v.id = "bench";
  v.type = std::move(type);
  v.created_at = 1;
  v.modified_at = at;
  v.modified_by = std::string(32, who);
  v.versions[v.modified_by] = 1;
  return v;
}

// A JSON object of about `bytes` bytes: fields f0..fN, some shared with the
// other version, so the merge does real work.
blk::Block json_version(char who, std::size_t bytes, blk::Millis at) {
  blk::Block v = version(who, "json", at);
  std::string blob = "{";
  for (int i = 0; blob.size() + 40 < bytes; ++i)
    blob +=
        fmt::format("{}\"f{:03}\":\"{}{:030}\"", i ? "," : "", i + (who == 'b' ? 20 : 0), who, i);
  v.blob = blob + "}";
  return v;
}

// A decimal number of `bytes` digits; b's is the larger.
blk::Block score_version(char who, std::string type, std::size_t bytes, blk::Millis at) {
  blk::Block v = version(who, std::move(type), at);
  v.blob.assign(bytes, '7');
  v.blob[0] = who == 'b' ? '9' : '8';
  return v;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t k = v.size() / 2;
  return v.size() % 2 ? v[k] : (v[k - 1] + v[k]) / 2;
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

int usage() {
  fmt::print(stderr,
             "usage: blk_merge_bench [--blobs json|score] [--only in-process|worker|pipelined] "
             "PLUGIN.so BLK N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string blobs = "json", only;
  while (argc >= 6 &&
         (std::strcmp(argv[1], "--blobs") == 0 || std::strcmp(argv[1], "--only") == 0)) {
    (argv[1][2] == 'b' ? blobs : only) = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc != 4 || (blobs != "json" && blobs != "score")) return usage();
  if (!only.empty() && only != "in-process" && only != "worker" && only != "pipelined")
    return usage();
  auto runs = [&only](const char* way) { return only.empty() || only == way; };
  std::string plugin = argv[1], blk_exe = argv[2];
  long n = std::atol(argv[3]);
  if (n <= 0) return usage();

  auto loaded = blk::plugins::LoadedPlugin::load(plugin);
  if (!loaded) {
    fmt::print(stderr, "{}\n", loaded.error().message);
    return 1;
  }
  blk::Block a, b;
  if (blobs == "json") {
    a = json_version('a', 4096, 1000);
    b = json_version('b', 4096, 2000);
  } else {
    const std::string& type = loaded->info().types.front().type;
    a = score_version('a', type, 4096, 1000);
    b = score_version('b', type, 4096, 2000);
  }

  blk::plugins::Worker worker(blk_exe);
  auto slot = worker.load(plugin, nullptr, 10000);
  if (!slot) {
    fmt::print(stderr, "{}\n", slot.error().message);
    return 1;
  }
  (void)worker.merge(*slot, a, b, 10000);  // warm: the first reply pages things in

  // The pipelined way: through a PluginHost, as a sync merges, kBatch
  // distinct pairs at a time (its replies are kept by version hash).
  constexpr std::size_t kBatch = 64;
  std::filesystem::path plugin_path(plugin);
  blk::PluginRecord record;
  record.name = loaded->info().name;
  record.file = plugin_path.filename().string();
  record.types = loaded->info().types;
  blk::plugins::HostOptions options;
  options.worker_exe = blk_exe;
  options.timeout_ms = 10000;
  blk::plugins::PluginHost host({record}, plugin_path.parent_path().string(), options);
  std::vector<std::pair<blk::Block, blk::Block>> batch(kBatch, {a, b});
  std::vector<std::pair<const blk::Block*, const blk::Block*>> pairs;
  for (std::size_t i = 0; i < kBatch; ++i) {
    for (blk::Block* v : {&batch[i].first, &batch[i].second}) {
      v->id = fmt::format("bench{}", i);
      v->version_hash = blk::compute_version_hash(*v);
    }
    pairs.emplace_back(&batch[i].first, &batch[i].second);
  }
  (void)host.merge(a, b);  // warm: starts its worker

  std::size_t merged_bytes = 0;
  // Each way's µs per merge in each round: the figures are their medians,
  // which a moment of a busy machine (another VM on the host) moves less
  // than a mean.
  std::vector<double> in_process, through_worker, pipelined;
  auto per_merge_us = [](Clock::time_point t0, long count) {
    return seconds_since(t0) * 1e6 / static_cast<double>(count);
  };
  constexpr long kRounds = 20;
  for (long round = 0; round < kRounds; ++round) {
    long count = n / kRounds + (round < n % kRounds ? 1 : 0);
    auto t0 = Clock::now();
    for (long i = 0; i < (runs("in-process") ? count : 0); ++i) {
      auto r = loaded->merge(a, b);
      if (r.status != BLK_MERGE_MERGED) {
        fmt::print(stderr, "in-process merge failed: {}\n", r.error);
        return 1;
      }
      merged_bytes = r.blob.size();
    }
    in_process.push_back(per_merge_us(t0, count));
    t0 = Clock::now();
    for (long i = 0; i < (runs("worker") ? count : 0); ++i) {
      auto r = worker.merge(*slot, a, b, 10000);
      if (!r || r->status != BLK_MERGE_MERGED) {
        fmt::print(stderr, "worker merge failed: {}\n", r ? r->error : r.error().message);
        return 1;
      }
    }
    through_worker.push_back(per_merge_us(t0, count));
    t0 = Clock::now();
    for (long done = 0; done < (runs("pipelined") ? count : 0);) {
      std::size_t k = std::min<std::size_t>(kBatch, static_cast<std::size_t>(count - done));
      if (k == kBatch)
        host.prepare(pairs);
      else
        host.prepare({pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(k)});
      for (std::size_t i = 0; i < k; ++i) {
        auto r = host.merge(batch[i].first, batch[i].second);
        if (r.kind != blk::MergeAttempt::Kind::merged) {
          fmt::print(stderr, "pipelined merge failed: {}\n", r.reason);
          return 1;
        }
      }
      done += static_cast<long>(k);
    }
    pipelined.push_back(per_merge_us(t0, count));
  }
  fmt::print("merges={}\nblob_a={}\nblob_b={}\nmerged={}\n", n, a.blob.size(), b.blob.size(),
             merged_bytes);
  fmt::print("in_process_us={:.2f}\nworker_us={:.2f}\n", median(in_process),
             median(through_worker));
  fmt::print("worker_pipelined_us={:.2f}\npipelined_batch={}\npipelined_answered={}\n",
             median(pipelined), kBatch, host.worker().pipelined());
  fmt::print("in_process_mean_us={:.2f}\nworker_mean_us={:.2f}\nworker_pipelined_mean_us={:.2f}\n",
             mean(in_process), mean(through_worker), mean(pipelined));
  return 0;
}
