// The SQLite block store, against real database files.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "blk/encoding.hpp"
#include "blk/identity.hpp"
#include "blk/sqlite_db.hpp"
#include "blk/sqlite_store.hpp"
#include "blk/store_dir.hpp"
#include "temp_dir.hpp"

using namespace blk;

namespace {

std::unique_ptr<Store> make_store(const test::TempDir& dir) {
  StorePaths paths{dir / "store"};
  auto id = init_store(paths, "test");
  REQUIRE(id.ok());
  auto store = open_store(paths);
  REQUIRE(store.ok());
  return std::move(*store);
}

BlockWrite write_of(std::string id, std::string type, std::string blob) {
  BlockWrite w;
  w.id = std::move(id);
  w.type = std::move(type);
  w.blob = std::move(blob);
  return w;
}

std::string put_one(Store& store, BlockWrite w) {
  auto tx = store.begin();
  REQUIRE(tx.ok());
  auto id = (*tx)->put(std::move(w));
  REQUIRE(id.ok());
  REQUIRE((*tx)->commit().ok());
  return *id;
}

void remove_one(Store& store, std::string_view id) {
  auto tx = store.begin();
  REQUIRE(tx.ok());
  REQUIRE((*tx)->remove(id).ok());
  REQUIRE((*tx)->commit().ok());
}

std::vector<Block> changes(Store& store, ChangeScan scan = {}) {
  std::vector<Block> out;
  REQUIRE(store
              .scan_changes(scan,
                            [&](const Block& b) {
                              out.push_back(b);
                              return true;
                            })
              .ok());
  return out;
}

// Applies versions from another store, in one transaction, as sync will.
std::vector<ApplyOutcome> apply_all(Store& to, const std::vector<Block>& versions) {
  auto tx = to.begin();
  REQUIRE(tx.ok());
  std::vector<ApplyOutcome> out;
  for (const Block& v : versions) {
    auto r = (*tx)->apply(v);
    REQUIRE(r.ok());
    out.push_back(*r);
  }
  REQUIRE((*tx)->commit().ok());
  return out;
}

std::string schema_text(const std::string& db_path) {
  auto db = sqlite::Db::open(db_path, false, 1000);
  REQUIRE(db.ok());
  auto s = sqlite::Stmt::prepare(*db,
                                 "SELECT group_concat(sql, ';') FROM "
                                 "(SELECT sql FROM sqlite_master ORDER BY name)");
  REQUIRE(s.ok());
  REQUIRE(s->step().value());
  return std::string(s->text(0));
}

}  // namespace

TEST_CASE("a put block reads back byte for byte, binary included") {
  test::TempDir dir;
  auto store = make_store(dir);
  std::string blob("a\0b\xff\n", 5);
  std::string id = put_one(*store, write_of("k1", "note", blob));
  CHECK(id == "k1");
  auto got = store->get("k1");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->blob == blob);
  CHECK((*got)->type == "note");
  CHECK_FALSE((*got)->deleted());
  CHECK((*got)->seq == 1);
  CHECK((*got)->version_hash.size() == 32);
  CHECK((*got)->version_hash == compute_version_hash(**got));
}

TEST_CASE("a missing id is nullopt, not an error") {
  test::TempDir dir;
  auto store = make_store(dir);
  auto got = store->get("nope");
  REQUIRE(got.ok());
  CHECK_FALSE(got->has_value());
}

TEST_CASE("updating keeps created_at, advances modified_at, seq and our version counter") {
  test::TempDir dir;
  auto store = make_store(dir);
  put_one(*store, write_of("k", "note", "one"));
  auto first = **store->get("k");
  put_one(*store, write_of("k", "note", "two"));
  auto second = **store->get("k");
  CHECK(second.blob == "two");
  CHECK(second.created_at == first.created_at);
  CHECK(second.modified_at > first.modified_at);
  CHECK(second.seq > first.seq);
  auto me = store->identity()->machine_id;
  CHECK(second.versions.at(me) > first.versions.at(me));
  CHECK(second.modified_by == me);
  CHECK(second.version_hash != first.version_hash);
}

