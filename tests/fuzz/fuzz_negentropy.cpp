// Fuzz target: Negentropy V1 set reconciliation, blk::negentropy::Storage
// and Reconciler (lib/blk/sync/negentropy.hpp), as the sync layer uses it:
// a peer's messages to our responder and to our initiator, and genuine
// reconciliations between two storages.
//
// Input:
//   byte 0    bit 0: mode; bits 1-2: the initiator's frame size limit, bits
//             3-4 the responder's: 0 (none), 4096, 5000 or 65536; bits 5-7
//             all set: mode 1's large sets
//   mode 0 (peer): byte n % 80 items of 3 bytes t, k, j: timestamp t (or
//             2^64-1-(255-t) for t >= 0xf0, so 0xff is the reserved
//             infinity), id k || 30 zero bytes || j. Then up to 16 peer
//             messages, each a 2-byte big-endian length and its bytes.
//   mode 1 (reconcile): bytes p, s, b: a 0..16-byte shared id prefix
//             (p % 17) given to half the items, a timestamp spread (0, or
//             2^(s%64)-1) and a base (b%4: 0, 1.7e9, 2^64-65, 2^40); then
//             three count bytes c, the items in both storages, only in A,
//             only in B: (c & 63) << min(c >> 6, 2 for both, 1 for A and B):
//             up to 252, 126 and 126 items (enough to fill 4096-byte frames);
//             the large sets have 4 times as many (up to 1008, 504, 504:
//             enough for a frame limit to make ids come twice, below). They
//             take ~100 ms a run, so only one input value in 8 asks for them.
//             Then 2-byte explicit items: top 2 bits 0 only A, 1 only B,
//             2 both, 3 both but B's copy at a later timestamp ("moved"),
//             14 bits the item's seed (the last entry for a seed counts).
//             An item's id (32 pseudo-random bytes, then the prefix) and
//             timestamp (base + pseudo-random % (spread + 1), saturating)
//             are a function of its seed, so both sides agree on shared
//             items and sums of ids never collide by accident.
//
// Invariants (both modes):
//   - Nothing throws or crashes; every refusal is a Result error,
//     Code::failure, "negentropy: ...".
//   - Storage: insert refuses exactly the reserved timestamp, ids that are
//     not 32 bytes and anything after seal(); sealed, the items are strictly
//     ascending with exact duplicates dropped; find_lower_bound finds each
//     item; fingerprint() matches a reference computed here from the spec
//     (SHA-256 of the ids' sum mod 2^256 little-endian || varint(count),
//     first 16 bytes). read_varint agrees with a reference decoder (most
//     significant digit first, no leading zero digit, < 2^64) and what it
//     reads re-encodes byte for byte with append_varint.
//   - Every message is checked against a reference parser written here from
//     the grammar in negentropy.hpp (version 0x60..0x6f, then ranges: bound
//     = timestamp delta + 1 or 0 for infinity, prefix <= 32 bytes; bounds
//     non-decreasing; nothing after an infinite bound; modes 0 skip,
//     1 fingerprint of 16 bytes, 2 count + 32-byte ids). A message the
//     reference accepts is accepted by both roles (the initiator refuses
//     another version than 0x61; the responder answers it with the single
//     byte 0x61). One the reference refuses is refused, except that a side
//     with a frame limit stops reading where its reply is full, so it may
//     not see a bad tail.
//   - The initiator's have/need from a message are exactly what its id
//     lists say, range by range, as the spec defines: have = our items in
//     the range whose id is not listed (in storage order), need = the
//     listed ids (sorted, distinct) that none of our items in the range has;
//     all the ranges' with no frame limit, the first k ranges' for some k
//     with one. So every id is 32 bytes and every have id is ours. (A need
//     id can be one we hold under another timestamp: items are timestamp
//     and id; the sync layer looks needs up by hash.) A refused message
//     adds nothing to have/need.
//   - Every message either side sends parses (reference), starts with 0x61
//     and is at most the side's frame size limit. Mode 0 also: the responder
//     is stateless (a fresh one gives the same reply or error to each peer
//     message); a reply of our responder is taken by our initiator over the
//     same storage with no have, no need and nothing more to say; our
//     initiator's messages are taken by our responder; role mix-ups are
//     errors.
//
// Mode 1 in addition: a genuine reconciliation, A initiating against B and
// then B against A, completes (within 10,000 rounds) without an error, and
// what the initiator finds is the true difference: have = ids only in the
// initiator's storage and need = ids only in the responder's; an id both
// hold under different timestamps ("moved") may appear in have and need or
// in neither. Without frame limits each id comes once; with one, an id can
// come again in a later round (a side that stops at its limit ends with a
// fingerprint of everything after, ranges already settled included; the
// reference implementation does the same), so callers must deduplicate.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "blk/sync/negentropy.hpp"
#include "fuzz_common.hpp"

