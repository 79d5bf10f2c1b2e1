// Negentropy V1: varints, fingerprints against the spec's definition,
// reconciliations of seeded random sets (with and without frame size limits)
// and messages cut short or corrupted, which must fail cleanly.
#include "blk/sync/negentropy.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>
#include <random>
#include <set>

#include "blk/encoding.hpp"

using namespace blk;
using namespace blk::negentropy;

namespace {

std::string bytes(std::string_view hex) {
  return *hex_decode(hex);
}

Id sha256_id(std::string_view text) {
  Id id;
  crypto_hash_sha256(id.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  return id;
}

std::string to_string(const Id& id) {
  return std::string(id.begin(), id.end());
}

// The spec's fingerprint, computed the slow way: byte-wise little-endian
// addition, then SHA-256 of the sum and the varint count, cut to 16 bytes.
std::string spec_fingerprint(const std::vector<Id>& ids) {
  unsigned char sum[32] = {};
  for (const Id& id : ids) {
    unsigned carry = 0;
    for (int i = 0; i < 32; ++i) {
      unsigned s = sum[i] + id[static_cast<std::size_t>(i)] + carry;
      sum[i] = static_cast<unsigned char>(s);
      carry = s >> 8;
    }
  }
  std::string input(reinterpret_cast<const char*>(sum), 32);
  append_varint(input, ids.size());
  unsigned char hash[32];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  return std::string(reinterpret_cast<const char*>(hash), 16);
}

std::string fingerprint_of(const Storage& s, std::size_t begin, std::size_t end) {
  Fingerprint fp = s.fingerprint(begin, end);
  return std::string(fp.begin(), fp.end());
}

Storage sealed(const std::vector<Item>& items) {
  Storage s;
  for (const Item& item : items) REQUIRE(s.insert(item.timestamp, item.id).ok());
  s.seal();
  return s;
}

struct Outcome {
  std::set<std::string> have, need;
  int rounds = 0;
};

// Runs a whole reconciliation in memory, checking every message against
// its sender's frame size limit.
Outcome reconcile_all(const Storage& a, const Storage& b, std::uint64_t limit_a = 0,
                      std::uint64_t limit_b = 0) {
  auto ini = Reconciler::create(a, limit_a);
  auto res = Reconciler::create(b, limit_b);
  REQUIRE(ini.ok());
  REQUIRE(res.ok());
  Outcome out;
  auto msg = ini->initiate();
  REQUIRE(msg.ok());
  std::string query = *msg;
  while (true) {
    if (limit_a) CHECK(query.size() <= limit_a);
    auto reply = res->reconcile(query);
    REQUIRE(reply.ok());
    if (limit_b) CHECK(reply->size() <= limit_b);
    std::vector<std::string> have, need;
    auto next = ini->reconcile(*reply, have, need);
    REQUIRE(next.ok());
    for (auto& id : have) CHECK(out.have.insert(id).second);  // never reported twice
    for (auto& id : need) CHECK(out.need.insert(id).second);
    ++out.rounds;
    REQUIRE(out.rounds < 100);
    if (!*next) return out;
    query = **next;
  }
}

struct Sets {
  std::vector<Item> a, b;
  std::set<std::string> only_a, only_b;
};

// `shared` items on both sides and some on one only; timestamps drawn from
// `spread` values, so a small spread makes many share a timestamp.
Sets random_sets(std::uint32_t seed, std::size_t shared, std::size_t only_a, std::size_t only_b,
                 std::uint64_t spread) {
  std::mt19937_64 rng(seed);
  auto item = [&] {
    Item it{1'700'000'000 + rng() % spread, {}};
    for (auto& byte : it.id) byte = static_cast<unsigned char>(rng());
    return it;
  };
  Sets s;
  for (std::size_t i = 0; i < shared; ++i) {
    Item it = item();
    s.a.push_back(it);
    s.b.push_back(it);
  }
  for (std::size_t i = 0; i < only_a; ++i) {
    s.a.push_back(item());
    s.only_a.insert(to_string(s.a.back().id));
  }
  for (std::size_t i = 0; i < only_b; ++i) {
    s.b.push_back(item());
    s.only_b.insert(to_string(s.b.back().id));
  }
  return s;
}

}  // namespace

TEST_CASE("negentropy: varints") {
  for (auto [value, hex] :
       std::vector<std::pair<std::uint64_t, std::string>>{{0, "00"},
                                                          {1, "01"},
                                                          {127, "7f"},
                                                          {128, "8100"},
                                                          {300, "822c"},
                                                          {16383, "ff7f"},
                                                          {16384, "818000"},
                                                          {UINT64_MAX, "81ffffffffffffffff7f"}}) {
    std::string enc;
    append_varint(enc, value);
    CHECK(hex_encode(enc) == hex);
    std::string_view in = enc;
    auto back = read_varint(in);
    REQUIRE(back.ok());
    CHECK(*back == value);
    CHECK(in.empty());
  }
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t v = rng() >> (rng() % 64);
    std::string enc;
    append_varint(enc, v);
    enc += "rest";
    std::string_view in = enc;
    auto back = read_varint(in);
    REQUIRE(back.ok());
    CHECK(*back == v);
    CHECK(in == "rest");
  }
  for (std::string hex : {"", "80", "ff", "81ff", "8000",  // truncated, or a leading zero digit
                          "82808080808080808000",          // 2^64: one bit too many
                          "ffffffffffffffffffff7f"}) {     // 11 digits
    std::string enc = bytes(hex);
    std::string_view in = enc;
    CHECK_FALSE(read_varint(in).ok());
  }
}

TEST_CASE("negentropy: fingerprints follow the spec") {
  // Values computed outside this code (Python's hashlib and big integers).
  Storage empty;
  empty.seal();
  CHECK(hex_encode(fingerprint_of(empty, 0, 0)) == "7f9c9e31ac8256ca2f258583df262dbc");

  Id ones;
  ones.fill(0xff);
  Id one{};
  one[0] = 1;  // ff..ff + 1 wraps to zero: the carry crosses all 256 bits
  Storage wrap = sealed({{1, ones}, {2, one}});
  CHECK(hex_encode(fingerprint_of(wrap, 0, 2)) == "58cc2f44d3a27866874701fbad573da9");

  std::vector<Item> items;
  for (int i = 0; i < 200; ++i)
    items.push_back({static_cast<std::uint64_t>(i), sha256_id(std::to_string(i))});
  Storage s = sealed(items);
  CHECK(hex_encode(fingerprint_of(s, 0, 200)) == "7ed859c5b2b0e4b6a0ae08f32081c45d");

  // Every sub-range, against the byte-wise definition.
  std::mt19937 rng(7);
  for (int n = 0; n < 200; ++n) {
    std::size_t begin = rng() % 200, end = begin + rng() % (201 - begin);
    std::vector<Id> ids;
    for (std::size_t i = begin; i < end; ++i) ids.push_back(s[i].id);
    CHECK(fingerprint_of(s, begin, end) == spec_fingerprint(ids));
  }
}

TEST_CASE("negentropy: storage") {
  Storage s;
  Id id{};
  CHECK(s.insert(5, id).ok());
  CHECK(s.insert(5, id).ok());  // an exact duplicate, dropped by seal()
  CHECK(s.insert(4, id).ok());
  CHECK_FALSE(s.insert(kInfinity, id).ok());
  CHECK_FALSE(s.insert(1, std::string_view("short")).ok());
  s.seal();
  CHECK(s.size() == 2);
  CHECK(s[0].timestamp == 4);
  CHECK_FALSE(s.insert(6, id).ok());
  CHECK(s.find_lower_bound(Item{5, {}}) == 1);
  CHECK(s.find_lower_bound(Item{6, {}}) == 2);
  static_assert(sizeof(Item) == 40);

  Storage unsealed;
  CHECK_FALSE(Reconciler::create(unsealed).ok());
  CHECK_FALSE(Reconciler::create(s, 4095).ok());
  CHECK(Reconciler::create(s, 4096).ok());
}

TEST_CASE("negentropy: messages match the reference encoding") {
  Id e;
  e.fill(0xee);
  Storage one = sealed({{12345, e}});

  // The first message is the whole space as one id list (timestamp 0 is
  // infinity, then an empty id prefix, IdList, one id).
  auto ini = Reconciler::create(one);
  CHECK(hex_encode(*ini->initiate()) == "6100000201" + hex_encode(to_string(e)));

  // The reference suite's version tests: an empty id list for the whole
  // space gets our ids; a message of another version gets our version only.
  auto res = Reconciler::create(one);
  CHECK(hex_encode(*res->reconcile(bytes("6100000200"))) ==
        "6100000201" + hex_encode(to_string(e)));
  CHECK(*res->reconcile(bytes("62aabbccddeeff")) == "\x61");
  CHECK_FALSE(res->reconcile(bytes("51")).ok());

  // 100 items, four to a timestamp (so bounds need id prefixes): this first
  // message was made by @nostr-dev-kit/sync 1.0.0; its SHA-256 is compared.
  std::vector<Item> items;
  for (int i = 0; i < 100; ++i)
    items.push_back({1000 + static_cast<std::uint64_t>(i / 4), sha256_id(std::to_string(i))});
  Storage hundred = sealed(items);
  auto msg = Reconciler::create(hundred)->initiate();
  REQUIRE(msg.ok());
  CHECK(msg->size() == 315);
  Id digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(msg->data()),
                     msg->size());
  CHECK(hex_encode(to_string(digest)) ==
        "bcae6687dcad03d2e2ace8016e0f8ab8f9c80db1783bdab4bd5924e8c5c794b6");
}

