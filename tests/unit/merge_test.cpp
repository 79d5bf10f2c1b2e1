// Versions and merge (merge.hpp): causality, last-write-wins, decide, and
// the checks on a version from a peer. Pure functions: no store.
#include "blk/merge.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

using namespace blk;

namespace {

const std::string kA(32, 'a'), kB(32, 'b'), kC(32, 'c');

// A well-formed version of block "k", last written by `by` at `at`.
Block version(std::string blob, Millis at, const std::string& by, VersionVector vv,
              bool deleted = false) {
  Block b;
  b.id = "k";
  b.type = "note";
  b.created_at = 1000;
  b.modified_at = at;
  if (deleted) b.deleted_at = at;
  b.blob = deleted ? "" : std::move(blob);
  b.modified_by = by;
  b.versions = std::move(vv);
  b.version_hash = compute_version_hash(b);
  b.seq = 7;  // local bookkeeping: merge must not depend on it
  return b;
}

bool same(const Block& x, const Block& y) {
  return x.id == y.id && x.type == y.type && x.created_at == y.created_at &&
         x.modified_at == y.modified_at && x.deleted_at == y.deleted_at && x.blob == y.blob &&
         x.schema == y.schema && x.modified_by == y.modified_by && x.versions == y.versions &&
         x.version_hash == y.version_hash && x.seq == y.seq;
}

}  // namespace

TEST_CASE("compare_versions: equal, before, after, concurrent; missing counts as 0") {
  CHECK(compare_versions({}, {}) == Causality::equal);
  CHECK(compare_versions({{kA, 2}}, {{kA, 2}}) == Causality::equal);
  CHECK(compare_versions({{kA, 2}, {kB, 0}}, {{kA, 2}}) == Causality::equal);
  CHECK(compare_versions({{kA, 1}}, {{kA, 2}}) == Causality::before);
  CHECK(compare_versions({{kA, 2}}, {{kA, 2}, {kB, 1}}) == Causality::before);
  CHECK(compare_versions({}, {{kC, 1}}) == Causality::before);
  CHECK(compare_versions({{kA, 3}, {kB, 1}}, {{kA, 2}}) == Causality::after);
  CHECK(compare_versions({{kA, 3}}, {{kA, 2}, {kB, 1}}) == Causality::concurrent);
  CHECK(compare_versions({{kA, 1}, {kC, 5}}, {{kB, 1}}) == Causality::concurrent);
}

TEST_CASE("max_versions is the pointwise maximum") {
  VersionVector m = max_versions({{kA, 3}, {kB, 1}}, {{kB, 4}, {kC, 2}});
  CHECK(m == VersionVector{{kA, 3}, {kB, 4}, {kC, 2}});
  CHECK(max_versions(m, {}) == m);
  CHECK(compare_versions(m, {{kA, 3}, {kB, 1}}) == Causality::after);
}

TEST_CASE("wins_lww orders by modified_at, then modified_by, then hash") {
  Block early = version("x", 2000, kB, {{kB, 1}});
  Block late = version("y", 3000, kA, {{kA, 1}});
  CHECK(wins_lww(late, early));
  CHECK_FALSE(wins_lww(early, late));

  Block by_a = version("x", 2000, kA, {{kA, 1}});
  Block by_b = version("x", 2000, kB, {{kB, 1}});
  CHECK(wins_lww(by_b, by_a));
  CHECK_FALSE(wins_lww(by_a, by_b));

  Block one = version("one", 2000, kA, {{kA, 1}});
  Block two = version("two", 2000, kA, {{kA, 1}});
  CHECK(wins_lww(one, two) != wins_lww(two, one));
  CHECK(wins_lww(one, two) == (one.version_hash > two.version_hash));
  CHECK_FALSE(wins_lww(one, one));
}