using namespace blk;
using namespace blk::negentropy;

namespace {

constexpr std::uint64_t kLimits[4] = {0, 4096, 5000, 65536};
constexpr unsigned char kV1 = kProtocolVersion;

// ---- references, written from the spec ----

// Varint: base 128, most significant digit first, continuation bit set on
// all but the last, no leading zero digit, at most 2^64-1.
std::optional<std::pair<std::uint64_t, std::size_t>> ref_varint(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto byte = static_cast<unsigned char>(in[i]);
    if (i == 0 && byte == 0x80) return std::nullopt;
    std::uint64_t digit = byte & 0x7fu;
    if (v > (UINT64_MAX - digit) / 128) return std::nullopt;
    v = v * 128 + digit;
    if (!(byte & 0x80)) return std::pair{v, i + 1};
  }
  return std::nullopt;
}

std::string ref_fingerprint(const std::vector<Item>& items, std::size_t begin, std::size_t end) {
  unsigned char sum[32] = {};
  for (std::size_t i = begin; i < end; ++i) {
    unsigned carry = 0;
    for (std::size_t b = 0; b < 32; ++b) {
      carry += sum[b] + items[i].id[b];
      sum[b] = static_cast<unsigned char>(carry);
      carry >>= 8;
    }
  }
  std::string in(reinterpret_cast<const char*>(sum), 32);
  std::uint64_t n = end - begin;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>((n & 0x7f) | (digits.empty() ? 0 : 0x80)));
    n >>= 7;
  } while (n != 0);
  in += digits;
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  return std::string(reinterpret_cast<const char*>(h), kFingerprintSize);
}

struct Range {
  Item bound;
  std::uint64_t mode = 0;
  std::string_view payload;  // mode 1: the fingerprint; mode 2: the ids
};

struct Parsed {
  bool valid = false;
  unsigned char version = 0;
  std::vector<Range> ranges;  // of a valid V1 message
};

Parsed ref_parse(std::string_view msg) {
  Parsed p;
  if (msg.empty()) return p;
  p.version = static_cast<unsigned char>(msg[0]);
  msg.remove_prefix(1);
  if (p.version < 0x60 || p.version > 0x6f) return p;
  if (p.version != kV1) {
    p.valid = true;  // another version: not read further
    return p;
  }
  auto varint = [&]() -> std::optional<std::uint64_t> {
    auto v = ref_varint(msg);
    if (!v) return std::nullopt;
    msg.remove_prefix(v->second);
    return v->first;
  };
  std::uint64_t last = 0;
  Item prev{};
  while (!msg.empty()) {
    if (prev.timestamp == kInfinity) return p;  // nothing after the end
    Range r;
    auto delta = varint();
    if (!delta) return p;
    if (*delta == 0) {
      r.bound.timestamp = kInfinity;
    } else {
      if (*delta - 1 > kInfinity - last) return p;
      r.bound.timestamp = last + (*delta - 1);
    }
    last = r.bound.timestamp;
    auto len = varint();
    if (!len || *len > kIdSize || msg.size() < *len) return p;
    std::copy_n(msg.begin(), *len, r.bound.id.begin());
    msg.remove_prefix(*len);
    if (r.bound < prev) return p;
    auto mode = varint();
    if (!mode) return p;
    r.mode = *mode;
    if (*mode == 1) {
      if (msg.size() < kFingerprintSize) return p;
      r.payload = msg.substr(0, kFingerprintSize);
      msg.remove_prefix(kFingerprintSize);
    } else if (*mode == 2) {
      auto count = varint();
      if (!count || *count > msg.size() / kIdSize) return p;
      r.payload = msg.substr(0, *count * kIdSize);
      msg.remove_prefix(*count * kIdSize);
    } else if (*mode != 0) {
      return p;
    }
    p.ranges.push_back(r);
    prev = r.bound;
  }
  p.valid = true;
  return p;
}

