// json_fields: a blk merge plugin (man 3 blk-merge-plugin) for JSON objects,
// merged field by field, last-write-wins per field. README.md has the rules.
//
// A blob is a JSON object in UTF-8 (schema 0 or 1). Of two concurrent
// versions, the winner is the one with the later modified_at, then the
// larger modified_by, then the larger blob (bytewise): decided here from the
// metadata, not from which of a and b it is, so that merge(x, y) ==
// merge(y, x) whoever calls it in whatever order.
//  - Without a base: the union of the fields; a field in both takes the
//    winner's value, except that two objects merge recursively the same
//    way. A field deleted on one side comes back (apps use null as a
//    field's tombstone).
//  - With a base (a common ancestor that is a JSON object): a field changed
//    on one side only takes that change, deletion included; changed on both,
//    the winner's change (two objects: merged recursively against the base's
//    value).
// The output is canonical JSON: compact, object keys sorted bytewise, and
// numbers and strings as RapidJSON writes them, so every machine writes the
// same bytes. A blob that is not a JSON object is BLK_MERGE_CANNOT.
#include <blk/merge_plugin.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
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

// Deeper nesting is refused, so that nothing here recurses without bound.
constexpr int kMaxDepth = 256;

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Members = std::vector<const Value::Member*>;

// Input that cannot be merged: BLK_MERGE_CANNOT, what() in err.
struct Cannot : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool handled(const blk_version& v) {
  for (const auto& t : kTypes)
    if (std::strcmp(t.type, v.type) == 0) return v.schema <= t.max_schema;
  return false;
}

// True if v wins last-write-wins over u.
bool wins(const blk_version& v, const blk_version& u) {
  if (v.modified_at != u.modified_at) return v.modified_at > u.modified_at;
  if (int c = std::strcmp(v.modified_by, u.modified_by); c != 0) return c > 0;
  return blk::plugin::blob_of(&v) > blk::plugin::blob_of(&u);
}

std::string who(const blk_version& v) {
  return "the blob written by machine " + std::string(v.modified_by) + " at " +
         std::to_string(v.modified_at);
}

// The deepest nesting of brackets outside strings: exact for valid JSON, and
// never less than the depth RapidJSON reaches before it finds an error.
int depth_of(std::string_view s) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string_view key(const Value::Member& m) {
  return {m.name.GetString(), m.name.GetStringLength()};
}

// An object's members, sorted by key (bytewise). Cannot on a duplicate key.
Members sorted(const Value& object) {
  Members members;
  members.reserve(object.MemberCount());
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) members.push_back(&*it);
  std::sort(members.begin(), members.end(), [](auto* x, auto* y) { return key(*x) < key(*y); });
  auto dup = std::adjacent_find(members.begin(), members.end(),
                                [](auto* x, auto* y) { return key(*x) == key(*y); });
  if (dup != members.end()) throw Cannot("duplicate key \"" + std::string(key(**dup)) + "\"");
  return members;
}

const Value* find(const Members& members, std::string_view k) {
  auto it = std::lower_bound(members.begin(), members.end(), k,
                             [](auto* m, std::string_view wanted) { return key(*m) < wanted; });
  return it != members.end() && key(**it) == k ? &(*it)->value : nullptr;
}

// Canonical JSON: compact, keys sorted.
void write(Writer& w, const Value& v) {
  if (v.IsObject()) {
    w.StartObject();
    for (auto* m : sorted(v)) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      write(w, m->value);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) write(w, e);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

std::string canonical(const Value& v) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  write(w, v);
  return {buffer.GetString(), buffer.GetSize()};
}

// Equal as canonical JSON; two absent fields are equal too.
bool same(const Value* x, const Value* y) {
  if (!x || !y) return x == y;
  return canonical(*x) == canonical(*y);
}

