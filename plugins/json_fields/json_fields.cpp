// json_fields: a blk merge plugin (man 3 blk-merge-plugin) for JSON objects,
// merged field by field, last write wins per field. README.md has the rules.
//
// A blob is a JSON object in UTF-8 (schema 0 or 1). Each of its top-level
// fields has a stamp: when and by which machine it was written. A field
// carries its version's own stamp (modified_at, modified_by) unless the
// object's reserved member "_blk_stamps" records an older one for it:
//
//   "_blk_stamps": {"title": [1732700000000, "<machine id>", "<hash>"],
//                   "gone":  [1732700000000, "<machine id>"]}
//
// An entry with a hash stamps the field's value while the value still hashes
// to it (an app that edits the field without touching "_blk_stamps" makes it
// its own write); an entry without one is a deleted field (a tombstone).
//
// The merge keeps, for every field, the value with the later stamp (then the
// larger value, bytewise; a tombstone is the smallest), and writes the stamps
// it needs into "_blk_stamps". Reading a version as (field -> stamped value)
// makes the merge the union of two such maps, each field taking its greatest:
// commutative, associative and idempotent, so every order of merging three
// or more concurrent versions ends in the same bytes.
//
// The output is the top-level fields sorted by key (bytewise, unescaped),
// without whitespace between them, each key and value exactly the bytes of
// the version it comes from: nothing is re-serialised, so the result does not
// depend on how a JSON library formats numbers or escapes strings. simdjson
// validates the whole blob (UTF-8 included); a blob that is not a JSON
// object, has a key twice at the top, or has a malformed "_blk_stamps" is
// BLK_MERGE_CANNOT.
#include <blk/merge_plugin.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// The block types merged, and the highest schema of each: BLK_PLUGIN_TYPES
// if defined (CMake sets it from BLK_JSON_FIELDS_TYPES).
const blk_merge_type kTypes[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"json", 1},
#endif
};

constexpr std::string_view kStampsKey = "_blk_stamps";
constexpr std::size_t kHashDigits = 16;
constexpr std::size_t kMachineIdDigits = 32;
// Deeper nesting is refused (simdjson's limit), so nothing recurses without bound.
constexpr std::size_t kMaxDepth = 256;

// Input that cannot be merged: BLK_MERGE_CANNOT, what() in err.
struct Cannot : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool handled(const blk_version& v) {
  for (const auto& t : kTypes)
    if (std::strcmp(t.type, v.type) == 0) return v.schema <= t.max_schema;
  return false;
}

std::string who(const blk_version& v) {
  return "the blob written by machine " + std::string(v.modified_by) + " at " +
         std::to_string(v.modified_at);
}

bool lower_hex(std::string_view s, std::size_t digits) {
  return s.size() == digits && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// When and by whom a field was written; later is greater.
struct Stamp {
  int64_t at = 0;
  std::string_view by;
  friend bool operator==(const Stamp& x, const Stamp& y) {
    // Most stamps are a version's own: the same machine id, where it lies.
    return x.at == y.at && (x.by.data() == y.by.data() ? x.by.size() == y.by.size() : x.by == y.by);
  }
  friend bool operator<(const Stamp& x, const Stamp& y) {
    return x.at != y.at ? x.at < y.at : x.by < y.by;
  }
};

// A field's name, unescaped, and its first 8 bytes as a number: most keys
// differ there, so most comparisons never reach memcmp.
struct Key {
  std::string_view text;
  uint64_t prefix = 0;

  Key() = default;
  explicit Key(std::string_view k) : text(k) {
    unsigned char first[8] = {};  // big-endian, zero-padded: compares as the bytes do
    std::memcpy(first, k.data(), std::min<std::size_t>(k.size(), 8));
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&prefix, first, 8);
      prefix = __builtin_bswap64(prefix);
    } else {
      for (unsigned char c : first) prefix = prefix << 8 | c;
    }
  }
  friend bool operator==(const Key& x, const Key& y) {
    return x.prefix == y.prefix && x.text == y.text;
  }
  friend bool operator<(const Key& x, const Key& y) {
    return x.prefix != y.prefix ? x.prefix < y.prefix : x.text < y.text;
  }
  friend bool operator<=(const Key& x, const Key& y) { return !(y < x); }
};

// One top-level field as a version has it: a value, or deleted.
struct Field {
  Key key;                   // unescaped: what fields are matched and sorted by
  std::string_view raw_key;  // the key as written, quotes included
  bool deleted = false;
  std::string_view value;  // the value as written; empty if deleted
  Stamp stamp;
};

