// The SQLite block store, against real database files.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

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
  CHECK(a <= b);  // same or later millisecond sorts after
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