TEST_CASE("a generated id is a time-ordered UUIDv7") {
  test::TempDir dir;
  auto store = make_store(dir);
  std::string a = put_one(*store, write_of("", "note", "x"));
  std::string b = put_one(*store, write_of("", "note", "y"));
  CHECK(a.size() == 36);
  CHECK(a[14] == '7');
  CHECK(a != b);
  // The first 48 bits are the millisecond: a later write's are not smaller
  // (within one millisecond the random rest decides the order).
  CHECK(a.substr(0, 13) <= b.substr(0, 13));
}

TEST_CASE("uncommitted writes roll back; committed ones are visible to a second connection") {
  test::TempDir dir;
  auto store = make_store(dir);
  {
    auto tx = store->begin();
    REQUIRE(tx.ok());
    REQUIRE((*tx)->put(write_of("a", "t", "1")).ok());
    REQUIRE((*tx)->put(write_of("b", "t", "2")).ok());
  }  // destroyed without commit
  CHECK_FALSE(store->get("a")->has_value());
  CHECK_FALSE(store->get("b")->has_value());

  put_one(*store, write_of("c", "t", "3"));
  auto other = open_store(StorePaths{dir / "store"});
  REQUIRE(other.ok());
  CHECK((*other)->get("c")->has_value());
}

TEST_CASE("bad ids, types and blobs are refused and the transaction stays usable") {
  test::TempDir dir;
  auto store = make_store(dir);
  auto tx = store->begin();
  REQUIRE(tx.ok());
  CHECK((*tx)->put(write_of("has space", "t", "")).error().code == Code::usage);
  CHECK((*tx)->put(write_of(std::string(256, 'a'), "t", "")).error().code == Code::usage);
  CHECK((*tx)->put(write_of("ok", "", "")).error().code == Code::usage);
  CHECK((*tx)->put(write_of("ok", "t", std::string(kMaxBlobBytes + 1, 'x'))).error().code ==
        Code::invalid_input);
  CHECK((*tx)->put(write_of(std::string(255, 'a'), "t", "")).ok());
  CHECK((*tx)->put(write_of("big", "t", std::string(kMaxBlobBytes, 'x'))).ok());
  REQUIRE((*tx)->commit().ok());
  CHECK(store->get("big")->value().blob.size() == kMaxBlobBytes);
}

TEST_CASE("remove tombstones: row kept, blob dropped, no-op twice, not_found when missing") {
  test::TempDir dir;
  auto store = make_store(dir);
  put_one(*store, write_of("k", "note", "secret"));
  auto before = **store->get("k");
  {
    auto tx = store->begin();
    REQUIRE((*tx)->remove("k").ok());
    REQUIRE((*tx)->commit().ok());
  }
  auto after = **store->get("k");
  CHECK(after.deleted());
  CHECK(after.blob.empty());
  CHECK(after.seq > before.seq);
  CHECK(*after.deleted_at == after.modified_at);
  {
    auto tx = store->begin();
    CHECK((*tx)->remove("k").ok());
    CHECK((*tx)->remove("missing").error().code == Code::not_found);
  }
  CHECK(store->get("k")->value().seq == after.seq);  // the no-op wrote nothing

  // A write after the delete brings the block back.
  put_one(*store, write_of("k", "note", "again"));
  auto back = **store->get("k");
  CHECK_FALSE(back.deleted());
  CHECK(back.blob == "again");
  CHECK(back.created_at == before.created_at);
}