Id to_id(std::string_view s) {
  Id id{};
  std::copy_n(s.begin(), kIdSize, id.begin());
  return id;
}
std::string str(const Id& id) {
  return std::string(id.begin(), id.end());
}

// What the spec says an initiator holding `items` (sorted) learns from each
// id list of a valid V1 message, range by range.
struct Learned {
  std::vector<std::string> have, need;
};
std::vector<Learned> ref_learn(const std::vector<Item>& items, const Parsed& p) {
  std::vector<Learned> out;
  Item prev{};
  for (const Range& r : p.ranges) {
    auto lo = std::lower_bound(items.begin(), items.end(), prev);
    auto hi = std::lower_bound(lo, items.end(), r.bound);
    prev = r.bound;
    if (r.mode != 2) continue;
    std::vector<Id> theirs;
    for (std::size_t i = 0; i < r.payload.size(); i += kIdSize)
      theirs.push_back(to_id(r.payload.substr(i, kIdSize)));
    std::sort(theirs.begin(), theirs.end());
    theirs.erase(std::unique(theirs.begin(), theirs.end()), theirs.end());
    Learned l;
    for (auto it = lo; it != hi; ++it)
      if (!std::binary_search(theirs.begin(), theirs.end(), it->id)) l.have.push_back(str(it->id));
    for (const Id& t : theirs)
      if (std::none_of(lo, hi, [&](const Item& x) { return x.id == t; })) l.need.push_back(str(t));
    out.push_back(std::move(l));
  }
  return out;
}

// ---- the library, checked ----

void check_error(const Error& e, const char* what) {
  FUZZ_CHECK(e.code == Code::failure && e.message.rfind("negentropy: ", 0) == 0,
             "%s: error code %d, message '%s'", what, static_cast<int>(e.code), e.message.c_str());
}

Reconciler make(const Storage& s, std::uint64_t limit) {
  auto r = Reconciler::create(s, limit);
  FUZZ_CHECK(r, "create failed: %s", r ? "" : r.error().message.c_str());
  return std::move(*r);
}

// A message this side sent: parses, V1, within the limit.
void check_sent(const std::string& msg, std::uint64_t limit, const char* who) {
  FUZZ_CHECK(!msg.empty() && static_cast<unsigned char>(msg[0]) == kV1, "%s sent %s", who,
             fuzz::hex(msg).c_str());
  FUZZ_CHECK(limit == 0 || msg.size() <= limit, "%s sent %zu bytes, limit %llu", who, msg.size(),
             static_cast<unsigned long long>(limit));
  FUZZ_CHECK(ref_parse(msg).valid, "%s sent a malformed message: %s", who,
             fuzz::hex(msg, 128).c_str());
}