// 64-bit FNV-1a, as 16 hex digits: tells whether a stamped value changed.
// Not a defence against anyone: a peer can write any stamp it likes anyway.
struct Hash {
  std::array<char, kHashDigits> hex;
  std::string_view text() const { return {hex.data(), hex.size()}; }
};
Hash hash_of(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  Hash out;
  for (std::size_t i = kHashDigits; i-- > 0; h >>= 4) out.hex[i] = "0123456789abcdef"[h & 15];
  return out;
}

// The top-level members of a valid JSON object, as written: key tokens and
// value texts, in order. Valid JSON only (simdjson has checked it), so this
// need only find where strings and brackets end.
class Members {
 public:
  explicit Members(std::string_view text) : s_(text) {}

  // The next member's key token and value text; false after the last.
  bool next(std::string_view& raw_key, std::string_view& value) {
    skip_space();
    if (i_ < s_.size() && (s_[i_] == '{' || s_[i_] == ',')) ++i_;
    skip_space();
    if (i_ >= s_.size() || s_[i_] != '"') return false;  // '}'
    std::size_t from = i_;
    skip_string();
    raw_key = s_.substr(from, i_ - from);
    skip_space();
    ++i_;  // ':'
    skip_space();
    from = i_;
    skip_value();
    value = s_.substr(from, i_ - from);
    return true;
  }

