// counter: a blk merge plugin (man 3 blk-merge-plugin) for PN-counters, a
// counter that any machine may add to or subtract from. README.md has the
// rules.
//
// A blob is a JSON object (schema 0 or 1) {"p": {MACHINE: N, ...}, "n":
// {MACHINE: N, ...}}: per machine, the total it added (p) and subtracted (n),
// integers from 0 to 2^64-1; "p" or "n" may be left out when empty. The value
// is sum(p) - sum(n). Each machine changes only its own entries, and only
// upwards, so the merge is the pointwise maximum of p and of n: commutative,
// associative and idempotent, whatever the order. The output is canonical:
// {"n":{...},"p":{...}}, compact, keys sorted bytewise. Anything else is
// BLK_MERGE_CANNOT.
#include <blk/merge_plugin.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace {

// The block types merged, and the highest schema of each: BLK_PLUGIN_TYPES
// if defined (CMake sets it from BLK_COUNTER_TYPES).
const blk_merge_type kTypes[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"counter", 1},
#endif
};

using rapidjson::Value;
using Entries = std::map<std::string, std::uint64_t>;  // std::string: bytewise order

struct Counter {
  Entries p, n;
};

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

std::string_view text(const Value& s) {
  return {s.GetString(), s.GetStringLength()};
}

void read_entries(const blk_version& v, const Value& object, const char* name, Entries& into) {
  if (!object.IsObject()) throw Cannot(who(v) + ": \"" + name + "\" is not an object");
  for (const auto& m : object.GetObject()) {
    if (!m.value.IsUint64())
      throw Cannot(who(v) + ": \"" + name + "\".\"" + std::string(text(m.name)) +
                   "\" is not an integer from 0 to 2^64-1");
    if (!into.emplace(text(m.name), m.value.GetUint64()).second)
      throw Cannot(who(v) + ": \"" + name + "\" has the key \"" + std::string(text(m.name)) +
                   "\" twice");
  }
}

Counter read(const blk_version& v) {
  std::string_view blob = blk::plugin::blob_of(&v);
  // No JSON text has a NUL byte (RapidJSON would take one for the end).
  if (blob.find('\0') != std::string_view::npos) throw Cannot(who(v) + " has a NUL byte");
  rapidjson::Document d;
  // Iterative: no recursion however deeply a bad blob nests.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseFullPrecisionFlag | rapidjson::kParseIterativeFlag;
  d.Parse<kFlags>(blob.empty() ? "" : blob.data(), blob.size());
  if (d.HasParseError())
    throw Cannot(who(v) + " is not JSON: " + rapidjson::GetParseError_En(d.GetParseError()) +
                 " (byte " + std::to_string(d.GetErrorOffset()) + ")");
  if (!d.IsObject()) throw Cannot(who(v) + " is not a JSON object");
  Counter c;
  bool seen_p = false, seen_n = false;
  for (const auto& m : d.GetObject()) {
    std::string_view k = text(m.name);
    if (k != "p" && k != "n")
      throw Cannot(who(v) + ": an unknown field \"" + std::string(k) +
                   "\" (a counter has \"p\" and \"n\")");
    bool& seen = k == "p" ? seen_p : seen_n;
    if (seen) throw Cannot(who(v) + ": the field \"" + std::string(k) + "\" twice");
    seen = true;
    read_entries(v, m.value, k == "p" ? "p" : "n", k == "p" ? c.p : c.n);
  }
  return c;
}

void merge_into(Entries& into, const Entries& from) {
  for (const auto& [machine, count] : from) {
    auto [it, added] = into.emplace(machine, count);
    if (!added) it->second = std::max(it->second, count);
  }
}

void write(rapidjson::Writer<rapidjson::StringBuffer>& w, const Entries& entries) {
  w.StartObject();
  for (const auto& [machine, count] : entries) {
    w.Key(machine.data(), static_cast<rapidjson::SizeType>(machine.size()));
    w.Uint64(count);
  }
  w.EndObject();
}

void say(char* err, size_t err_size, const std::string& text) {
  if (err && err_size) std::snprintf(err, err_size, "%s", text.c_str());
}

blk_merge_status merge_counter(const blk_merge_input* in, const blk_allocator* alloc,
                               blk_merge_output* out, char* err, size_t err_size) {
  return blk::plugin::guard(err, err_size, [&] {
    if (!handled(*in->a) || !handled(*in->b)) {
      say(err, err_size, "counter does not merge this type or schema");
      return BLK_MERGE_NOT_HANDLED;
    }
    const blk_version* first = in->b;
    const blk_version* second = in->a;
    if (wins(*second, *first)) std::swap(first, second);
    Counter merged, other;
    try {
      merged = read(*first);
      other = read(*second);
    } catch (const Cannot& e) {
      say(err, err_size, e.what());
      return BLK_MERGE_CANNOT;
    }
    merge_into(merged.p, other.p);
    merge_into(merged.n, other.n);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("n");
    write(w, merged.n);
    w.Key("p");
    write(w, merged.p);
    w.EndObject();
    return blk::plugin::output(alloc, out, {buffer.GetString(), buffer.GetSize()}, err, err_size);
  });
}

const blk_merge_plugin kPlugin = {
    sizeof(blk_merge_plugin),         BLK_MERGE_ABI_VERSION, "counter", kTypes,
    sizeof kTypes / sizeof kTypes[0], merge_counter,
};

}  // namespace

BLK_MERGE_PLUGIN(kPlugin)