// Our responder over `s` answers `query`; checks acceptance against the
// reference, statelessness against a fresh responder, and the reply.
Result<std::string> respond(Reconciler& responder, const Storage& s, std::uint64_t limit,
                            std::string_view query, bool must_accept, bool fresh_too) {
  auto reply = responder.reconcile(query);
  std::optional<Result<std::string>> again;
  if (fresh_too) {
    Reconciler fresh = make(s, limit);
    again = fresh.reconcile(query);
    FUZZ_CHECK(bool(reply) == bool(*again), "the responder is not stateless (%d then %d)",
               bool(reply), bool(*again));
  }
  Parsed p = ref_parse(query);
  if (!reply) {
    check_error(reply.error(), "responder");
    FUZZ_CHECK(!again || reply.error().message == (*again).error().message,
               "the responder's errors differ");
    FUZZ_CHECK(!must_accept && !p.valid, "the responder refused a valid message (%s): %s",
               reply.error().message.c_str(), fuzz::hex(query, 96).c_str());
    return reply;
  }
  FUZZ_CHECK(!again || *reply == **again, "the responder is not stateless: two replies");
  FUZZ_CHECK(p.valid || limit != 0, "the responder accepted a malformed message: %s",
             fuzz::hex(query, 96).c_str());
  check_sent(*reply, limit, "the responder");
  if (p.valid && p.version != kV1)
    FUZZ_CHECK(*reply == std::string(1, static_cast<char>(kV1)), "a version 0x%02x message got %s",
               p.version, fuzz::hex(*reply).c_str());
  return reply;
}

// Our initiator over `items` takes `msg`; checks have/need against the
// reference and what it sends next.
Result<std::optional<std::string>> initiate_step(Reconciler& initiator,
                                                 const std::vector<Item>& items,
                                                 std::uint64_t limit, std::string_view msg,
                                                 std::vector<std::string>& have,
                                                 std::vector<std::string>& need, bool must_accept) {
  std::size_t h0 = have.size(), n0 = need.size();
  auto next = initiator.reconcile(msg, have, need);
  Parsed p = ref_parse(msg);
  bool valid = p.valid && p.version == kV1;
  if (!next) {
    check_error(next.error(), "initiator");
    FUZZ_CHECK(have.size() == h0 && need.size() == n0, "a refused message added have/need ids");
    FUZZ_CHECK(!must_accept && !valid, "the initiator refused a valid message (%s): %s",
               next.error().message.c_str(), fuzz::hex(msg, 96).c_str());
    return next;
  }
  FUZZ_CHECK(valid || (limit != 0 && p.version == kV1),
             "the initiator accepted a malformed message: %s", fuzz::hex(msg, 96).c_str());
  if (next->has_value()) {
    check_sent(**next, limit, "the initiator");
    FUZZ_CHECK((*next)->size() > 1, "the initiator sent an empty message instead of finishing");
  }
  for (std::size_t i = h0; i < have.size(); ++i)
    FUZZ_CHECK(have[i].size() == kIdSize, "a %zu-byte have id", have[i].size());
  for (std::size_t i = n0; i < need.size(); ++i)
    FUZZ_CHECK(need[i].size() == kIdSize, "a %zu-byte need id", need[i].size());
  if (valid) {
    // have/need are those of the first k id lists (all of them without a limit).
    std::vector<std::string> new_have(have.begin() + static_cast<std::ptrdiff_t>(h0), have.end());
    std::vector<std::string> new_need(need.begin() + static_cast<std::ptrdiff_t>(n0), need.end());
    auto learned = ref_learn(items, p);
    std::vector<std::string> want_have, want_need;
    bool found = false;
    for (std::size_t k = 0; k <= learned.size() && !found; ++k) {
      if (k > 0) {
        want_have.insert(want_have.end(), learned[k - 1].have.begin(), learned[k - 1].have.end());
        want_need.insert(want_need.end(), learned[k - 1].need.begin(), learned[k - 1].need.end());
      }
      if ((limit == 0 && k < learned.size()) || want_have.size() != new_have.size() ||
          want_need.size() != new_need.size())
        continue;
      found = want_have == new_have && want_need == new_need;
    }
    FUZZ_CHECK(found, "have/need (%zu/%zu ids) are not what the message's %zu id lists say",
               new_have.size(), new_need.size(), learned.size());
  }
  return next;
}