TEST_CASE("scan filters by type, time and deletion; scan_changes walks commit order") {
  test::TempDir dir;
  auto store = make_store(dir);
  put_one(*store, write_of("b", "task", "1"));
  put_one(*store, write_of("a", "note", "2"));
  put_one(*store, write_of("c", "note", "3"));
  {
    auto tx = store->begin();
    REQUIRE((*tx)->remove("c").ok());
    REQUIRE((*tx)->commit().ok());
  }
  auto ids = [&](const ScanFilter& f) {
    std::vector<std::string> out;
    REQUIRE(store
                ->scan(f,
                       [&](const Block& b) {
                         out.push_back(b.id);
                         return true;
                       })
                .ok());
    return out;
  };
  CHECK(ids({}) == std::vector<std::string>{"a", "b"});
  ScanFilter notes;
  notes.type = "note";
  CHECK(ids(notes) == std::vector<std::string>{"a"});
  notes.include_deleted = true;
  CHECK(ids(notes) == std::vector<std::string>{"a", "c"});
  ScanFilter future;
  future.modified_since = now_millis() + 60'000;
  CHECK(ids(future).empty());

  std::vector<std::string> changes;
  REQUIRE(store
              ->scan_changes(1,
                             [&](const Block& b) {
                               changes.push_back(b.id);
                               return true;
                             })
              .ok());
  CHECK(changes == std::vector<std::string>{"a", "c"});  // b is seq 1; c moved to seq 4

  int visited = 0;
  REQUIRE(store->scan({}, [&](const Block&) { return ++visited < 1; }).ok());
  CHECK(visited == 1);  // returning false stops the scan
}

TEST_CASE("opening: missing store, not a database, foreign database, newer schema") {
  test::TempDir dir;
  CHECK(open_store(StorePaths{dir / "none"}).error().code == Code::no_store);
  CHECK(open_store(StorePaths{dir / "none"}).error().message.find("blk init") != std::string::npos);

  std::filesystem::create_directories(dir / "garbage");
  std::ofstream(dir / "garbage/blk.db") << std::string(8192, 'z');
  CHECK(open_store(StorePaths{dir / "garbage"}).error().code == Code::store_unusable);

  auto store = make_store(dir);
  store.reset();
  {
    auto raw = sqlite::Db::open(dir / "store/blk.db", false, 1000);
    REQUIRE(raw.ok());
    REQUIRE(raw->exec("PRAGMA user_version = 99").ok());
  }
  auto newer = open_store(StorePaths{dir / "store"});
  CHECK(newer.error().code == Code::store_unusable);
  CHECK(newer.error().message.find("newer") != std::string::npos);
}

