#include "blk/sync/negentropy.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace blk::negentropy {
namespace {

Error fail(std::string what) {
  return make_error(Code::failure, "negentropy: " + what);
}

enum Mode : std::uint64_t { kSkip = 0, kFingerprint = 1, kIdList = 2 };

// A range is split into this many sub-ranges, unless it has fewer than twice
// as many items, which are then sent as a list: both numbers are part of the
// protocol in practice, since the reference implementations use them and we
// want byte-identical messages.
constexpr std::size_t kBuckets = 16;
// What a message keeps free under the frame size limit for the fingerprint
// of the rest that ends it (the reference's margin).
constexpr std::uint64_t kFrameMargin = 200;

// The upper bound of a range: a timestamp and the shortest id prefix that
// separates the range's last item from the next one. Compared as an Item
// whose omitted id bytes are zero.
struct Bound {
  Item item;
  std::size_t id_len = 0;
};

constexpr Bound kEndBound{Item{kInfinity, {}}, 0};

// The shortest bound above `prev` and not above `curr` (prev < curr).
Bound minimal_bound(const Item& prev, const Item& curr) {
  Bound b;
  b.item.timestamp = curr.timestamp;
  if (curr.timestamp == prev.timestamp) {
    auto differ = std::mismatch(curr.id.begin(), curr.id.end(), prev.id.begin()).first;
    b.id_len = static_cast<std::size_t>(differ - curr.id.begin()) + 1;
    std::copy_n(curr.id.begin(), b.id_len, b.item.id.begin());
  }
  return b;
}

void append_bytes(std::string& out, const unsigned char* p, std::size_t n) {
  out.append(reinterpret_cast<const char*>(p), n);
}

Result<std::string_view> take(std::string_view& in, std::size_t n) {
  if (in.size() < n) return fail("message ends early");
  std::string_view head = in.substr(0, n);
  in.remove_prefix(n);
  return head;
}

std::uint64_t load_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The sum of ids as 256-bit little-endian numbers, mod 2^256.
class IdSum {
 public:
  void add(const Id& id) {
    std::uint64_t carry = 0;
    for (int i = 0; i < 4; ++i) {
      std::uint64_t x = load_le64(id.data() + 8 * i);
      std::uint64_t s = limbs_[i] + x;
      std::uint64_t c = s < x;
      limbs_[i] = s + carry;
      carry = c | (limbs_[i] < s);
    }
  }

  Fingerprint fingerprint(std::uint64_t count) const {
    std::string input;
    for (std::uint64_t limb : limbs_) {
      for (int b = 0; b < 8; ++b) input.push_back(static_cast<char>(limb >> (8 * b)));
    }
    append_varint(input, count);
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    Fingerprint fp;
    std::copy_n(hash, fp.size(), fp.begin());
    return fp;
  }

 private:
  std::uint64_t limbs_[4] = {};
};

// Bound timestamps are written as deltas from the previous bound of the same
// message (plus one; 0 is infinity), so each message has its own state.
class BoundWriter {
 public:
  void write(std::string& out, const Bound& b) {
    if (b.item.timestamp == kInfinity) {
      append_varint(out, 0);
    } else {
      append_varint(out, b.item.timestamp - last_ + 1);
    }
    last_ = b.item.timestamp;
    append_varint(out, b.id_len);
    append_bytes(out, b.item.id.data(), b.id_len);
  }

 private:
  std::uint64_t last_ = 0;
};

class BoundReader {
 public:
  Result<Bound> read(std::string_view& in) {
    auto encoded = read_varint(in);
    if (!encoded) return std::move(encoded).error();
    Bound b;
    if (*encoded == 0) {
      b.item.timestamp = kInfinity;
    } else {
      // The spec has no negative deltas, and a sum past 2^64 is no timestamp.
      if (*encoded - 1 > kInfinity - last_) return fail("bound timestamp overflows");
      b.item.timestamp = last_ + (*encoded - 1);
    }
    last_ = b.item.timestamp;
    auto len = read_varint(in);
    if (!len) return std::move(len).error();
    if (*len > kIdSize) return fail("bound id prefix longer than 32 bytes");
    auto prefix = take(in, static_cast<std::size_t>(*len));
    if (!prefix) return std::move(prefix).error();
    std::memcpy(b.item.id.data(), prefix->data(), prefix->size());
    b.id_len = prefix->size();
    return b;
  }