// ---- mode 0: a peer's messages ----

std::uint64_t ts_of(unsigned char t) {
  return t < 0xf0 ? t : kInfinity - (0xff - t);
}

void check_storage(const Storage& s, std::size_t accepted) {
  FUZZ_CHECK(s.sealed(), "not sealed");
  FUZZ_CHECK(s.size() <= accepted, "%zu items from %zu inserts", s.size(), accepted);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0) FUZZ_CHECK(s[i - 1] < s[i], "items %zu and %zu out of order or equal", i - 1, i);
    FUZZ_CHECK(s.find_lower_bound(s[i]) == i, "find_lower_bound misses item %zu", i);
    FUZZ_CHECK(s.find_lower_bound(s[i], i) == i, "find_lower_bound from %zu", i);
  }
}

void check_fingerprints(const Storage& s, const std::vector<Item>& items) {
  const std::pair<std::size_t, std::size_t> spans[] = {
      {0, items.size()}, {items.size() / 3, 2 * items.size() / 3}, {0, 0}};
  for (auto [b, e] : spans) {
    Fingerprint fp = s.fingerprint(b, e);
    FUZZ_CHECK(std::string(fp.begin(), fp.end()) == ref_fingerprint(items, b, e),
               "fingerprint(%zu, %zu) differs from the spec's", b, e);
  }
}

void check_varints(std::string_view in) {
  while (!in.empty()) {
    std::string_view before = in;
    auto want = ref_varint(in);
    auto got = read_varint(in);
    FUZZ_CHECK(bool(got) == bool(want), "read_varint %s %s", got ? "accepted" : "refused",
               fuzz::hex(before, 12).c_str());
    if (!got) {
      check_error(got.error(), "read_varint");
      FUZZ_CHECK(in == before, "a refused varint consumed bytes");
      in.remove_prefix(1);
      continue;
    }
    FUZZ_CHECK(*got == want->first && before.size() - in.size() == want->second,
               "read_varint read another value or length");
    std::string enc;
    append_varint(enc, *got);
    FUZZ_CHECK(enc == before.substr(0, want->second), "append_varint(%llu) is %s, read from %s",
               static_cast<unsigned long long>(*got), fuzz::hex(enc).c_str(),
               fuzz::hex(before.substr(0, want->second)).c_str());
  }
}

