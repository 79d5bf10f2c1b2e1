// The sync core, two real stores wired to each other in-process (no
// channel): what each side sends, in what order, and what it refuses. The
// simulator (tests/sim) covers faults and convergence at scale.
#include <doctest/doctest.h>

#include "blk/store_dir.hpp"
#include "blk/sync/codec.hpp"
#include "blk/sync/session.hpp"
#include "temp_dir.hpp"

using namespace blk;
using blk::sync::Session;

namespace {

struct Side {
  std::unique_ptr<Store> store;
  std::string id;
};

Side make_side(const test::TempDir& dir, const std::string& name) {
  StorePaths paths{dir / name};
  REQUIRE(init_store(paths, name).ok());
  auto store = open_store(paths);
  REQUIRE(store.ok());
  std::string id = (*store)->identity()->machine_id;
  return Side{std::move(*store), id};
}

void put(Store& s, const std::string& id, const std::string& type, const std::string& blob) {
  auto tx = s.begin();
  REQUIRE(tx.ok());
  BlockWrite w;
  w.id = id;
  w.type = type;
  w.blob = blob;
  REQUIRE((*tx)->put(std::move(w)).ok());
  REQUIRE((*tx)->commit().ok());
}

// Every message either side sent, by type, in order.
struct Traffic {
  std::vector<std::string> a_to_b, b_to_a;
  std::size_t bytes(const std::vector<std::string>& v) const {
    std::size_t n = 0;
    for (const auto& m : v) n += m.size();
    return n;
  }
};

// Runs a whole sync between `a` (dialling) and `b` until both are done.
Traffic run_sync(Side& a, Side& b, sync::Options oa = {}, sync::Options ob = {}) {
  Session sa(*a.store, b.id, Session::Role::initiator, oa);
  Session sb(*b.store, a.id, Session::Role::responder, ob);
  REQUIRE(sa.start(0).ok());
  REQUIRE(sb.start(0).ok());
  Traffic t;
  for (int turn = 0; turn < 1000 && !(sa.done() && sb.done()); ++turn) {
    REQUIRE(sa.pump(turn).ok());
    REQUIRE(sb.pump(turn).ok());
    auto from_a = sa.take_messages();
    auto from_b = sb.take_messages();
    for (auto& m : from_a) {
      t.a_to_b.push_back(m);
      REQUIRE(sb.receive(m, turn).ok());
    }
    for (auto& m : from_b) {
      t.b_to_a.push_back(m);
      REQUIRE(sa.receive(m, turn).ok());
    }
  }
  REQUIRE(sa.done());
  REQUIRE(sb.done());
  return t;
}

std::uint64_t type_of(const std::string& m) {
  return sync::Reader(m).varint();
}

std::string blob_of(Store& s, const std::string& id) {
  auto b = s.get(id);
  REQUIRE(b.ok());
  REQUIRE(b->has_value());
  return (*b)->blob;
}

}  // namespace

TEST_CASE("sync: both sides end with the same blocks; a second sync moves nothing") {
  test::TempDir dir;
  Side a = make_side(dir, "a"), b = make_side(dir, "b");
  put(*a.store, "x", "note", "from a");
  put(*b.store, "y", "note", "from b");
  run_sync(a, b);
  CHECK(blob_of(*a.store, "y") == "from b");
  CHECK(blob_of(*b.store, "x") == "from a");

  // The cursors are valid now: a no-op sync is a hello and a final mark
  // each way (the wants answer nothing), a few dozen bytes.
  auto t = run_sync(a, b);
  CHECK(t.bytes(t.a_to_b) < 200);
  CHECK(t.bytes(t.b_to_a) < 200);
  for (const auto& m : t.a_to_b) CHECK(type_of(m) != 17);  // no Negentropy
}

TEST_CASE("sync: what came from the peer is not offered back to it") {
  test::TempDir dir;
  Side a = make_side(dir, "a"), b = make_side(dir, "b");
  for (int i = 0; i < 50; ++i)
    put(*b.store, "k" + std::to_string(i), "note", std::string(100, 'b'));
  run_sync(a, b);  // a was empty: everything inline
  run_sync(a, b);  // a's cursor for b moves past what it received
  // a's 50 received rows are not offered to b: no offers message at all.
  auto t = run_sync(a, b);
  for (const auto& m : t.a_to_b) CHECK(type_of(m) != 18);
}