TEST_CASE("init makes a private key, refuses to overwrite, and the machine id follows the key") {
  test::TempDir dir;
  StorePaths paths{dir / "s"};
  auto id = init_store(paths, "laptop");
  REQUIRE(id.ok());
  struct stat st;
  REQUIRE(stat(paths.secret_key().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(id->machine_id.size() == 32);
  auto pk = base64_decode(id->public_key);
  REQUIRE(pk.ok());
  CHECK(machine_id_for(*pk) == id->machine_id);
  CHECK(init_store(paths, "laptop").error().code == Code::store_exists);
  auto store = open_store(paths);
  REQUIRE(store.ok());
  CHECK((*store)->identity()->machine_id == id->machine_id);
}

TEST_CASE("two stores have different machine ids and epochs") {
  test::TempDir dir;
  auto a = init_store(StorePaths{dir / "a"}, "a");
  auto b = init_store(StorePaths{dir / "b"}, "b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->machine_id != b->machine_id);
  CHECK(a->epoch != b->epoch);
}

TEST_CASE("imported times: kept when given, derived when not, refused when impossible") {
  test::TempDir dir;
  auto store = make_store(dir);
  auto tx = store->begin();
  REQUIRE(tx.ok());
  BlockWrite tomb = write_of("t", "note", "");
  tomb.deleted_at = 5000;
  REQUIRE((*tx)->put(tomb).ok());
  BlockWrite late = write_of("c", "note", "x");
  late.created_at = 9000;
  late.modified_at = 8000;
  CHECK((*tx)->put(late).error().code == Code::invalid_input);
  BlockWrite kept = write_of("k", "note", "x");
  kept.created_at = 1000;
  kept.modified_at = 2000;
  REQUIRE((*tx)->put(kept).ok());
  REQUIRE((*tx)->commit().ok());
  auto t = **store->get("t");
  CHECK(t.deleted());
  CHECK(t.modified_at == 5000);  // a tombstone was last modified when deleted
  CHECK(t.created_at == 5000);
  auto k = **store->get("k");
  CHECK(k.created_at == 1000);
  CHECK(k.modified_at == 2000);
}

// ---- sync's side of the store: applying remote versions, cursors, schema 2

TEST_CASE("a version applied from another store keeps its vector, writer and hash") {
  test::TempDir dir_a, dir_b;
  auto a = make_store(dir_a), b = make_store(dir_b);
  put_one(*b, write_of("mine", "note", "b's own"));  // so B's seqs differ from A's
  put_one(*a, write_of("k", "note", "hello"));
  Block sent = **a->get("k");

  CHECK(apply_all(*b, {sent}) == std::vector{ApplyOutcome::inserted});
  Block got = **b->get("k");
  CHECK(got.blob == "hello");
  CHECK(got.versions == sent.versions);
  CHECK(got.modified_by == a->identity()->machine_id);
  CHECK(got.version_hash == sent.version_hash);
  CHECK(got.modified_at == sent.modified_at);
  CHECK(got.seq == 2);  // B's next seq, not A's

  // Twice: nothing new, nothing written.
  CHECK(apply_all(*b, {sent}) == std::vector{ApplyOutcome::already_have});
  CHECK(b->get("k")->value().seq == 2);

  // A's next edit fast-forwards B.
  put_one(*a, write_of("k", "note", "hello again"));
  CHECK(apply_all(*b, changes(*a)) == std::vector{ApplyOutcome::fast_forward});
  CHECK(b->get("k")->value().blob == "hello again");
  CHECK(b->get("k")->value().version_hash == a->get("k")->value().version_hash);
}

TEST_CASE("concurrent edits on two stores converge to one version both ways") {
  test::TempDir dir_a, dir_b;
  auto a = make_store(dir_a), b = make_store(dir_b);
  a->set_clock([] { return Millis{1'000'000}; });
  b->set_clock([] { return Millis{1'000'500}; });
  put_one(*a, write_of("k", "note", "first"));
  apply_all(*b, changes(*a));
  put_one(*a, write_of("k", "note", "edited on a"));
  put_one(*b, write_of("k", "note", "edited on b, later"));
  put_one(*b, write_of("only-b", "note", "x"));
  remove_one(*a, "k");  // a deleted it, but before b's edit by the clocks
  put_one(*a, write_of("only-a", "note", "y"));

  auto from_a = changes(*a), from_b = changes(*b);
  auto at_b = apply_all(*b, from_a);
  auto at_a = apply_all(*a, from_b);
  CHECK(at_b == std::vector{ApplyOutcome::merged, ApplyOutcome::inserted});
  CHECK(at_a == std::vector{ApplyOutcome::merged, ApplyOutcome::inserted});
  for (const char* id : {"k", "only-a", "only-b"}) {
    CAPTURE(id);
    Block x = **a->get(id), y = **b->get(id);
    CHECK(x.version_hash == y.version_hash);
    CHECK(x.blob == y.blob);
    CHECK(x.versions == y.versions);
    CHECK(x.deleted_at == y.deleted_at);
  }
  CHECK(a->get("k")->value().blob == "edited on b, later");
  CHECK_FALSE(a->get("k")->value().deleted());

  // Each side's merge, sent to the other, is a version it already has.
  CHECK(apply_all(*a, {**b->get("k")}) == std::vector{ApplyOutcome::already_have});
}

TEST_CASE("a local write after applying a remote version dominates it") {
  test::TempDir dir_a, dir_b;
  auto a = make_store(dir_a), b = make_store(dir_b);
  put_one(*a, write_of("k", "note", "from a"));
  apply_all(*b, changes(*a));
  put_one(*b, write_of("k", "note", "b builds on it"));
  Block edited = **b->get("k");
  CHECK(compare_versions(edited.versions, a->get("k")->value().versions) == Causality::after);
  CHECK(edited.modified_by == b->identity()->machine_id);
  CHECK(edited.version_hash == compute_version_hash(edited));
  CHECK(apply_all(*a, {edited}) == std::vector{ApplyOutcome::fast_forward});
  // And back: b already holds what a now holds.
  CHECK(apply_all(*b, {**a->get("k")}) == std::vector{ApplyOutcome::already_have});
}

TEST_CASE("a counter of ours from a peer above our seq: the next local write skips past it") {
  // As after this store was restored from an older copy of itself.
  test::TempDir dir_a, dir_b;
  auto a = make_store(dir_a), b = make_store(dir_b);
  std::string me = b->identity()->machine_id;
  put_one(*a, write_of("k", "note", "x"));
  Block v = **a->get("k");
  v.versions[me] = 500;
  v.version_hash = compute_version_hash(v);
  CHECK(apply_all(*b, {v}) == std::vector{ApplyOutcome::inserted});
  put_one(*b, write_of("k", "note", "y"));
  Block w = **b->get("k");
  CHECK(w.seq == 501);
  CHECK(w.versions.at(me) == 501);
  CHECK(compare_versions(w.versions, v.versions) == Causality::after);
}

TEST_CASE("apply refuses a malformed version and one from too far in the future") {
  test::TempDir dir_a, dir_b;
  auto a = make_store(dir_a), b = make_store(dir_b);
  put_one(*a, write_of("k", "note", "x"));
  Block v = **a->get("k");
  Block tampered = v;
  tampered.blob = "y";
  {
    auto tx = b->begin();
    REQUIRE(tx.ok());
    auto r = (*tx)->apply(tampered);
    CHECK(r.error().code == Code::invalid_input);
    CHECK(r.error().message.find("wrong hash") != std::string::npos);
    // B's clock is two days behind: v is too far ahead of it.
    b->set_clock([&] { return v.modified_at - 2 * kMaxFutureSkew; });
    CHECK((*tx)->apply(v).value() == ApplyOutcome::refused_future);
    REQUIRE((*tx)->commit().ok());
  }
  CHECK_FALSE(b->get("k")->has_value());
  CHECK(b->max_seq().value() == 0);
}

TEST_CASE("put, remove and apply use the store's clock") {
  test::TempDir dir;
  auto store = make_store(dir);
  Millis now = 5'000'000;
  store->set_clock([&] { return now; });
  std::string id = put_one(*store, write_of("", "note", "x"));
  Block b = **store->get(id);
  CHECK(b.created_at == now);
  CHECK(b.modified_at == now);
  CHECK(id.substr(0, 13) == "0000004c-4b40");  // the UUIDv7 time is the clock's too

  put_one(*store, write_of(id, "note", "y"));  // same millisecond: still moves forward
  CHECK(store->get(id)->value().modified_at == now + 1);
  now = 6'000'000;
  remove_one(*store, id);
  CHECK(store->get(id)->value().modified_at == now);
  CHECK(store->get(id)->value().deleted_at == now);
  now = 4'000'000;  // a clock that went back: still forward
  put_one(*store, write_of(id, "note", "z"));
  CHECK(store->get(id)->value().modified_at == 6'000'001);

  store->set_clock(nullptr);  // back to the wall clock
  put_one(*store, write_of("wall", "note", ""));
  CHECK(store->get("wall")->value().modified_at > 1'600'000'000'000);
}

TEST_CASE("scan_changes: after, up_to, limit, without blobs; get_by_seq; counts") {
  test::TempDir dir;
  auto store = make_store(dir);
  CHECK(store->max_seq().value() == 0);
  CHECK(store->count_changes_after(0).value() == 0);
  for (const char* id : {"a", "b", "c", "d"})
    put_one(*store, write_of(id, "t", "blob of " + std::string(id)));
  put_one(*store, write_of("a", "t", "a again"));  // a: seq 1 -> 5
  remove_one(*store, "b");                         // b: seq 2 -> 6

  auto ids = [](const std::vector<Block>& blocks) {
    std::vector<std::string> out;
    for (const Block& b : blocks) out.push_back(b.id + ":" + std::to_string(b.seq));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(ids(changes(*store)) == V{"c:3", "d:4", "a:5", "b:6"});
  CHECK(ids(changes(*store, {.after = 3})) == V{"d:4", "a:5", "b:6"});
  CHECK(ids(changes(*store, {.after = 3, .up_to = 5})) == V{"d:4", "a:5"});
  CHECK(ids(changes(*store, {.after = 0, .limit = 2})) == V{"c:3", "d:4"});
  CHECK(ids(changes(*store, {.after = 6})).empty());
  CHECK(changes(*store, {.limit = 0}).empty());

  auto full = changes(*store, {.after = 4, .up_to = 5});
  auto bare = changes(*store, {.after = 4, .up_to = 5, .blobs = false});
  REQUIRE(full.size() == 1);
  REQUIRE(bare.size() == 1);
  CHECK(full[0].blob == "a again");
  CHECK(bare[0].blob.empty());
  CHECK(bare[0].version_hash == full[0].version_hash);
  CHECK(bare[0].versions == full[0].versions);

  // The old form still walks every change.
  std::vector<std::string> old;
  REQUIRE(store
              ->scan_changes(4,
                             [&](const Block& b) {
                               old.push_back(b.id);
                               return true;
                             })
              .ok());
  CHECK(old == std::vector<std::string>{"a", "b"});

  CHECK(store->max_seq().value() == 6);
  CHECK(store->count_changes_after(0).value() == 4);
  CHECK(store->count_changes_after(4).value() == 2);
  CHECK(store->count_changes_after(6).value() == 0);

  CHECK_FALSE(store->get_by_seq(1, true)->has_value());  // superseded by seq 5
  CHECK_FALSE(store->get_by_seq(99, true)->has_value());
  auto five = store->get_by_seq(5, true);
  REQUIRE(five->has_value());
  CHECK((*five)->id == "a");
  CHECK((*five)->blob == "a again");
  CHECK(store->get_by_seq(5, false)->value().blob.empty());
  CHECK(store->get_by_seq(6, true)->value().deleted());
}

TEST_CASE("a visitor may start the same scan again") {
  test::TempDir dir;
  auto store = make_store(dir);
  put_one(*store, write_of("a", "t", "1"));
  put_one(*store, write_of("b", "t", "2"));
  int outer = 0, inner = 0;
  REQUIRE(store
              ->scan_changes(ChangeScan{},
                             [&](const Block&) {
                               ++outer;
                               inner += static_cast<int>(changes(*store).size());
                               return true;
                             })
              .ok());
  CHECK(outer == 2);
  CHECK(inner == 4);
  int items = 0;
  REQUIRE(store
              ->scan_version_items([&](const VersionItem&) {
                REQUIRE(store->scan_version_items([&](const VersionItem&) { ++items; }).ok());
              })
              .ok());
  CHECK(items == 4);
}

TEST_CASE("scan_version_items lists every current version, tombstones too") {
  test::TempDir dir;
  auto store = make_store(dir);
  put_one(*store, write_of("a", "t", std::string(100'000, 'x')));
  put_one(*store, write_of("b", "t", "2"));
  remove_one(*store, "b");
  std::map<std::int64_t, VersionItem> items;
  REQUIRE(store->scan_version_items([&](const VersionItem& v) { items[v.seq] = v; }).ok());
  REQUIRE(items.size() == 2);
  for (const Block& b : changes(*store)) {
    CAPTURE(b.id);
    REQUIRE(items.contains(b.seq));
    CHECK(items[b.seq].version_hash == b.version_hash);
    CHECK(items[b.seq].modified_at == b.modified_at);
  }
}

TEST_CASE("set_cursor: monotonic within an epoch, replaced by a new one") {
  test::TempDir dir;
  auto store = make_store(dir);
  std::string peer(32, 'e');
  auto set = [&](std::string_view epoch, std::int64_t seq) {
    auto tx = store->begin();
    REQUIRE(tx.ok());
    REQUIRE((*tx)->set_cursor(peer, epoch, seq).ok());
    REQUIRE((*tx)->commit().ok());
  };
  PeerState never = store->peer_state(peer).value();
  CHECK(never.machine_id == peer);
  CHECK(never.epoch.empty());
  CHECK(never.cursor == 0);
  CHECK_FALSE(never.last_ok);
  CHECK(store->peer_states()->empty());

  set("one", 10);
  CHECK(store->peer_state(peer)->cursor == 10);
  set("one", 7);  // a slower sync finishing later does not move it back
  CHECK(store->peer_state(peer)->cursor == 10);
  set("one", 12);
  CHECK(store->peer_state(peer)->cursor == 12);
  set("two", 3);  // the peer's store was replaced: its seqs start over
  CHECK(store->peer_state(peer)->epoch == "two");
  CHECK(store->peer_state(peer)->cursor == 3);
  {
    auto tx = store->begin();
    REQUIRE((*tx)->set_cursor(peer, "three", 1).ok());
  }  // rolled back
  CHECK(store->peer_state(peer)->epoch == "two");
}

TEST_CASE("record_sync_attempt: last ok, last error, what the peer holds") {
  test::TempDir dir;
  auto store = make_store(dir);
  std::string p1(32, '1'), p2(32, '2');
  REQUIRE(store->record_sync_attempt(p1, 1000, "", 5).ok());
  PeerState s = store->peer_state(p1).value();
  CHECK(s.last_ok == 1000);
  CHECK(s.last_attempt == 1000);
  CHECK(s.last_error.empty());
  CHECK(s.peer_has == 5);
  CHECK(s.cursor == 0);

  REQUIRE(store->record_sync_attempt(p1, 2000, "connection refused", 0).ok());
  s = store->peer_state(p1).value();
  CHECK(s.last_ok == 1000);
  CHECK(s.last_attempt == 2000);
  CHECK(s.last_error == "connection refused");
  CHECK(s.peer_has == 5);

  REQUIRE(store->record_sync_attempt(p1, 3000, "", 3).ok());  // never moves back
  s = store->peer_state(p1).value();
  CHECK(s.last_ok == 3000);
  CHECK(s.last_error.empty());
  CHECK(s.peer_has == 5);
  REQUIRE(store->record_sync_attempt(p1, 4000, "", 9).ok());
  CHECK(store->peer_state(p1)->peer_has == 9);

  REQUIRE(store->record_sync_attempt(p2, 1500, "timed out", 0).ok());
  auto all = store->peer_states().value();
  REQUIRE(all.size() == 2);
  CHECK(all[0].machine_id == p1);
  CHECK(all[1].machine_id == p2);
  CHECK_FALSE(all[1].last_ok);
  CHECK(all[1].last_error == "timed out");

  // A cursor set later keeps the attempt's columns, and the other way round.
  {
    auto tx = store->begin();
    REQUIRE((*tx)->set_cursor(p2, "ep", 4).ok());
    REQUIRE((*tx)->commit().ok());
  }
  s = store->peer_state(p2).value();
  CHECK(s.cursor == 4);
  CHECK(s.last_error == "timed out");
  REQUIRE(store->record_sync_attempt(p2, 1600, "", 0).ok());
  CHECK(store->peer_state(p2)->cursor == 4);
}

TEST_CASE("record_sync_attempt after a big write starts a new WAL, which closing then keeps") {
  // The write that follows a truncated WAL syncs the new WAL's header: the
  // big sync takes that fsync with its record, not the next (no-op) sync.
  test::TempDir dir;
  std::string wal = dir / "store/blk.db-wal";
  auto wal_size = [&] {
    struct stat st;
    return stat(wal.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1LL;
  };
  std::string p(32, 'p');
  {
    auto store = make_store(dir);
    auto tx = store->begin();
    REQUIRE(tx.ok());
    for (int i = 0; i < 1500; ++i)
      REQUIRE((*tx)->put(write_of("", "note", std::string(4096, static_cast<char>(i)))).ok());
    REQUIRE((*tx)->commit().ok());
    REQUIRE(wal_size() > 4 << 20);
    REQUIRE(store->record_sync_attempt(p, 1000, "", 1500).ok());
    CHECK(wal_size() > 0);
    CHECK(wal_size() < 64 << 10);
  }
  auto after_close = wal_size();
  CHECK(after_close > 0);  // not truncated again by the close
  CHECK(after_close < 64 << 10);
  auto store = open_store(StorePaths{dir / "store"});
  REQUIRE(store.ok());
  CHECK((*store)->max_seq().value() == 1500);
  CHECK((*store)->peer_state(p)->last_ok == 1000);
}

namespace {

// Runs `check` as a user who cannot write `dir`'s store: as root (which
// ignores file modes) in a child process as 'nobody', else here with the
// database file made read-only. Returns what `check` returns.
int as_reader(const std::string& dir, const std::string& db, const std::function<int()>& check) {
  REQUIRE(chmod(db.c_str(), 0444) == 0);
  if (geteuid() != 0) return check();
  // nobody must reach the files; the folder stays writable so SQLite can make
  // its -shm file, as in a user's own folder holding a read-only database.
  REQUIRE(chmod(std::filesystem::path(dir).parent_path().c_str(), 0755) == 0);
  REQUIRE(chmod(dir.c_str(), 0777) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(check());
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a schema 1 store migrates to 2; a read-only one is still read") {
  test::TempDir dir;
  StorePaths paths{dir / "store"};
  StorePaths fresh_paths{dir / "fresh"};
  REQUIRE(init_store(fresh_paths, "fresh").ok());
  auto make_v1 = [&] {
    REQUIRE(init_store(paths, "old").ok());
    {
      auto store = open_store(paths);
      put_one(**store, write_of("k", "note", "from schema 1"));
    }
    // Schema 1 is schema 3 without sync_peers, received, merge_plugins and held.
    auto raw = sqlite::Db::open(paths.db(), false, 1000);
    REQUIRE(raw.ok());
    REQUIRE(raw->exec("DROP TABLE sync_peers; DROP TABLE received; DROP TABLE merge_plugins; "
                      "DROP TABLE held; PRAGMA user_version = 1")
                .ok());
  };

  SUBCASE("writable: migrated on open, in one step, to the same schema as a new store") {
    make_v1();
    {
      auto store = open_store(paths);
      REQUIRE(store.ok());
      CHECK((*store)->get("k")->value().blob == "from schema 1");
      REQUIRE((*store)->record_sync_attempt(std::string(32, 'f'), 1, "", 0).ok());
      CHECK((*store)->peer_states()->size() == 1);
    }
    auto raw = sqlite::Db::open(paths.db(), false, 1000);
    REQUIRE(raw.ok());
    auto v = sqlite::Stmt::prepare(*raw, "PRAGMA user_version");
    REQUIRE(v->step().value());
    CHECK(v->int64(0) == kSchemaVersion);
    CHECK(schema_text(paths.db()) == schema_text(fresh_paths.db()));
    CHECK(open_store(paths).ok());  // and opens again without migrating
  }

  SUBCASE("read-only: read as it is; peers never synced; writes refused") {
    make_v1();
    int failed = as_reader(paths.dir, paths.db(), [&] {
      auto store = open_store(paths);
      if (!store) return 1;
      auto k = (*store)->get("k");
      if (!k || !*k || (*k)->blob != "from schema 1") return 2;
      if (changes(**store).size() != 1) return 3;
      auto peer = (*store)->peer_state(std::string(32, 'f'));
      if (!peer || peer->cursor != 0 || !peer->epoch.empty()) return 4;
      if (!(*store)->peer_states() || !(*store)->peer_states()->empty()) return 5;
      auto tx = (*store)->begin();
      if (tx || tx.error().code != Code::store_readonly) return 6;
      auto rec = (*store)->record_sync_attempt(std::string(32, 'f'), 1, "", 0);
      if (rec || rec.error().code != Code::store_readonly) return 7;
      return 0;
    });
    CHECK(failed == 0);
    REQUIRE(chmod(paths.db().c_str(), 0644) == 0);
    auto raw = sqlite::Db::open(paths.db(), false, 1000);
    auto v = sqlite::Stmt::prepare(*raw, "PRAGMA user_version");
    REQUIRE(v->step().value());
    CHECK(v->int64(0) == 1);  // untouched
  }
}