void peer_mode(std::string_view in, std::uint64_t li, std::uint64_t lr) {
  auto byte = [&]() -> unsigned {
    if (in.empty()) return 0;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    return b;
  };
  Storage s;
  std::vector<Item> inserted;
  for (unsigned n = byte() % 80; n > 0 && in.size() >= 3; --n) {
    Item it{ts_of(static_cast<unsigned char>(in[0])), {}};
    it.id[0] = static_cast<unsigned char>(in[1]);
    it.id[31] = static_cast<unsigned char>(in[2]);
    in.remove_prefix(3);
    auto r = s.insert(it.timestamp, it.id);
    FUZZ_CHECK(bool(r) == (it.timestamp != kInfinity), "insert(%llu) %s",
               static_cast<unsigned long long>(it.timestamp), r ? "accepted" : "refused");
    if (r) inserted.push_back(it);
  }
  FUZZ_CHECK(!s.insert(1, std::string_view("short id")), "a short id was inserted");
  FUZZ_CHECK(!Reconciler::create(s, 0), "a reconciler over an unsealed storage");
  s.seal();
  FUZZ_CHECK(!s.insert(1, Id{}), "an insert after seal()");
  std::sort(inserted.begin(), inserted.end());
  inserted.erase(std::unique(inserted.begin(), inserted.end()), inserted.end());
  check_storage(s, inserted.size());
  FUZZ_CHECK(s.size() == inserted.size(), "%zu items, %zu distinct inserted", s.size(),
             inserted.size());
  std::vector<Item> items(inserted);
  for (std::size_t i = 0; i < items.size(); ++i)
    FUZZ_CHECK(s[i] == items[i], "item %zu is not the inserted one", i);
  check_fingerprints(s, items);
  FUZZ_CHECK(!Reconciler::create(s, kMinFrameSizeLimit - 1), "a frame limit under 4096");

  std::vector<std::string> messages;
  while (!in.empty() && messages.size() < 16) {
    std::size_t len = byte() << 8;
    len |= byte();
    len = std::min(len, in.size());
    messages.emplace_back(in.substr(0, len));
    in.remove_prefix(len);
  }
  for (const auto& m : messages) check_varints(m);

  // The responder.
  Reconciler responder = make(s, lr);
  for (const auto& m : messages) {
    auto reply = respond(responder, s, lr, m, false, true);
    if (!reply) continue;
    Reconciler own = make(s, li);
    auto first = own.initiate();
    FUZZ_CHECK(first, "initiate failed");
    std::vector<std::string> have, need;
    auto taken = initiate_step(own, items, li, *reply, have, need, true);
    FUZZ_CHECK(taken && !taken->has_value() && have.empty() && need.empty(),
               "our initiator over the same storage does not agree with our responder's reply "
               "(%zu have, %zu need, %s)",
               have.size(), need.size(), taken && taken->has_value() ? "more to say" : "done");
  }
  FUZZ_CHECK(!responder.initiate() || messages.empty(), "a responder initiated");

  // The initiator.
  Reconciler initiator = make(s, li);
  std::vector<std::string> h, n;
  Reconciler early = make(s, li);
  FUZZ_CHECK(!early.reconcile(std::string(1, static_cast<char>(kV1)), h, n),
             "have/need before initiate()");
  auto first = initiator.initiate();
  FUZZ_CHECK(first, "initiate failed");
  check_sent(*first, li, "the initiator (first)");
  FUZZ_CHECK(!initiator.initiate(), "initiate() twice");
  FUZZ_CHECK(!initiator.reconcile(*first), "the initiator answered as a responder");
  {
    Reconciler r = make(s, lr);
    (void)respond(r, s, lr, *first, true, false);
  }
  std::vector<std::string> have, need;
  for (const auto& m : messages) {
    auto next = initiate_step(initiator, items, li, m, have, need, false);
    if (next && next->has_value()) {
      Reconciler r = make(s, lr);
      (void)respond(r, s, lr, **next, true, false);
    }
  }
}

// ---- mode 1: genuine reconciliations ----

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

struct World {
  std::size_t prefix = 0;
  std::uint64_t spread = 0, base = 0;
  Item item(std::uint64_t seed) const {
    Item it;
    for (int lane = 0; lane < 4; ++lane) {
      std::uint64_t v = mix(seed * 8 + static_cast<std::uint64_t>(lane));
      for (int b = 0; b < 8; ++b) it.id[8 * lane + b] = static_cast<unsigned char>(v >> (8 * b));
    }
    if (mix(seed * 8 + 4) & 1) std::fill_n(it.id.begin(), prefix, 0xc3);
    std::uint64_t off = spread == 0 ? 0 : mix(seed * 8 + 5) % (spread + 1);
    it.timestamp = sat_add(base, off);
    return it;
  }
  std::uint64_t moved(std::uint64_t seed, std::uint64_t ts) const {
    return sat_add(ts, 1 + mix(seed * 8 + 6) % 1000);
  }
};

// What each seed became: its id, and on which sides (at which timestamp).
struct Seeded {
  Id id{};
  std::optional<std::uint64_t> ts_a, ts_b;  // nullopt: not on that side
};