 private:
  std::uint64_t last_ = 0;
};

// Writes the ranges that cover the items [lower, upper) of `s`, ending at
// `upper_bound`: their ids if few, else fingerprints of kBuckets sub-ranges.
void split_range(const Storage& s, std::size_t lower, std::size_t upper, const Bound& upper_bound,
                 BoundWriter& bounds, std::string& out) {
  std::size_t n = upper - lower;
  if (n < 2 * kBuckets) {
    bounds.write(out, upper_bound);
    append_varint(out, kIdList);
    append_varint(out, n);
    for (std::size_t i = lower; i < upper; ++i) append_bytes(out, s[i].id.data(), kIdSize);
    return;
  }
  std::size_t curr = lower;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    std::size_t bucket = n / kBuckets + (b < n % kBuckets ? 1 : 0);
    Fingerprint fp = s.fingerprint(curr, curr + bucket);
    curr += bucket;
    bounds.write(out, curr == upper ? upper_bound : minimal_bound(s[curr - 1], s[curr]));
    append_varint(out, kFingerprint);
    append_bytes(out, fp.data(), fp.size());
  }
}

// The initiator's side of an IdList: `theirs` (count ids, already checked to
// be count * 32 bytes) against our items [lower, upper).
void compare_ids(const Storage& s, std::size_t lower, std::size_t upper, std::string_view theirs,
                 std::vector<std::string>& have, std::vector<std::string>& need) {
  std::vector<Id> ids(theirs.size() / kIdSize);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(ids[i].data(), theirs.data() + i * kIdSize, kIdSize);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<bool> matched(ids.size());
  auto as_string = [](const Id& id) { return std::string(id.begin(), id.end()); };
  for (std::size_t i = lower; i < upper; ++i) {
    auto it = std::lower_bound(ids.begin(), ids.end(), s[i].id);
    if (it != ids.end() && *it == s[i].id) {
      matched[static_cast<std::size_t>(it - ids.begin())] = true;
    } else {
      have.push_back(as_string(s[i].id));
    }
  }
  for (std::size_t j = 0; j < ids.size(); ++j) {
    if (!matched[j]) need.push_back(as_string(ids[j]));
  }
}

}  // namespace

void append_varint(std::string& out, std::uint64_t value) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = static_cast<char>(value & 0x7f);
    value >>= 7;
  } while (value != 0);
  while (n > 1) out.push_back(static_cast<char>(digits[--n] | 0x80));
  out.push_back(digits[0]);
}

Result<std::uint64_t> read_varint(std::string_view& in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto byte = static_cast<unsigned char>(in[i]);
    if (i == 0 && byte == 0x80) return fail("varint has a leading zero digit");
    if (value > (UINT64_MAX >> 7)) return fail("varint overflows 64 bits");
    value = (value << 7) | (byte & 0x7fu);
    if (!(byte & 0x80)) {
      in.remove_prefix(i + 1);
      return value;
    }
  }
  return fail("message ends inside a varint");
}

Result<void> Storage::insert(std::uint64_t timestamp, const Id& id) {
  if (sealed_) return fail("insert into a sealed storage");
  if (timestamp == kInfinity) return fail("timestamp 2^64-1 is reserved");
  items_.push_back(Item{timestamp, id});
  return {};
}

Result<void> Storage::insert(std::uint64_t timestamp, std::string_view id) {
  if (id.size() != kIdSize) return fail("an id must be 32 bytes");
  Id bytes;
  std::memcpy(bytes.data(), id.data(), kIdSize);
  return insert(timestamp, bytes);
}

void Storage::seal() {
  if (sealed_) return;
  std::sort(items_.begin(), items_.end());
  items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
  sealed_ = true;
}

std::size_t Storage::find_lower_bound(const Item& bound, std::size_t from) const {
  auto it =
      std::lower_bound(items_.begin() + static_cast<std::ptrdiff_t>(from), items_.end(), bound);
  return static_cast<std::size_t>(it - items_.begin());
}

Fingerprint Storage::fingerprint(std::size_t begin, std::size_t end) const {
  IdSum sum;
  for (std::size_t i = begin; i < end; ++i) sum.add(items_[i].id);
  return sum.fingerprint(end - begin);
}

Result<Reconciler> Reconciler::create(const Storage& storage, std::uint64_t frame_size_limit) {
  if (!storage.sealed()) return fail("storage is not sealed");
  if (frame_size_limit != 0 && frame_size_limit < kMinFrameSizeLimit) {
    return fail("frame size limit below 4096");
  }
  return Reconciler(storage, frame_size_limit);
}

Result<std::string> Reconciler::initiate() {
  if (role_ != Role::unset) return fail("initiate() on a reconciler already in use");
  role_ = Role::initiator;
  std::string out(1, static_cast<char>(kProtocolVersion));
  BoundWriter bounds;
  split_range(*storage_, 0, storage_->size(), kEndBound, bounds, out);
  return out;
}

Result<std::string> Reconciler::reconcile(std::string_view query) {
  if (role_ == Role::initiator) return fail("the initiator must collect have/need ids");
  role_ = Role::responder;
  return process(query, nullptr, nullptr);
}

