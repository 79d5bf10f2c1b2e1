// A batch of received versions merged through the merge worker pipelined
// (Transaction::prepare_merges, PluginHost::prepare) ends exactly as the
// same versions applied one by one, one round trip each; and a plugin that
// crashes in the middle of a pipelined batch loses nothing. Requests and
// merged blobs travel through the shared rings: they wrap, what does not
// fit goes through the socket, and the worker can resize neither nor write
// to the request ring.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "blk/merge_plugin.h"
#include "blk/plugins/host.hpp"
#include "blk/plugins/shared_ring.hpp"
#include "blk/plugins/worker.hpp"
#include "blk/store_dir.hpp"
#include "temp_dir.hpp"

using namespace blk;

namespace {

const std::string kWriterA(32, 'a');  // the versions both stores had
const std::string kWriterB(32, 'b');  // the concurrent ones received

Block version(const std::string& id, const std::string& type, const std::string& writer, Millis at,
              std::string blob) {
  Block v;
  v.id = id;
  v.type = type;
  v.created_at = 1000;
  v.modified_at = at;
  v.modified_by = writer;
  v.versions[writer] = 1;
  v.blob = std::move(blob);
  v.version_hash = compute_version_hash(v);
  return v;
}

PluginRecord record_of(const std::string& path, const std::string& name, const std::string& type) {
  PluginRecord r;
  r.name = name;
  r.file = std::filesystem::path(path).filename().string();
  r.types = {PluginType{type, 1}};
  return r;
}

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<Store> store;
  std::shared_ptr<plugins::PluginHost> host;
  std::vector<std::string> warnings;

  explicit Fixture(bool with_crash) {
    StorePaths paths{dir / "store"};
    REQUIRE(init_store(paths, "test").ok());
    auto s = open_store(paths);
    REQUIRE(s.ok());
    store = std::move(*s);
    // The plugins where the build put them: every record's file is in the
    // same folder only if they are, so each gets a host folder of links.
    std::filesystem::create_directory(dir / "plugins");
    std::vector<PluginRecord> records;
    std::filesystem::create_symlink(BLK_PLUGIN_JSON_FIELDS, dir / "plugins/json_fields.so");
    records.push_back(record_of(BLK_PLUGIN_JSON_FIELDS, "json_fields", "json"));
    if (with_crash) {
      std::filesystem::create_symlink(BLK_TEST_PLUGIN_CRASH, dir / "plugins/crash.so");
      records.push_back(record_of(BLK_TEST_PLUGIN_CRASH, "crash", "crash"));
    }
    plugins::HostOptions options;
    options.worker_exe = BLK_EXE;
    options.timeout_ms = 10000;
    options.warn = [this](const std::string& w) { warnings.push_back(w); };
    host = std::make_shared<plugins::PluginHost>(std::move(records), dir / "plugins", options);
    store->set_merger(host);
  }

  // Applies `versions` in one transaction, prepared first or not.
  std::vector<ApplyOutcome> apply(const std::vector<Block>& versions, bool prepare) {
    auto tx = store->begin();
    REQUIRE(tx.ok());
    if (prepare) {
      std::vector<const Block*> remotes;
      for (const auto& v : versions) remotes.push_back(&v);
      (*tx)->prepare_merges(remotes);
    }
    std::vector<ApplyOutcome> out;
    for (const auto& v : versions) {
      auto o = (*tx)->apply(v, kWriterB);
      REQUIRE(o.ok());
      out.push_back(*o);
    }
    REQUIRE((*tx)->commit().ok());
    return out;
  }

  // Every block as stored (without its seq), and every held version.
  std::map<std::string, std::string> contents() {
    std::map<std::string, std::string> out;
    ScanFilter all;
    all.include_deleted = true;
    REQUIRE(store
                ->scan(all,
                       [&](const Block& b) {
                         out[b.id] = fmt::format("{} {} {} {}", b.version_hash, b.modified_by,
                                                 b.schema, b.blob);
                         return true;
                       })
                .ok());
    REQUIRE(store
                ->scan_held([&](const HeldVersion& h) {
                  out["held " + h.block.id] = h.block.version_hash + " " + h.reason;
                  return true;
                })
                .ok());
    return out;
  }
};

// N blocks both stores have from writer a, and N concurrent versions of
// them from writer b, JSON objects whose fields json_fields merges. Types
// from `crash_at` are "crash" instead (their plugin crashes).
std::pair<std::vector<Block>, std::vector<Block>> batch(int n, std::set<int> crash_at = {}) {
  std::vector<Block> ours, theirs;
  for (int i = 0; i < n; ++i) {
    std::string id = fmt::format("block{:03}", i);
    std::string type = crash_at.contains(i) ? "crash" : "json";
    ours.push_back(version(id, type, kWriterA, 2000 + i,
                           fmt::format(R"({{"shared":"a{}","only_a":{}}})", i, i)));
    // Every other one is the last-write-wins winner, so both orders occur.
    theirs.push_back(version(id, type, kWriterB, i % 2 ? 1500 : 3000 + i,
                             fmt::format(R"({{"shared":"b{}","only_b":{}}})", i, i * 7)));
  }
  return {ours, theirs};
}

}  // namespace