// The truth by id, looked up by the id's last 8 bytes (always pseudo-random:
// the shared prefix is at most 16 bytes).
class Truth {
 public:
  void add(const Seeded& s) {
    index_.emplace(key(s.id), seeds_.size());
    seeds_.push_back(s);
  }
  const Seeded* find(const Id& id) const {
    auto it = index_.find(key(id));
    return it != index_.end() && seeds_[it->second].id == id ? &seeds_[it->second] : nullptr;
  }
  const std::vector<Seeded>& all() const { return seeds_; }

 private:
  static std::uint64_t key(const Id& id) {
    std::uint64_t k = 0;
    for (int b = 0; b < 8; ++b) k = (k << 8) | id[24 + static_cast<std::size_t>(b)];
    return k;
  }
  std::vector<Seeded> seeds_;
  std::unordered_map<std::uint64_t, std::size_t> index_;
};

struct Side {
  Storage storage;
  std::vector<Item> items;  // the sealed storage's items, checked
  std::size_t inserted = 0;
  bool add(const Item& it) {
    auto r = storage.insert(it.timestamp, it.id);
    FUZZ_CHECK(bool(r) == (it.timestamp != kInfinity), "insert(%llu) %s",
               static_cast<unsigned long long>(it.timestamp), r ? "accepted" : "refused");
    if (r) ++inserted;
    return bool(r);
  }
  // Every seed is one item on a side, so the sealed storage holds exactly
  // the items inserted, each once.
  void seal(const Truth& truth, bool is_a) {
    storage.seal();
    check_storage(storage, inserted);
    FUZZ_CHECK(storage.size() == inserted, "%zu items from %zu distinct inserts", storage.size(),
               inserted);
    items.reserve(storage.size());
    for (std::size_t i = 0; i < storage.size(); ++i) {
      const Seeded* s = truth.find(storage[i].id);
      const auto& ts = is_a ? s->ts_a : s->ts_b;
      FUZZ_CHECK(s && ts && *ts == storage[i].timestamp, "item %zu was never inserted", i);
      items.push_back(storage[i]);
    }
    check_fingerprints(storage, items);
  }
};

// `a` initiates against `b`; checks have/need against the truth.
void reconcile(const Side& a, const Side& b, const Truth& truth, bool a_is_a, std::uint64_t li,
               std::uint64_t lr) {
  Reconciler initiator = make(a.storage, li);
  Reconciler responder = make(b.storage, lr);
  auto first = initiator.initiate();
  FUZZ_CHECK(first, "initiate failed");
  check_sent(*first, li, "the initiator (first)");
  std::string msg = *first;
  std::vector<std::string> have, need;
  for (int round = 0;; ++round) {
    FUZZ_CHECK(round < 10000, "no end after %d rounds (%zu and %zu items)", round, a.items.size(),
               b.items.size());
    auto reply = respond(responder, b.storage, lr, msg, true, false);
    auto next = initiate_step(initiator, a.items, li, *reply, have, need, true);
    if (!next->has_value()) break;
    msg = std::move(**next);
  }

  // Pure differences must be found; a moved id may be reported on either
  // side or not at all; nothing else. Each once without frame limits: a
  // side that stops at its limit ends with one fingerprint from there to the
  // end, which covers ranges already settled further on, so they are
  // compared and reported again (as in the reference implementation).
  auto mine = [&](const Seeded& s) { return a_is_a ? s.ts_a : s.ts_b; };
  auto theirs = [&](const Seeded& s) { return a_is_a ? s.ts_b : s.ts_a; };
  auto check_found = [&](std::vector<std::string>& found, bool have_side, const char* what) {
    std::sort(found.begin(), found.end());
    auto dup = std::adjacent_find(found.begin(), found.end());
    FUZZ_CHECK(dup == found.end() || li != 0 || lr != 0, "an id twice in %s, no frame limit", what);
    found.erase(std::unique(found.begin(), found.end()), found.end());
    std::size_t pure_found = 0;
    for (const auto& f : found) {
      const Seeded* s = truth.find(to_id(f));
      FUZZ_CHECK(s, "%s holds an id neither side has", what);
      auto own = have_side ? mine(*s) : theirs(*s), other = have_side ? theirs(*s) : mine(*s);
      FUZZ_CHECK(own, "%s holds an id its side does not have", what);
      FUZZ_CHECK(!other || *other != *own, "%s holds an id both sides have", what);
      if (!other) ++pure_found;
    }
    std::size_t pure = 0;
    for (const auto& s : truth.all()) {
      auto own = have_side ? mine(s) : theirs(s), other = have_side ? theirs(s) : mine(s);
      if (own && !other) ++pure;
    }
    FUZZ_CHECK(pure_found == pure, "%s found %zu of %zu ids only one side has", what, pure_found,
               pure);
  };
  check_found(have, true, "have");
  check_found(need, false, "need");
}