TEST_CASE("negentropy: reconciliation finds exactly the symmetric difference") {
  struct Case {
    std::size_t shared, only_a, only_b;
    std::uint64_t spread, limit_a, limit_b;
  };
  std::uint32_t seed = 0;
  for (Case c : std::vector<Case>{{0, 0, 0, 1000, 0, 0},
                                  {0, 1000, 0, 1000, 0, 0},
                                  {0, 0, 1000, 1000, 0, 0},
                                  {0, 0, 5000, 100000, 4096, 4096},
                                  {0, 5000, 0, 100000, 4096, 4096},
                                  {1, 1, 1, 10, 0, 0},
                                  {5000, 0, 0, 100000, 0, 0},
                                  {5000, 100, 100, 100000, 0, 0},
                                  {5000, 100, 100, 20, 0, 0},  // many share a timestamp
                                  {5000, 100, 100, 100000, 4096, 4096},
                                  {5000, 300, 300, 20, 4096, 10000},
                                  {20000, 1, 1, 1000000, 4096, 0}}) {
    CAPTURE(seed);
    Sets sets = random_sets(++seed, c.shared, c.only_a, c.only_b, c.spread);
    Storage a = sealed(sets.a), b = sealed(sets.b);
    Outcome out = reconcile_all(a, b, c.limit_a, c.limit_b);
    CHECK(out.have == sets.only_a);
    CHECK(out.need == sets.only_b);
  }
}