TEST_CASE("merge_lww is symmetric byte for byte: the winner's content, the max vector") {
  std::function<Block()> pairs[][2] = {
      {[] {
         return version("ours", 2000, kA, {{kA, 3}});
       },
       [] {
         return version("theirs", 2500, kB, {{kA, 2}, {kB, 4}});
       }},
      {[] {
         return version("same time", 2000, kA, {{kA, 3}});
       },
       [] {
         return version("same time too", 2000, kB, {{kB, 1}});
       }},
      {[] {
         return version("one", 2000, kA, {{kA, 5}});
       },
       [] {
         return version("two", 2000, kA, {{kA, 5}});
       }},
      {[] {
         return version("", 4000, kA, {{kA, 3}}, /*deleted=*/true);
       },
       [] {
         return version("alive", 3000, kB, {{kB, 9}});
       }},
  };
  for (auto& pair : pairs) {
    Block a = pair[0](), b = pair[1]();
    b.seq = 99;
    Block ab = merge_lww(a, b), ba = merge_lww(b, a);
    CHECK(same(ab, ba));
    const Block& winner = wins_lww(a, b) ? a : b;
    CHECK(ab.blob == winner.blob);
    CHECK(ab.modified_at == winner.modified_at);
    CHECK(ab.modified_by == winner.modified_by);
    CHECK(ab.deleted_at == winner.deleted_at);
    CHECK(ab.versions == max_versions(a.versions, b.versions));
    CHECK(ab.version_hash == compute_version_hash(ab));
    CHECK(ab.seq == 0);
    CHECK(validate_remote_version(ab).ok());
  }
}

TEST_CASE("decide: new here, same version, fast-forward, older") {
  Millis now = 10'000;
  Block v1 = version("one", 2000, kA, {{kA, 1}});
  Block v2 = version("two", 3000, kA, {{kA, 2}});

  Decision d = decide(std::nullopt, v1, now);
  CHECK(d.outcome == ApplyOutcome::inserted);
  REQUIRE(d.write);
  CHECK(same(*d.write, v1));

  d = decide(v1, v1, now);
  CHECK(d.outcome == ApplyOutcome::already_have);
  CHECK_FALSE(d.write);

  d = decide(v1, v2, now);
  CHECK(d.outcome == ApplyOutcome::fast_forward);
  REQUIRE(d.write);
  CHECK(d.write->version_hash == v2.version_hash);

  // Dominated even though its clock reads later: causality first.
  Block stale = version("stale", 9000, kA, {{kA, 1}});
  d = decide(v2, stale, now);
  CHECK(d.outcome == ApplyOutcome::ignored_older);
  CHECK_FALSE(d.write);
}

TEST_CASE("decide: concurrent versions merge to the same winner on both sides") {
  Millis now = 10'000;
  Block on_a = version("from a", 3000, kA, {{kA, 2}, {kB, 1}});
  Block on_b = version("from b", 3500, kB, {{kA, 1}, {kB, 2}});
  Decision at_a = decide(on_a, on_b, now);
  Decision at_b = decide(on_b, on_a, now);
  CHECK(at_a.outcome == ApplyOutcome::merged);
  CHECK(at_b.outcome == ApplyOutcome::merged);
  REQUIRE(at_a.write);
  REQUIRE(at_b.write);
  CHECK(same(*at_a.write, *at_b.write));
  CHECK(at_a.write->blob == "from b");
  CHECK(at_a.write->versions == VersionVector{{kA, 2}, {kB, 2}});
  // Each side's merge reaches the other as a version that dominates.
  CHECK(decide(on_b, *at_a.write, now).outcome == ApplyOutcome::fast_forward);
  CHECK(decide(*at_b.write, *at_a.write, now).outcome == ApplyOutcome::already_have);
}

TEST_CASE("decide: a delete beats a stale copy; a newer concurrent write beats a delete") {
  Millis now = 10'000;
  Block alive = version("x", 2000, kA, {{kA, 1}});
  Block deleted = version("", 3000, kB, {{kA, 1}, {kB, 2}}, /*deleted=*/true);
  CHECK(decide(deleted, alive, now).outcome == ApplyOutcome::ignored_older);
  Decision d = decide(alive, deleted, now);
  CHECK(d.outcome == ApplyOutcome::fast_forward);
  REQUIRE(d.write);
  CHECK(d.write->deleted());

  // Written on A without having seen B's delete, but later: the write wins.
  Block rewritten = version("again", 4000, kA, {{kA, 3}});
  for (auto [local, remote] : {std::pair{&deleted, &rewritten}, std::pair{&rewritten, &deleted}}) {
    Decision m = decide(*local, *remote, now);
    CHECK(m.outcome == ApplyOutcome::merged);
    REQUIRE(m.write);
    CHECK_FALSE(m.write->deleted());
    CHECK(m.write->blob == "again");
  }
  // A delete later than the concurrent write wins the other way.
  Block late_delete = version("", 5000, kB, {{kA, 1}, {kB, 3}}, /*deleted=*/true);
  Decision m = decide(rewritten, late_delete, now);
  REQUIRE(m.write);
  CHECK(m.write->deleted());
}