void reconcile_mode(std::string_view in, std::uint64_t li, std::uint64_t lr, bool large) {
  auto byte = [&]() -> unsigned {
    if (in.empty()) return 0;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    return b;
  };
  auto u16 = [&]() { return (byte() << 8) | byte(); };
  World w;
  w.prefix = byte() % 17;
  unsigned spread_bits = byte() % 64;
  w.spread = spread_bits == 0 ? 0 : (std::uint64_t{1} << spread_bits) - 1;
  constexpr std::uint64_t kBases[4] = {0, 1700000000, kInfinity - 64, std::uint64_t{1} << 40};
  w.base = kBases[byte() % 4];
  auto count = [&](unsigned max_shift) {  // 0..63 items, times 1, 2 or 4
    unsigned b = byte();
    return (b & 0x3fu) << std::min(b >> 6, max_shift);
  };
  unsigned scale = large ? 2 : 0;  // the large sets: 4 times as many
  unsigned both = count(2) << scale, only_a = count(1) << scale, only_b = count(1) << scale;

  // Membership by seed (a later explicit entry overrides an earlier one).
  std::vector<std::pair<std::uint64_t, unsigned>> members;
  for (unsigned i = 0; i < both; ++i) members.emplace_back(0x100000 + i, 2);
  for (unsigned i = 0; i < only_a; ++i) members.emplace_back(0x200000 + i, 0);
  for (unsigned i = 0; i < only_b; ++i) members.emplace_back(0x300000 + i, 1);
  std::vector<std::pair<std::uint64_t, unsigned>> explicit_items;
  while (in.size() >= 2) {
    unsigned v = u16();
    explicit_items.emplace_back(0x400000 + (v & 0x3fff), v >> 14);
  }
  std::stable_sort(explicit_items.begin(), explicit_items.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (std::size_t i = 0; i < explicit_items.size(); ++i)
    if (i + 1 == explicit_items.size() || explicit_items[i + 1].first != explicit_items[i].first)
      members.push_back(explicit_items[i]);

  Side a, b;
  Truth truth;
  for (auto [seed, m] : members) {
    Item it = w.item(seed);
    Seeded s{it.id, {}, {}};
    if ((m == 0 || m >= 2) && a.add(it)) s.ts_a = it.timestamp;
    if ((m == 1 || m == 2) && b.add(it)) s.ts_b = it.timestamp;
    if (m == 3) {
      std::uint64_t later = w.moved(seed, it.timestamp);
      if (b.add(Item{later, it.id})) s.ts_b = later;
    }
    truth.add(s);
  }
  a.seal(truth, true);
  b.seal(truth, false);
  reconcile(a, b, truth, true, li, lr);
  reconcile(b, a, truth, false, li, lr);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  unsigned flags = in.empty() ? 0 : static_cast<unsigned char>(in[0]);
  if (!in.empty()) in.remove_prefix(1);
  std::uint64_t li = kLimits[(flags >> 1) & 3], lr = kLimits[(flags >> 3) & 3];
  if (flags & 1)
    reconcile_mode(in, li, lr, (flags >> 5) == 7);
  else
    peer_mode(in, li, lr);
  return 0;
}