TEST_CASE("merge pipeline: a prepared batch ends as the same versions applied one by one") {
  constexpr int kN = 60;
  auto [ours, theirs] = batch(kN);
  Fixture piped(false), single(false);
  for (Fixture* f : {&piped, &single})
    for (auto o : f->apply(ours, false)) REQUIRE(o == ApplyOutcome::inserted);
  // One duplicate id in the batch: the second merges with the first's result.
  theirs.push_back(version("block000", "json", std::string(32, 'c'), 5000, R"({"late":1})"));

  auto calls_before = piped.host->worker().calls();
  auto piped_outcomes = piped.apply(theirs, true);
  auto single_outcomes = single.apply(theirs, false);
  CHECK(piped_outcomes == single_outcomes);
  for (int i = 0; i < kN; ++i)
    CHECK(piped_outcomes[static_cast<std::size_t>(i)] == ApplyOutcome::merged);
  CHECK(piped.contents() == single.contents());
  // All kN went through the pipeline; only the duplicate (and the plugin's
  // load) took a round trip of its own.
  CHECK(piped.host->worker().pipelined() == kN);
  CHECK(piped.host->worker().calls() - calls_before <= 2);
  CHECK(single.host->worker().pipelined() == 0);
  CHECK(single.host->worker().calls() >= kN);
  CHECK(piped.warnings.empty());
}

TEST_CASE("merge pipeline: a plugin that crashes mid-batch: versions held, nothing lost") {
  constexpr int kN = 60;
  auto [ours, theirs] = batch(kN, {10, 30, 31, 50});
  Fixture piped(true), single(true);
  for (Fixture* f : {&piped, &single})
    for (auto o : f->apply(ours, false)) REQUIRE(o == ApplyOutcome::inserted);

  auto piped_outcomes = piped.apply(theirs, true);
  auto single_outcomes = single.apply(theirs, false);
  CHECK(piped_outcomes == single_outcomes);
  for (int i : {10, 30, 31, 50})
    CHECK(piped_outcomes[static_cast<std::size_t>(i)] == ApplyOutcome::held);
  CHECK(piped_outcomes[0] == ApplyOutcome::merged);
  CHECK(piped_outcomes[59] == ApplyOutcome::merged);
  CHECK(piped.contents() == single.contents());
  auto held = piped.store->count_held();
  REQUIRE(held.ok());
  CHECK(*held == 4);
  // Only replies written before the crash count (the worker writes a
  // batch's several at a time); the rest were merged again one at a time.
  CHECK(piped.host->worker().pipelined() <= 10);
  CHECK(piped.warnings == single.warnings);
  // Only the crash plugin failed: json_fields, loaded again in the worker
  // that replaced the crashed one, merged the rest.
  CHECK(piped.warnings.size() == 1);
}

TEST_CASE("shared ring: pieces in flight never overlap; it wraps; too big is refused") {
  using plugins::SharedRing;
  SharedRing ring(SharedRing::Writer::blk);
  REQUIRE(ring.fd() >= 0);
  std::mt19937 rng(7);
  std::deque<std::pair<std::size_t, std::size_t>> in_flight;  // the model
  std::size_t wrapped = 0, refused = 0;
  for (int step = 0; step < 20000; ++step) {
    if (!in_flight.empty() && (rng() % 3 == 0 || in_flight.size() > 40)) {
      ring.pop();
      in_flight.pop_front();
      continue;
    }
    std::size_t size = 1 + rng() % (rng() % 8 ? 16384 : SharedRing::kMaxPiece + 4096);
    std::string body(size, static_cast<char>('a' + step % 26));
    auto at = ring.put(body);
    if (size > SharedRing::kMaxPiece) {
      CHECK(!at);
      continue;
    }
    std::size_t used = 0;
    for (auto [o, n] : in_flight) used += n;
    if (!at) {
      // Refused only when the free bytes, wherever they are, could not
      // hold it in one piece.
      CHECK(used + size > SharedRing::kBytes - SharedRing::kMaxPiece);
      ++refused;
      continue;
    }
    REQUIRE(*at + size <= SharedRing::kBytes);
    for (auto [o, n] : in_flight) REQUIRE((*at + size <= o || o + n <= *at));
    if (!in_flight.empty() && *at < in_flight.back().first) ++wrapped;
    in_flight.emplace_back(*at, size);
  }
  CHECK(wrapped > 10);
  CHECK(refused > 0);  // a full ring was met, too
}