TEST_CASE("decide: a version too far in the future is refused, even when new here") {
  Millis now = 10'000;
  Block ok = version("x", now + kMaxFutureSkew, kA, {{kA, 1}});
  Block ahead = version("x", now + kMaxFutureSkew + 1, kA, {{kA, 2}});
  CHECK(decide(std::nullopt, ok, now).outcome == ApplyOutcome::inserted);
  CHECK(decide(std::nullopt, ahead, now).outcome == ApplyOutcome::refused_future);
  CHECK(decide(ok, ahead, now).outcome == ApplyOutcome::refused_future);
  CHECK_FALSE(decide(ok, ahead, now).write);
  // No overflow at the end of a clock's range.
  CHECK(decide(std::nullopt, ok, INT64_MAX).outcome == ApplyOutcome::inserted);
}

TEST_CASE("decide: equal vectors with different content merge deterministically") {
  Millis now = 10'000;
  Block one = version("one", 2000, kA, {{kA, 4}});
  Block two = version("two", 2000, kA, {{kA, 4}});
  const Block& winner = wins_lww(one, two) ? one : two;
  const Block& loser = wins_lww(one, two) ? two : one;
  // Ours wins: nothing new.
  CHECK(decide(winner, loser, now).outcome == ApplyOutcome::already_have);
  // Theirs wins: we take it as it is.
  Decision d = decide(loser, winner, now);
  CHECK(d.outcome == ApplyOutcome::merged);
  REQUIRE(d.write);
  CHECK(d.write->version_hash == winner.version_hash);
  CHECK(d.write->blob == winner.blob);
}

TEST_CASE("validate_remote_version accepts a good version and names each bad field") {
  Block good = version("x", 2000, kA, {{kA, 3}, {kB, 1}});
  CHECK(validate_remote_version(good).ok());
  Block tomb = version("", 2000, kA, {{kA, 3}}, /*deleted=*/true);
  CHECK(validate_remote_version(tomb).ok());

  struct Bad {
    const char* why;
    std::function<void(Block&)> spoil;
    const char* message;
  };
  std::string big(kMaxBlobBytes + 1, 'x');
  Bad cases[] = {
      {"bad id", [](Block& b) { b.id = "has space"; }, "bad id"},
      {"empty id", [](Block& b) { b.id = ""; }, "bad id"},
      {"bad type", [](Block& b) { b.type = "a*b"; }, "bad type"},
      {"blob too big", [&](Block& b) { b.blob = big; }, "limit"},
      {"created after modified", [](Block& b) { b.created_at = b.modified_at + 1; }, "created_at"},
      {"deleted after modified", [](Block& b) { b.deleted_at = b.modified_at + 1; }, "deleted_at"},
      {"tombstone with a blob", [](Block& b) { b.deleted_at = b.modified_at; }, "tombstone"},
      {"modified_by uppercase", [](Block& b) { b.modified_by = std::string(32, 'A'); },
       "modified_by"},
      {"modified_by short", [](Block& b) { b.modified_by = std::string(31, 'a'); }, "modified_by"},
      {"modified_by not in vector", [](Block& b) { b.modified_by = kC; },
       "missing from its version vector"},
      {"vector key not a machine id", [](Block& b) { b.versions["laptop"] = 1; }, "vector key"},
      {"zero counter", [](Block& b) { b.versions[kB] = 0; }, "counter"},
      {"huge counter", [](Block& b) { b.versions[kB] = kMaxVersionCounter + 1; }, "counter"},
  };
  for (const Bad& c : cases) {
    CAPTURE(c.why);
    Block b = good;
    c.spoil(b);
    b.version_hash = compute_version_hash(b);  // only the spoiled field is wrong
    auto r = validate_remote_version(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_input);
    CHECK(r.error().message.find(c.message) != std::string::npos);
    CHECK(r.error().message.find('\n') == std::string::npos);
  }

  Block flipped = good;
  flipped.version_hash[5] = static_cast<char>(flipped.version_hash[5] ^ 1);
  CHECK(validate_remote_version(flipped).error().message ==
        "version of block 'k' has a wrong hash");
  Block short_hash = good;
  short_hash.version_hash.resize(16);
  CHECK(validate_remote_version(short_hash).error().code == Code::invalid_input);
  Block changed = good;
  changed.blob = "tampered";  // the hash no longer covers the content
  CHECK(validate_remote_version(changed).error().message.find("wrong hash") != std::string::npos);
}
