// set_union: a blk merge plugin (man 3 blk-merge-plugin) for grow-only sets.
// README.md has the rules.
//
// A blob is a JSON array (UTF-8) of any JSON values (schema 0 or 1). The
// merge is the union: every element of either side, each once, in canonical
// form (compact, object keys sorted bytewise), sorted bytewise by that form.
// Union is commutative, associative and idempotent, so the result does not
// depend on the order of a and b or of merges; a base is not needed and not
// used. A blob that is not a JSON array is BLK_MERGE_CANNOT.
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
// if defined (CMake sets it from BLK_SET_UNION_TYPES).
const blk_merge_type kTypes[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"set", 1},
#endif
};

// Deeper nesting is refused, so that nothing here recurses without bound.
constexpr int kMaxDepth = 256;

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Input that cannot be merged: BLK_MERGE_CANNOT, what() in err.
struct Cannot : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool handled(const blk_version& v) {
  for (const auto& t : kTypes)
    if (std::strcmp(t.type, v.type) == 0) return v.schema <= t.max_schema;
  return false;
}

// The last-write-wins order, only to read the two in the same order (and so
// report the same error) whichever of a and b each is.
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

// Canonical JSON: compact, object keys sorted bytewise. Cannot on a
// duplicate key.
void write(Writer& w, const Value& v) {
  if (v.IsObject()) {
    std::vector<const Value::Member*> members;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
    std::sort(members.begin(), members.end(), [](auto* x, auto* y) { return key(*x) < key(*y); });
    auto dup = std::adjacent_find(members.begin(), members.end(),
                                  [](auto* x, auto* y) { return key(*x) == key(*y); });
    if (dup != members.end()) throw Cannot("duplicate key \"" + std::string(key(**dup)) + "\"");
    w.StartObject();
    for (auto* m : members) {
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

// Adds the canonical form of each element of v's blob to elements; Cannot
// if it is not a JSON array.
void read(const blk_version& v, std::vector<std::string>& elements) {
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
  if (!d.IsArray()) throw Cannot(who(v) + " is not a JSON array");
  for (const auto& e : d.GetArray()) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    try {
      write(w, e);
    } catch (const Cannot& error) {
      throw Cannot(who(v) + ": " + error.what());
    }
    elements.emplace_back(buffer.GetString(), buffer.GetSize());
  }
}

void say(char* err, size_t err_size, const std::string& text) {
  if (err && err_size) std::snprintf(err, err_size, "%s", text.c_str());
}

blk_merge_status merge_set_union(const blk_merge_input* in, const blk_allocator* alloc,
                                 blk_merge_output* out, char* err, size_t err_size) {
  return blk::plugin::guard(err, err_size, [&] {
    if (!handled(*in->a) || !handled(*in->b)) {
      say(err, err_size, "set_union does not merge this type or schema");
      return BLK_MERGE_NOT_HANDLED;
    }
    const blk_version* first = in->b;
    const blk_version* second = in->a;
    if (wins(*second, *first)) std::swap(first, second);
    std::vector<std::string> elements;
    try {
      read(*first, elements);
      read(*second, elements);
    } catch (const Cannot& e) {
      say(err, err_size, e.what());
      return BLK_MERGE_CANNOT;
    }
    std::sort(elements.begin(), elements.end());
    elements.erase(std::unique(elements.begin(), elements.end()), elements.end());
    std::string merged = "[";
    for (const auto& e : elements) {
      if (merged.size() > 1) merged += ',';
      merged += e;
    }
    merged += ']';
    return blk::plugin::output(alloc, out, merged, err, err_size);
  });
}

const blk_merge_plugin kPlugin = {
    sizeof(blk_merge_plugin),         BLK_MERGE_ABI_VERSION, "set_union", kTypes,
    sizeof kTypes / sizeof kTypes[0], merge_set_union,
};

}  // namespace

BLK_MERGE_PLUGIN(kPlugin)