TEST_CASE("shared ring: the worker can neither write to the request ring nor resize it") {
  plugins::SharedRing ring(plugins::SharedRing::Writer::blk);
  int fd = ring.fd();
  REQUIRE(fd >= 0);
  REQUIRE(ring.put("request"));
  // What a plugin in the worker could try with its copy of the descriptor.
  CHECK(ftruncate(fd, 4096) != 0);
  CHECK(ftruncate(fd, plugins::SharedRing::kBytes * 2) != 0);
  CHECK(write(fd, "x", 1) != 1);
  CHECK(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(ro != MAP_FAILED);
  CHECK(std::string_view(static_cast<const char*>(ro), 7) == "request");
  CHECK(mprotect(ro, 4096, PROT_READ | PROT_WRITE) != 0);
  munmap(ro, 4096);
}

TEST_CASE("shared ring: the worker writes to the reply ring but cannot resize it") {
  plugins::SharedRing ring(plugins::SharedRing::Writer::worker);
  int fd = ring.fd();
  REQUIRE(fd >= 0);
  auto at = ring.reserve(16);
  REQUIRE(at);
  CHECK(ftruncate(fd, 4096) != 0);
  CHECK(ftruncate(fd, plugins::SharedRing::kBytes * 2) != 0);
  void* rw = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(rw != MAP_FAILED);
  std::memcpy(static_cast<char*>(rw) + *at, "merged", 6);
  CHECK(ring.at(*at, 6) == "merged");  // what blk reads, through its read-only mapping
  munmap(rw, 4096);
}

TEST_CASE("merge pipeline: batches bigger than the rings, and pieces too big for them") {
  auto plugin = plugins::LoadedPlugin::load(BLK_PLUGIN_JSON_FIELDS);
  REQUIRE(plugin.ok());
  plugins::Worker worker(BLK_EXE);
  auto slot = worker.load(BLK_PLUGIN_JSON_FIELDS, nullptr, 10000);
  REQUIRE(slot.ok());
  // 300 pairs of about 4 KiB (2.4 MB of requests: the ring wraps twice),
  // and every 50th a pair of 150 KB objects, sent through the socket.
  std::vector<Block> versions;
  versions.reserve(600);
  for (int i = 0; i < 300; ++i) {
    std::size_t fields = i % 50 == 7 ? 4000 : 100;
    for (char who : {'a', 'b'}) {
      std::string blob = "{";
      for (std::size_t f = 0; f < fields; ++f)
        // Keys "s0", "s3", ... in both; "a1", "b1", ... in one.
        blob +=
            fmt::format("{}\"{}{}\":\"{}{}{:026}\"", f ? "," : "", f % 3 ? who : 's', f, who, i, f);
      versions.push_back(version(fmt::format("block{}", i), "json", std::string(32, who),
                                 who == 'a' ? 2000 + i : 3000 - i, blob + "}"));
    }
  }
  // And a merge whose blob is far bigger than its versions (each of a's 2000
  // one-digit fields gets a stamp), more than the room set aside for it.
  std::string small_fields = "{";
  for (int f = 0; f < 2000; ++f)
    small_fields += fmt::format("{}\"k{}\":{}", f ? "," : "", f, f % 10);
  versions.push_back(version("stamps", "json", std::string(32, 'a'), 1000, small_fields + "}"));
  versions.push_back(version("stamps", "json", std::string(32, 'b'), 9000, R"({"k0":7})"));
  std::vector<plugins::Worker::Job> jobs;
  for (std::size_t i = 0; i < versions.size(); i += 2)
    jobs.push_back({*slot, &versions[i], &versions[i + 1]});
  REQUIRE(plugin->merge(*jobs.back().a, *jobs.back().b).blob.size() > 2 * 20000 + 1024);
  for (int round = 0; round < 2; ++round) {
    std::vector<plugins::MergeReply> replies;
    REQUIRE(worker.merge_many(jobs, replies, 10000).ok());
    REQUIRE(replies.size() == jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      plugins::MergeReply want = plugin->merge(*jobs[j].a, *jobs[j].b);
      REQUIRE(want.status == BLK_MERGE_MERGED);
      CHECK(replies[j].status == want.status);
      CHECK(replies[j].blob == want.blob);
    }
  }
  // And one at a time, a small one and a big one.
  for (std::size_t j : {std::size_t{0}, std::size_t{7}, jobs.size() - 1}) {
    auto r = worker.merge(*slot, *jobs[j].a, *jobs[j].b, 10000);
    REQUIRE(r.ok());
    CHECK(r->blob == plugin->merge(*jobs[j].a, *jobs[j].b).blob);
  }
}