TEST_CASE("sync: a blob the receiver holds is not sent again (it came from a third store)") {
  test::TempDir dir;
  Side a = make_side(dir, "a"), b = make_side(dir, "b"), c = make_side(dir, "c");
  put(*a.store, "seed", "note", "so a is not empty");
  put(*b.store, "seed2", "note", "so b is not empty");
  run_sync(a, b);
  for (int i = 0; i < 20; ++i)
    put(*c.store, "c" + std::to_string(i), "note", std::string(500, 'c'));
  run_sync(b, c);  // b gets c's 20
  run_sync(a, b);  // a gets them from b
  auto t = run_sync(a, c);
  // c offers its 20 to a (first contact: reconciled), a wants none of them.
  std::size_t blob_bytes = 0;
  for (const auto& m : t.b_to_a)
    if (type_of(m) == 20) blob_bytes += m.size();
  CHECK(blob_bytes == 0);
  CHECK(blob_of(*a.store, "c7") == std::string(500, 'c'));
}

TEST_CASE("sync: offers go by type priority, then most recent first") {
  test::TempDir dir;
  Side a = make_side(dir, "a"), b = make_side(dir, "b");
  put(*a.store, "seed", "note", "a is not empty");
  put(*b.store, "seed2", "note", "b is not empty");
  run_sync(a, b);
  put(*b.store, "old-photo", "photo", "p1");
  put(*b.store, "old-task", "task", "t1");
  put(*b.store, "new-photo", "photo", "p2");
  put(*b.store, "new-task", "task", "t2");
  sync::Options ob;
  ob.prioritize({"task"});
  auto t = run_sync(a, b, {}, ob);
  std::vector<std::string> order;
  for (const auto& m : t.b_to_a) {
    if (type_of(m) != 18) continue;
    sync::Reader r(m);
    r.varint();
    auto offers = sync::decode_offers(m.substr(m.size() - r.remaining()));
    REQUIRE(offers.ok());
    for (const auto& o : *offers) order.push_back(o.block.id);
  }
  CHECK(order == std::vector<std::string>{"new-task", "old-task", "new-photo", "old-photo"});
}

TEST_CASE("sync: a peer that breaks the protocol is refused, and nothing is written") {
  test::TempDir dir;
  Side a = make_side(dir, "a"), b = make_side(dir, "b");
  put(*a.store, "x", "note", "a");
  Session sa(*a.store, b.id, Session::Role::initiator, {});
  REQUIRE(sa.start(0).ok());
  // Before a hello, anything else is refused.
  CHECK_FALSE(sa.receive(sync::encode_mark({5, true}), 0).ok());

  Session sa2(*a.store, b.id, Session::Role::initiator, {});
  REQUIRE(sa2.start(0).ok());
  sync::Hello h;
  h.epoch = "other";
  h.max_seq = 3;
  REQUIRE(sa2.receive(sync::encode(h), 0).ok());
  // A second hello, wants for nothing offered, unknown types, junk: refused.
  CHECK_FALSE(sa2.receive(sync::encode(h), 0).ok());
  Session sa3(*a.store, b.id, Session::Role::initiator, {});
  REQUIRE(sa3.start(0).ok());
  REQUIRE(sa3.receive(sync::encode(h), 0).ok());
  CHECK_FALSE(sa3.receive(sync::encode_wants({1}), 0).ok());
  CHECK_FALSE(sa3.receive(std::string("\x63junk"), 0).ok());
  CHECK_FALSE(sa3.receive(std::string("\x12\xff"), 0).ok());

  // An offered version with a wrong hash fails the commit; nothing lands.
  Session sa4(*a.store, b.id, Session::Role::initiator, {});
  REQUIRE(sa4.start(0).ok());
  h.max_seq = 0;  // an empty peer never reconciles: cursor path
  REQUIRE(sa4.receive(sync::encode(h), 0).ok());
  sync::OffersBuilder ob;
  Block bad;
  bad.id = "evil";
  bad.type = "note";
  bad.created_at = bad.modified_at = 1000;
  bad.modified_by = std::string(32, 'a');
  bad.versions[bad.modified_by] = 1;
  bad.version_hash = std::string(32, '\0');
  bad.blob = "x";
  ob.add(sync::Offer{1, true, bad});
  REQUIRE(sa4.receive(ob.finish(), 0).ok());
  CHECK_FALSE(sa4.receive(sync::encode_mark({1, true}), 0).ok());
  CHECK_FALSE(a.store->get("evil")->has_value());
}