 private:
  void skip_space() {  // in valid JSON, the only bytes <= ' ' outside strings are spaces
    while (i_ < s_.size() && static_cast<unsigned char>(s_[i_]) <= ' ') ++i_;
  }
  void skip_string() {  // from the opening quote to after the closing one
    for (;;) {
      const void* q = std::memchr(s_.data() + i_ + 1, '"', s_.size() - i_ - 1);
      if (!q) {
        i_ = s_.size();
        return;
      }
      i_ = static_cast<std::size_t>(static_cast<const char*>(q) - s_.data());
      std::size_t backslashes = 0;
      while (s_[i_ - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) break;  // not escaped
    }
    ++i_;
  }
  void skip_value() {
    if (s_[i_] == '"') return skip_string();
    if (s_[i_] != '{' && s_[i_] != '[') {  // a number, true, false or null
      while (i_ < s_.size() && !ends_scalar(s_[i_])) ++i_;
      return;
    }
    int depth = 0;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '"') {
        skip_string();
        continue;
      }
      ++i_;
      if (c == '{' || c == '[')
        ++depth;
      else if ((c == '}' || c == ']') && --depth == 0)
        return;
    }
  }
  static bool ends_scalar(char c) {
    return c == ',' || c == '}' || static_cast<unsigned char>(c) <= ' ';
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// An entry of "_blk_stamps".
struct Recorded {
  Key key;
  std::string_view raw_key;
  Stamp stamp;
  std::string_view hash;  // empty: a tombstone
};

// The vectors a Version fills, kept from merge to merge for their memory.
struct VersionBuffers {
  std::vector<Field> members, fields;
  std::vector<Recorded> recorded;
};

// A version read as its fields, sorted by key. Its views point into the
// parser (the unescaped keys) and the blob: both outlive it.
class Version {
 public:
  Version(const blk_version& v, simdjson::dom::parser& parser, VersionBuffers& buffers)
      : own_{v.modified_at, v.modified_by}, buffers_(buffers), fields_(buffers.fields) {
    try {
      read(v, parser);
    } catch (const Cannot& e) {
      throw Cannot(who(v) + ": " + e.what());
    }
  }
  const std::vector<Field>& fields() const { return fields_; }
  const Stamp& own() const { return own_; }

 private:
  void read(const blk_version& v, simdjson::dom::parser& parser) {
    std::string_view text = blk::plugin::blob_of(&v);
    if (text.empty()) throw Cannot("it is empty, not a JSON object");
    simdjson::dom::object object;
    auto error = parser.parse(text.data(), text.size()).get(object);
    if (error == simdjson::INCORRECT_TYPE) throw Cannot("it is not a JSON object");
    if (error == simdjson::DEPTH_ERROR)
      throw Cannot("it is nested deeper than " + std::to_string(kMaxDepth));
    if (error) throw Cannot(std::string("it is not JSON: ") + simdjson::error_message(error));

    std::vector<Field>& members = buffers_.members;
    std::vector<Recorded>& recorded = buffers_.recorded;
    members.clear();
    recorded.clear();
    fields_.clear();
    Members raw(text);
    bool stamps_seen = false;
    for (auto [key, value] : object) {
      std::string_view raw_key, value_text;
      raw.next(raw_key, value_text);
      if (key == kStampsKey) {
        if (stamps_seen) throw Cannot("duplicate key \"_blk_stamps\"");
        stamps_seen = true;
        read_stamps(value, value_text, recorded);
      } else
        members.push_back({Key(key), raw_key, false, value_text, own_});
    }
    auto by_key = [](const auto& x, const auto& y) { return x.key < y.key; };
    auto same_key = [](const auto& x, const auto& y) { return x.key == y.key; };
    if (!std::is_sorted(members.begin(), members.end(), by_key))
      std::sort(members.begin(), members.end(), by_key);
    if (auto dup = std::adjacent_find(members.begin(), members.end(), same_key);
        dup != members.end())
      throw Cannot("duplicate key \"" + std::string(dup->key.text) + "\"");
    std::sort(recorded.begin(), recorded.end(), by_key);
    if (auto dup = std::adjacent_find(recorded.begin(), recorded.end(), same_key);
        dup != recorded.end())
      throw Cannot("duplicate key \"" + std::string(dup->key.text) + "\" in \"_blk_stamps\"");

    if (recorded.empty()) {  // every field is this version's own write
      fields_.swap(members);
      return;
    }
    // The fields and the recorded stamps, both sorted: one walk.
    fields_.reserve(members.size() + recorded.size());
    auto m = members.begin();
    auto r = recorded.begin();
    while (m != members.end() || r != recorded.end()) {
      bool has_member = m != members.end() && (r == recorded.end() || m->key <= r->key);
      bool has_record = r != recorded.end() && (m == members.end() || r->key <= m->key);
      Field f = has_member ? *m : Field{};
      if (has_member) {
        // Still the value that was stamped: the stamp holds.
        if (has_record && !r->hash.empty() && r->hash == hash_of(f.value).text())
          f.stamp = r->stamp;
      } else {
        f.key = r->key;
        f.raw_key = r->raw_key;
        f.deleted = true;
        // A tombstone stays one; a stamped value that is gone was deleted
        // by this version's writer.
        f.stamp = r->hash.empty() ? r->stamp : own_;
      }
      fields_.push_back(f);
      m += has_member;
      r += has_record;
    }
  }

  static void read_stamps(simdjson::dom::element stamps, std::string_view text,
                          std::vector<Recorded>& out) {
    simdjson::dom::object object;
    if (stamps.get(object)) throw Cannot("\"_blk_stamps\" is not an object");
    Members raw(text);
    for (auto [key, value] : object) {
      Recorded e;
      std::string_view entry_text;
      raw.next(e.raw_key, entry_text);
      e.key = Key(key);
      simdjson::dom::array a;
      bool ok = !value.get(a) && (a.size() == 2 || a.size() == 3) && key != kStampsKey &&
                !a.at(0).get(e.stamp.at) && !a.at(1).get(e.stamp.by) &&
                lower_hex(e.stamp.by, kMachineIdDigits) &&
                (a.size() == 2 || (!a.at(2).get(e.hash) && lower_hex(e.hash, kHashDigits)));
      if (!ok)
        throw Cannot("\"_blk_stamps\" has a malformed entry for \"" + std::string(key) + "\"");
      out.push_back(e);
    }
  }

  Stamp own_;
  VersionBuffers& buffers_;
  std::vector<Field>& fields_;
};

// The field that wins: the later stamp, then a value over a tombstone, then
// the larger value, then the larger key as written ("a" or "\u0061"), so
// that the choice never depends on which version is a and which b.
const Field& later(const Field& x, const Field& y) {
  if (x.stamp != y.stamp) return x.stamp < y.stamp ? y : x;
  if (x.deleted != y.deleted) return x.deleted ? y : x;
  if (x.value != y.value) return x.value < y.value ? y : x;
  return x.raw_key < y.raw_key ? y : x;
}

void append_stamp(std::string& out, const Field& f) {
  out += f.raw_key;
  out += ":[";
  char at[24];
  out.append(at, std::to_chars(at, at + sizeof at, f.stamp.at).ptr);
  out += ",\"";
  out += f.stamp.by;
  if (!f.deleted) {
    out += "\",\"";
    out += hash_of(f.value).text();
  }
  out += "\"]";
}

// The merged object before it is written: its fields in order, its
// "_blk_stamps" member (empty if none), and its exact size in bytes.
struct Merged {
  std::vector<const Field*> fields;
  std::string stamps;
  std::size_t size = 0;
};

// The union of x's and y's fields, each field its later version. A field
// stamped like the merged version itself (the later of the two versions'
// own stamps, which the merged version takes) needs no entry.
void merge(const Version& x, const Version& y, Merged& m) {
  Stamp merged_own = std::max(x.own(), y.own());
  std::vector<const Field*>& fields = m.fields;
  fields.clear();
  std::size_t members = 0, bytes = 2;  // the braces
  auto xi = x.fields().begin(), yi = y.fields().begin();
  while (xi != x.fields().end() || yi != y.fields().end()) {
    const Field* f;
    if (yi == y.fields().end() || (xi != x.fields().end() && xi->key < yi->key))
      f = &*xi++;
    else if (xi == x.fields().end() || yi->key < xi->key)
      f = &*yi++;
    else
      f = &later(*xi++, *yi++);
    fields.push_back(f);
    if (!f->deleted) {
      ++members;
      bytes += f->raw_key.size() + 1 + f->value.size();  // key:value
    }
  }
  auto needs_entry = [&](const Field* f) { return f->deleted || f->stamp != merged_own; };

  std::string& stamps = m.stamps;
  stamps.clear();
  for (const Field* f : fields) {
    if (!needs_entry(f)) continue;
    stamps += stamps.empty() ? "\"_blk_stamps\":{" : ",";
    append_stamp(stamps, *f);
  }
  if (!stamps.empty()) {
    stamps += '}';
    ++members;
    bytes += stamps.size();
  }
  m.size = bytes + (members > 0 ? members - 1 : 0);  // and the commas
}

// Writes m's object, m.size bytes, to `out`: its members sorted by key,
// "_blk_stamps" among them.
void write(const Merged& m, char* out) {
  char* p = out;
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  *p++ = '{';
  bool stamps_written = m.stamps.empty();
  for (const Field* f : m.fields) {
    if (!stamps_written && kStampsKey < f->key.text) {
      if (p - out > 1) *p++ = ',';
      put(m.stamps);
      stamps_written = true;
    }
    if (f->deleted) continue;
    if (p - out > 1) *p++ = ',';
    put(f->raw_key);
    *p++ = ':';
    put(f->value);
  }
  if (!stamps_written) {
    if (p - out > 1) *p++ = ',';
    put(m.stamps);
  }
  *p++ = '}';
  // merge() sized what this wrote: they can only disagree through a bug here.
  if (static_cast<std::size_t>(p - out) != m.size) std::abort();
}

void say(char* err, size_t err_size, const std::string& text) {
  if (err && err_size) std::snprintf(err, err_size, "%s", text.c_str());
}

// What a merge works in, kept for the thread's life so that a merge
// allocates nothing: a parser per version (the keys a Version holds point
// into it), the versions' fields and the merged object's plan.
struct Workspace {
  simdjson::dom::parser parsers[2];
  VersionBuffers versions[2];
  Merged merged;

  Workspace() {
    for (auto& p : parsers)
      if (p.allocate(4096, kMaxDepth)) throw std::bad_alloc();
  }
};

// Not inlined: inlined, GCC looks the thread-local up again (a call to
// __tls_get_addr, in a shared object) at every use, hundreds a merge.
[[gnu::noinline]] Workspace& workspace() {
  thread_local Workspace w;
  return w;
}

blk_merge_status merge_json_fields(const blk_merge_input* in, const blk_allocator* alloc,
                                   blk_merge_output* out, char* err, size_t err_size) {
  return blk::plugin::guard(err, err_size, [&] {
    if (!handled(*in->a) || !handled(*in->b)) {
      say(err, err_size, "json_fields does not merge this type or schema");
      return BLK_MERGE_NOT_HANDLED;
    }
    // The stamps make a common ancestor unnecessary: in->base is not used.
    Workspace& w = workspace();
    try {
      Version a(*in->a, w.parsers[0], w.versions[0]), b(*in->b, w.parsers[1], w.versions[1]);
      merge(a, b, w.merged);
    } catch (const Cannot& e) {
      say(err, err_size, e.what());
      return BLK_MERGE_CANNOT;
    }
    // Written straight into blk's memory: no copy of the merged object.
    out->blob = static_cast<uint8_t*>(alloc->alloc(alloc->ctx, w.merged.size));
    if (!out->blob) {
      say(err, err_size, "out of memory");
      return BLK_MERGE_FAILED;
    }
    write(w.merged, reinterpret_cast<char*>(out->blob));
    out->blob_size = w.merged.size;
    return BLK_MERGE_MERGED;
  });
}

const blk_merge_plugin kPlugin = {
    sizeof(blk_merge_plugin),         BLK_MERGE_ABI_VERSION, "json_fields", kTypes,
    sizeof kTypes / sizeof kTypes[0], merge_json_fields,
};

}  // namespace

BLK_MERGE_PLUGIN(kPlugin)