TEST_CASE("negentropy: a million items") {
  Sets sets = random_sets(99, 1'000'000, 20, 20, 1'000'000'000);
  Storage a, b;
  a.reserve(sets.a.size());
  b.reserve(sets.b.size());
  bool inserted = true;
  for (const Item& it : sets.a) inserted &= a.insert(it.timestamp, it.id).ok();
  for (const Item& it : sets.b) inserted &= b.insert(it.timestamp, it.id).ok();
  REQUIRE(inserted);
  a.seal();
  b.seal();
  Outcome out = reconcile_all(a, b, 0, 500'000);
  CHECK(out.have == sets.only_a);
  CHECK(out.need == sets.only_b);
}

TEST_CASE("negentropy: roles") {
  Storage s;
  s.seal();
  auto r = Reconciler::create(s);
  std::vector<std::string> have, need;
  CHECK_FALSE(r->reconcile(bytes("61"), have, need).ok());  // not initiated
  CHECK(r->reconcile(bytes("61")).ok());
  CHECK_FALSE(r->initiate().ok());  // already a responder

  auto i = Reconciler::create(s);
  CHECK(i->initiate().ok());
  CHECK_FALSE(i->initiate().ok());
  CHECK_FALSE(i->reconcile(bytes("61")).ok());              // the initiator must collect ids
  CHECK_FALSE(i->reconcile(bytes("62"), have, need).ok());  // only V1 spoken
  auto done = i->reconcile(bytes("61"), have, need);
  REQUIRE(done.ok());
  CHECK_FALSE(done->has_value());
}

TEST_CASE("negentropy: malformed messages are refused") {
  Sets sets = random_sets(5, 300, 40, 40, 30);
  Storage s = sealed(sets.a);
  auto refused = [&](std::string_view hex) {
    auto r = Reconciler::create(s);
    return !r->reconcile(bytes(hex)).ok();
  };
  CHECK(refused(""));                                       // no version byte
  CHECK(refused("00"));                                     // not a negentropy version
  CHECK(refused("6100"));                                   // bound cut short
  CHECK(refused("610000"));                                 // no mode
  CHECK(refused("61000003"));                               // mode 3
  CHECK(refused("610021" + std::string(66, '0') + "00"));   // 33-byte id prefix
  CHECK(refused("610000010102"));                           // fingerprint cut short
  CHECK(refused("61000002ffffffffffffff7f"));               // a huge id count
  CHECK(refused("6100000205" + std::string(64 * 4, '1')));  // 5 ids promised, 4 sent
  CHECK(refused("610a01ff0001010100"));                     // second bound below the first
  CHECK(refused("61000000000000"));                         // a range after infinity
  CHECK(refused("61ffffffffffffffffff7f0000"));             // 11-digit varint
  CHECK(
      refused("61"
              "81ffffffffffffffff7f"
              "0000"
              "030000"));  // timestamp past 2^64-1

  // A whole conversation's messages, each cut at every length and with
  // bytes changed: every answer is an error or a well-formed reply, never a
  // crash, and a reply never exceeds the limit.
  Storage other = sealed(sets.b);
  auto ini = Reconciler::create(other, 4096);
  auto res = Reconciler::create(s, 4096);
  std::vector<std::string> queries{*ini->initiate()}, replies;
  for (int round = 0; round < 20; ++round) {
    replies.push_back(*res->reconcile(queries.back()));
    std::vector<std::string> have, need;
    auto next = ini->reconcile(replies.back(), have, need);
    REQUIRE(next.ok());
    if (!*next) break;
    queries.push_back(**next);
  }
  REQUIRE(queries.size() >= 2);

  // Counted rather than checked one by one: a million assertions are slow.
  std::size_t refused_count = 0, accepted = 0, oversized = 0, bad_ids = 0;
  std::mt19937 rng(3);
  auto mangle = [&](const std::string& m, auto&& feed) {
    for (std::size_t n = 0; n <= m.size(); ++n) feed(m.substr(0, n));
    for (std::size_t i = 0; i < m.size(); ++i) {
      unsigned char random = static_cast<unsigned char>(rng() | 1);
      for (unsigned char x : {std::uint8_t{0x80}, random}) {  // a varint's high bit, and any
        std::string bad = m;
        bad[i] = static_cast<char>(bad[i] ^ x);
        feed(bad);
      }
    }
  };
  for (const auto& q : queries) {
    mangle(q, [&](const std::string& bad) {
      auto r = Reconciler::create(s, 4096);
      auto reply = r->reconcile(bad);
      ++(reply.ok() ? accepted : refused_count);
      if (reply.ok() && reply->size() > 4096) ++oversized;
    });
  }
  for (const auto& reply : replies) {
    mangle(reply, [&](const std::string& bad) {
      auto r = Reconciler::create(other, 4096);
      (void)r->initiate();
      std::vector<std::string> have, need;
      auto next = r->reconcile(bad, have, need);
      ++(next.ok() ? accepted : refused_count);
      if (next.ok() && *next && (*next)->size() > 4096) ++oversized;
      auto is_id = [](const std::string& id) { return id.size() == kIdSize; };
      if (!std::all_of(have.begin(), have.end(), is_id) ||
          !std::all_of(need.begin(), need.end(), is_id)) {
        ++bad_ids;
      }
    });
  }
  CHECK(refused_count > 0);
  CHECK(accepted > 0);
  CHECK(oversized == 0);
  CHECK(bad_ids == 0);
}