// Parses a blob; Cannot if it is not a JSON object without duplicate keys.
rapidjson::Document parse(const blk_version& v) {
  std::string_view text = blk::plugin::blob_of(&v);
  // No JSON text has a NUL byte (RapidJSON would take one for the end).
  if (text.find('\0') != std::string_view::npos) throw Cannot(who(v) + " has a NUL byte");
  if (depth_of(text) > kMaxDepth)
    throw Cannot(who(v) + " is nested deeper than " + std::to_string(kMaxDepth));
  rapidjson::Document d;
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag;
  d.Parse<kFlags>(text.empty() ? "" : text.data(), text.size());
  if (d.HasParseError())
    throw Cannot(who(v) + " is not JSON: " + rapidjson::GetParseError_En(d.GetParseError()) +
                 " (byte " + std::to_string(d.GetErrorOffset()) + ")");
  if (!d.IsObject()) throw Cannot(who(v) + " is not a JSON object");
  try {
    canonical(d);  // finds duplicate keys at any depth
  } catch (const Cannot& e) {
    throw Cannot(who(v) + ": " + e.what());
  }
  return d;
}

// Writes the merge of objects x (loses) and y (wins); base is their common
// ancestor (an object) or null.
void merge(Writer& w, const Value& x, const Value& y, const Value* base) {
  Members xs = sorted(x), ys = sorted(y), bs = base ? sorted(*base) : Members{};
  std::vector<std::string_view> keys;
  for (auto* m : xs) keys.push_back(key(*m));
  for (auto* m : ys) keys.push_back(key(*m));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  w.StartObject();
  for (std::string_view k : keys) {
    const Value* xv = find(xs, k);
    const Value* yv = find(ys, k);
    const Value* bv = base ? find(bs, k) : nullptr;
    const Value* v = yv;  // the field's value; null: no such field
    bool recurse = false;
    if (!base) {
      if (!yv)
        v = xv;
      else if (xv && xv->IsObject() && yv->IsObject())
        recurse = true;
    } else if (!xv || !yv) {
      // On one side only: added there (kept), or deleted on the other side
      // (gone, unless the winner changed it while the loser deleted it).
      v = !bv ? (xv ? xv : yv) : (yv && !same(yv, bv) ? yv : nullptr);
    } else if (same(xv, yv) || same(yv, bv)) {
      v = xv;  // changed by x only, or by neither
    } else if (!same(xv, bv) && xv->IsObject() && yv->IsObject()) {
      recurse = true;  // changed by both
    }                  // else changed by y only, or by both: y's
    if (!v) continue;
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    if (recurse)
      merge(w, *xv, *yv, base && bv && bv->IsObject() ? bv : nullptr);
    else
      write(w, *v);
  }
  w.EndObject();
}

void say(char* err, size_t err_size, const std::string& text) {
  if (err && err_size) std::snprintf(err, err_size, "%s", text.c_str());
}

blk_merge_status merge_json_fields(const blk_merge_input* in, const blk_allocator* alloc,
                                   blk_merge_output* out, char* err, size_t err_size) {
  return blk::plugin::guard(err, err_size, [&] {
    if (!handled(*in->a) || !handled(*in->b)) {
      say(err, err_size, "json_fields does not merge this type or schema");
      return BLK_MERGE_NOT_HANDLED;
    }
    const blk_version* loser = in->a;
    const blk_version* winner = in->b;
    if (wins(*loser, *winner)) std::swap(loser, winner);
    rapidjson::StringBuffer buffer;
    try {
      rapidjson::Document y = parse(*winner);
      rapidjson::Document x = parse(*loser);
      // A base that is not a JSON object of ours is no help: merged without.
      rapidjson::Document base;
      bool has_base = false;
      if (in->base && handled(*in->base)) {
        try {
          base = parse(*in->base);
          has_base = true;
        } catch (const Cannot&) {
        }
      }
      Writer w(buffer);
      merge(w, x, y, has_base ? &base : nullptr);
    } catch (const Cannot& e) {
      say(err, err_size, e.what());
      return BLK_MERGE_CANNOT;
    }
    return blk::plugin::output(alloc, out, {buffer.GetString(), buffer.GetSize()}, err, err_size);
  });
}

const blk_merge_plugin kPlugin = {
    sizeof(blk_merge_plugin),         BLK_MERGE_ABI_VERSION, "json_fields", kTypes,
    sizeof kTypes / sizeof kTypes[0], merge_json_fields,
};

}  // namespace

BLK_MERGE_PLUGIN(kPlugin)