Result<std::optional<std::string>> Reconciler::reconcile(std::string_view query,
                                                         std::vector<std::string>& have_ids,
                                                         std::vector<std::string>& need_ids) {
  if (role_ != Role::initiator) return fail("reconcile with have/need ids before initiate()");
  // Collected apart so that a bad message adds nothing to the caller's lists.
  std::vector<std::string> have, need;
  auto out = process(query, &have, &need);
  if (!out) return std::move(out).error();
  std::move(have.begin(), have.end(), std::back_inserter(have_ids));
  std::move(need.begin(), need.end(), std::back_inserter(need_ids));
  if (out->size() == 1) return std::optional<std::string>();  // nothing left to ask
  return std::optional<std::string>(std::move(*out));
}

// One message in, the reply out. Each range of the query is answered in
// turn: ranges that agree (or that the peer skips) become one Skip, written
// only if a later range needs saying; a differing fingerprint is split
// further; an id list is settled (initiator) or answered with our ids
// (responder). If the reply would outgrow the frame limit, it ends with one
// fingerprint of everything not yet covered, which the next round resumes.
Result<std::string> Reconciler::process(std::string_view query, std::vector<std::string>* have,
                                        std::vector<std::string>* need) {
  const bool initiator = role_ == Role::initiator;
  const Storage& s = *storage_;
  std::string out(1, static_cast<char>(kProtocolVersion));

  if (query.empty()) return fail("empty message");
  auto version = static_cast<unsigned char>(query.front());
  query.remove_prefix(1);
  if (version < 0x60 || version > 0x6f) return fail("not a negentropy message");
  if (version != kProtocolVersion) {
    if (initiator) return fail("peer wants protocol version " + std::to_string(version - 0x60));
    return out;  // our version alone: the spec's way of asking to fall back
  }

  BoundReader in_bounds;
  BoundWriter out_bounds;
  Bound prev;  // the lower bound of the first range: timestamp 0, empty id
  std::size_t prev_index = 0;
  bool skip = false;

  while (!query.empty()) {
    if (prev.item.timestamp == kInfinity) return fail("range after the end of the space");
    auto bound = in_bounds.read(query);
    if (!bound) return std::move(bound).error();
    if (bound->item < prev.item) return fail("range bounds out of order");
    auto mode = read_varint(query);
    if (!mode) return std::move(mode).error();

    std::size_t lower = prev_index;
    std::size_t upper = s.find_lower_bound(bound->item, lower);
    std::string o;
    auto flush_skip = [&] {
      if (!skip) return;
      skip = false;
      out_bounds.write(o, prev);
      append_varint(o, kSkip);
    };

    if (*mode == kSkip) {
      skip = true;
    } else if (*mode == kFingerprint) {
      auto theirs = take(query, kFingerprintSize);
      if (!theirs) return std::move(theirs).error();
      Fingerprint ours = s.fingerprint(lower, upper);
      if (std::memcmp(theirs->data(), ours.data(), kFingerprintSize) == 0) {
        skip = true;
      } else {
        flush_skip();
        split_range(s, lower, upper, *bound, out_bounds, o);
      }
    } else if (*mode == kIdList) {
      auto count = read_varint(query);
      if (!count) return std::move(count).error();
      if (*count > query.size() / kIdSize) return fail("id list longer than the message");
      auto ids = take(query, static_cast<std::size_t>(*count) * kIdSize);
      if (!ids) return std::move(ids).error();
      if (initiator) {
        compare_ids(s, lower, upper, *ids, *have, *need);
        skip = true;
      } else {
        // Our ids for the range, as many as fit; the rest is left to the
        // fingerprint that then ends the message.
        flush_skip();
        Bound end = *bound;
        std::string list;
        std::uint64_t listed = 0;
        for (std::size_t i = lower; i < upper; ++i) {
          if (exceeds_frame(out.size() + list.size())) {
            end = Bound{s[i], kIdSize};
            upper = i;
            break;
          }
          append_bytes(list, s[i].id.data(), kIdSize);
          ++listed;
        }
        out_bounds.write(o, end);
        append_varint(o, kIdList);
        append_varint(o, listed);
        o += list;
        out += o;
        o.clear();
      }
    } else {
      return fail("unknown range mode " + std::to_string(*mode));
    }

    if (exceeds_frame(out.size() + o.size())) {
      // An id list that reached the end of the space said everything there
      // is: a fingerprint after it would repeat the end bound (malformed).
      if (o.empty() && upper == s.size() && bound->item.timestamp == kInfinity) break;
      out_bounds.write(out, kEndBound);
      append_varint(out, kFingerprint);
      Fingerprint rest = s.fingerprint(upper, s.size());
      append_bytes(out, rest.data(), rest.size());
      break;
    }
    out += o;
    prev_index = upper;
    prev = *bound;
  }
  return out;
}

bool Reconciler::exceeds_frame(std::size_t bytes) const {
  return frame_size_limit_ != 0 && bytes > frame_size_limit_ - kFrameMargin;
}

}  // namespace blk::negentropy
