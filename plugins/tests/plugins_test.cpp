// The example merge plugins, loaded as blk loads them (dlopen, the entry
// point, the ABI handshake) and called through the C interface: their type
// lists, their merge rules against independent models, order independence,
// idempotence, associativity (all four) on seeded random
// inputs, malformed input, and that output memory comes from the host's
// allocator. And the misbehaving plugins of plugins/testing do what they say.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <blk/merge_plugin.h>
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

// ---------------------------------------------------------------- loading

struct Loaded {
  void* handle = nullptr;
  blk_merge_plugin_entry_fn entry = nullptr;

  explicit Loaded(const char* path) {
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) FAIL("dlopen " << path << ": " << dlerror());
    void* symbol = dlsym(handle, BLK_MERGE_PLUGIN_ENTRY);
    if (symbol) std::memcpy(&entry, &symbol, sizeof entry);
  }
  ~Loaded() {
    if (handle) dlclose(handle);
  }
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;

  const blk_merge_plugin* plugin() const {
    REQUIRE(static_cast<bool>(entry));
    char err[256] = "";
    auto* p = entry(BLK_MERGE_ABI_VERSION, sizeof(blk_merge_input), sizeof(blk_merge_output), err,
                    sizeof err);
    REQUIRE_MESSAGE(p, err);
    return p;
  }
};

const blk_merge_plugin* load(const char* path) {
  static std::map<std::string, std::unique_ptr<Loaded>> loaded;
  auto& l = loaded[path];
  if (!l) l = std::make_unique<Loaded>(path);
  return l->plugin();
}

const blk_merge_plugin* json_fields() {
  return load(BLK_PLUGIN_JSON_FIELDS);
}
const blk_merge_plugin* set_union() {
  return load(BLK_PLUGIN_SET_UNION);
}
const blk_merge_plugin* counter() {
  return load(BLK_PLUGIN_COUNTER);
}
const blk_merge_plugin* max_score() {
  return load(BLK_PLUGIN_MAX_SCORE);
}

// The type lists the build gave each plugin ("json", or "note,task").
std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1)
    out.push_back(list.substr(start, comma - start));
  out.push_back(list.substr(start));
  return out;
}
std::string first_type(const char* list) {
  return split(list).front();
}

// ---------------------------------------------------------------- calling

const std::string kMachineA(32, 'a'), kMachineB(32, 'b'), kMachineC(32, 'c');

struct V {
  std::string blob;
  int64_t modified_at = 1000;
  std::string modified_by = kMachineA;
  std::string type;
  uint32_t schema = 1;
  std::string id = "block-1";

  blk_version view() const {
    return {id.c_str(),
            type.c_str(),
            1,
            modified_at,
            modified_by.c_str(),
            schema,
            reinterpret_cast<const uint8_t*>(blob.data()),
            blob.size()};
  }
};

// The host's allocator, counting: every block it hands out, and its size.
struct Allocations {
  bool fail = false;
  std::vector<std::pair<void*, size_t>> blocks;
  static void* alloc(void* ctx, size_t size) {
    auto* self = static_cast<Allocations*>(ctx);
    void* p = self->fail ? nullptr : std::malloc(size ? size : 1);
    if (p) self->blocks.emplace_back(p, size);
    return p;
  }
  ~Allocations() {
    for (auto& [p, size] : blocks) std::free(p);
  }
};

struct Result {
  blk_merge_status status;
  std::string blob;
  std::string err;
  uint32_t schema;
  size_t allocations;
  bool operator==(const Result& o) const {
    return status == o.status && blob == o.blob && schema == o.schema;
  }
};

constexpr size_t kErrSize = 512;

// Calls p's merge as blk does. Checks what every plugin must do: err is
// NUL-terminated within err_size, and a blob is memory the allocator gave,
// within its size.
Result merge(const blk_merge_plugin* p, const V& a, const V& b, const V* base = nullptr,
             bool fail_alloc = false, size_t err_size = kErrSize) {
  blk_version va = a.view(), vb = b.view(), vbase{};
  if (base) vbase = base->view();
  blk_merge_input in{sizeof in, &va, &vb, base ? &vbase : nullptr};
  Allocations allocations;
  allocations.fail = fail_alloc;
  blk_allocator alloc{&Allocations::alloc, &allocations};
  blk_merge_output out{sizeof out, nullptr, 0, std::max(a.schema, b.schema)};
  std::vector<char> err(kErrSize + 16, '#');
  if (err_size) err[0] = '\0';  // as blk does: a plugin need not touch err on success
  auto status = p->merge(&in, &alloc, &out, err.data(), err_size);
  if (err_size) CHECK(std::memchr(err.data(), '\0', err_size));
  CHECK(err[err_size] == '#');
  if (out.blob) {
    auto it = std::find_if(allocations.blocks.begin(), allocations.blocks.end(),
                           [&](auto& block) { return block.first == out.blob; });
    REQUIRE_MESSAGE(it != allocations.blocks.end(), "the blob is not from the allocator");
    REQUIRE(out.blob_size <= it->second);
  } else {
    CHECK(out.blob_size == 0);
  }
  Result r{status, out.blob ? std::string(reinterpret_cast<char*>(out.blob), out.blob_size) : "",
           err_size ? std::string(err.data()) : "", out.schema, allocations.blocks.size()};
  if (status == BLK_MERGE_MERGED)
    CHECK(r.allocations == (r.blob.empty() ? 0u : 1u));
  else
    CHECK(r.allocations == 0);
  return r;
}

// merge(a, b), checked to be the same as merge(b, a).
Result merge_both_ways(const blk_merge_plugin* p, const V& a, const V& b, const V* base = nullptr) {
  Result ab = merge(p, a, b, base), ba = merge(p, b, a, base);
  CHECK(ab == ba);
  CHECK(ab.err == ba.err);
  return ab;
}

std::string merged(const blk_merge_plugin* p, const V& a, const V& b, const V* base = nullptr) {
  Result r = merge_both_ways(p, a, b, base);
  CHECK_MESSAGE(r.status == BLK_MERGE_MERGED, r.err);
  return r.blob;
}

// A malformed pair: BLK_MERGE_CANNOT with a reason, either way round.
void check_cannot(const blk_merge_plugin* p, const V& a, const V& b) {
  Result r = merge_both_ways(p, a, b);
  CHECK(r.status == BLK_MERGE_CANNOT);
  CHECK(!r.err.empty());
  CHECK(r.blob.empty());
}

V version(const std::string& type, std::string blob, int64_t at = 1000,
          const std::string& by = kMachineA) {
  V v;
  v.type = type;
  v.blob = std::move(blob);
  v.modified_at = at;
  v.modified_by = by;
  return v;
}

// ---------------------------------------------------------------- a JSON model

// JSON values as the tests build them, with their canonical text (sorted
// keys: std::map orders std::string bytewise) and a random equivalent text.
struct J {
  enum Kind { null, boolean, integer, string, array, object } kind = null;
  bool b = false;
  long long n = 0;
  std::string s;
  std::vector<J> items;
  std::map<std::string, J> fields;
};

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out + '"';
}

std::string canonical(const J& j) {
  switch (j.kind) {
    case J::null:
      return "null";
    case J::boolean:
      return j.b ? "true" : "false";
    case J::integer:
      return std::to_string(j.n);
    case J::string:
      return quote(j.s);
    case J::array: {
      std::string out = "[";
      for (const auto& e : j.items) out += (out.size() > 1 ? "," : "") + canonical(e);
      return out + "]";
    }
    case J::object: {
      std::string out = "{";
      for (const auto& [k, v] : j.fields)
        out += (out.size() > 1 ? "," : "") + quote(k) + ":" + canonical(v);
      return out + "}";
    }
  }
  return "";
}

using Rng = std::mt19937_64;

size_t pick(Rng& rng, size_t n) {
  return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
}
bool chance(Rng& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

std::string space(Rng& rng) {
  static const char* const spaces[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
  return spaces[pick(rng, 7)];
}

// A JSON string for s, now and then with an 'a' written "\u0061".
std::string quoted_now_and_then_escaped(const std::string& s, Rng& rng) {
  std::string q = quote(s);
  if (!chance(rng, 0.3)) return q;
  std::string out;
  for (char c : q) out += c == 'a' ? std::string("\\u0061") : std::string(1, c);
  return out;
}

// The same value as JSON text, members in random order, random whitespace,
// a character escaped another way now and then.
std::string text(const J& j, Rng& rng) {
  auto str = [&](const std::string& s) { return quoted_now_and_then_escaped(s, rng); };
  switch (j.kind) {
    case J::string:
      return str(j.s);
    case J::array: {
      std::string out = "[" + space(rng);
      for (size_t i = 0; i < j.items.size(); ++i)
        out += (i ? "," + space(rng) : "") + text(j.items[i], rng) + space(rng);
      return out + "]";
    }
    case J::object: {
      std::vector<const std::pair<const std::string, J>*> fields;
      for (const auto& f : j.fields) fields.push_back(&f);
      std::shuffle(fields.begin(), fields.end(), rng);
      std::string out = "{" + space(rng);
      for (size_t i = 0; i < fields.size(); ++i)
        out += (i ? "," + space(rng) : "") + str(fields[i]->first) + space(rng) + ":" + space(rng) +
               text(fields[i]->second, rng) + space(rng);
      return out + "}";
    }
    default:
      return canonical(j);
  }
}

J random_value(Rng& rng, int depth);

std::string random_key(Rng& rng) {
  static const char* const keys[] = {"a", "b", "c", "d", "Z", "\xc3\xa9", "a b", "q\"x", ""};
  return keys[pick(rng, 9)];
}

J random_object(Rng& rng, int depth) {
  J j;
  j.kind = J::object;
  size_t n = pick(rng, 5);
  for (size_t i = 0; i < n; ++i) j.fields[random_key(rng)] = random_value(rng, depth + 1);
  return j;
}

J random_value(Rng& rng, int depth) {
  J j;
  size_t kind = pick(rng, depth >= 3 ? 4 : 6);
  switch (kind) {
    case 0:
      j.kind = J::null;
      break;
    case 1:
      j.kind = J::boolean;
      j.b = chance(rng, 0.5);
      break;
    case 2:
      j.kind = J::integer;
      j.n = static_cast<long long>(pick(rng, 7)) - 3;
      break;
    case 3: {
      static const char* const strings[] = {"x", "y", "milk", "\\", "line\nbreak", "\xe2\x82\xac"};
      j.kind = J::string;
      j.s = strings[pick(rng, 6)];
      break;
    }
    case 4: {
      j.kind = J::array;
      size_t n = pick(rng, 4);
      for (size_t i = 0; i < n; ++i) j.items.push_back(random_value(rng, depth + 1));
      break;
    }
    default:
      return random_object(rng, depth);
  }
  return j;
}

// A random edit of an object: fields changed, deleted, added; nested
// objects edited the same way.
J edit(const J& o, Rng& rng, int depth = 0) {
  J j = o;
  for (auto it = j.fields.begin(); it != j.fields.end();) {
    double r = std::uniform_real_distribution<double>(0, 1)(rng);
    if (r < 0.15) {
      it = j.fields.erase(it);
      continue;
    }
    if (r < 0.3)
      it->second = random_value(rng, depth + 1);
    else if (r < 0.6 && it->second.kind == J::object)
      it->second = edit(it->second, rng, depth + 1);
    ++it;
  }
  if (chance(rng, 0.3)) j.fields[random_key(rng)] = random_value(rng, depth + 1);
  return j;
}

// ---------------------------------------------------------------- the handshake

struct Expected {
  const char* path;
  const char* name;
  const char* types;
};

const Expected kPlugins[] = {
    {BLK_PLUGIN_JSON_FIELDS, "json_fields", BLK_JSON_FIELDS_TYPES},
    {BLK_PLUGIN_SET_UNION, "set_union", BLK_SET_UNION_TYPES},
    {BLK_PLUGIN_COUNTER, "counter", BLK_COUNTER_TYPES},
    {BLK_PLUGIN_MAX_SCORE, "max_score", BLK_MAX_SCORE_TYPES},
};

TEST_CASE("each plugin: the entry point, the handshake both ways, the type list") {
  for (const auto& e : kPlugins) {
    CAPTURE(e.name);
    Loaded l(e.path);
    REQUIRE(static_cast<bool>(l.entry));
    const blk_merge_plugin* p = l.plugin();
    CHECK(p->struct_size == sizeof(blk_merge_plugin));
    CHECK(p->abi_version == BLK_MERGE_ABI_VERSION);
    CHECK(std::string(p->name) == e.name);
    CHECK(static_cast<bool>(p->merge));
    std::vector<std::string> types;
    for (size_t i = 0; i < p->type_count; ++i) {
      types.emplace_back(p->types[i].type);
      CHECK(p->types[i].max_schema == 1);
    }
    CHECK(types == split(e.types));

    // The same plugin for a host with larger structs (a later blk, same ABI).
    char err[256] = "";
    CHECK(l.entry(1, sizeof(blk_merge_input) + 8, sizeof(blk_merge_output) + 8, err, sizeof err) ==
          p);

    // Refused, with a reason: another ABI version, or structs too small.
    struct Host {
      uint32_t abi, input, output;
    };
    const Host refused[] = {
        {2, sizeof(blk_merge_input), sizeof(blk_merge_output)},
        {0, sizeof(blk_merge_input), sizeof(blk_merge_output)},
        {1, sizeof(blk_merge_input) - 1, sizeof(blk_merge_output)},
        {1, sizeof(blk_merge_input), sizeof(blk_merge_output) - 4},
        {1, 0, 0},
    };
    for (const auto& h : refused) {
      CAPTURE(h.abi);
      CAPTURE(h.input);
      CAPTURE(h.output);
      std::memset(err, '#', sizeof err);
      CHECK(l.entry(h.abi, h.input, h.output, err, sizeof err) == nullptr);
      CHECK(std::strlen(err) > 10);
      CHECK(std::string(err).find("version 1") != std::string::npos);
    }
    // The message is cut to err_size, NUL included; no buffer is fine too.
    std::memset(err, '#', sizeof err);
    CHECK(l.entry(2, sizeof(blk_merge_input), sizeof(blk_merge_output), err, 6) == nullptr);
    CHECK(std::strlen(err) == 5);
    CHECK(err[6] == '#');
    CHECK(l.entry(2, sizeof(blk_merge_input), sizeof(blk_merge_output), err, 1) == nullptr);
    CHECK(err[0] == '\0');
    CHECK(l.entry(2, sizeof(blk_merge_input), sizeof(blk_merge_output), nullptr, 0) == nullptr);
  }
}

TEST_CASE("each plugin: a type or schema it does not merge is BLK_MERGE_NOT_HANDLED") {
  struct Case {
    const blk_merge_plugin* p;
    std::string type, blob;
  };
  const Case cases[] = {
      {json_fields(), first_type(BLK_JSON_FIELDS_TYPES), "{}"},
      {set_union(), first_type(BLK_SET_UNION_TYPES), "[]"},
      {counter(), first_type(BLK_COUNTER_TYPES), "{}"},
      {max_score(), first_type(BLK_MAX_SCORE_TYPES), "1"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.p->name);
    V good = version(c.type, c.blob);
    V other = version("no-such-type", c.blob, 2000, kMachineB);
    V future = version(c.type, c.blob, 2000, kMachineB);
    future.schema = 2;
    V unset = version(c.type, c.blob, 2000, kMachineB);
    unset.schema = 0;
    for (const V* bad : {&other, &future}) {
      Result r = merge_both_ways(c.p, good, *bad);
      CHECK(r.status == BLK_MERGE_NOT_HANDLED);
      CHECK(!r.err.empty());
    }
    // Schema 0 (blk's default when an app sets none) is schema 1's format.
    CHECK(merge_both_ways(c.p, good, unset).status == BLK_MERGE_MERGED);
  }
}

TEST_CASE("each plugin: output memory comes from the host's allocator, once") {
  struct Case {
    const blk_merge_plugin* p;
    std::string type, x, y;
  };
  const Case cases[] = {
      {json_fields(), first_type(BLK_JSON_FIELDS_TYPES), R"({"a":1})", R"({"b":2})"},
      {set_union(), first_type(BLK_SET_UNION_TYPES), "[1]", "[2]"},
      {counter(), first_type(BLK_COUNTER_TYPES), R"({"p":{"m":1}})", R"({"n":{"m":1}})"},
      {max_score(), first_type(BLK_MAX_SCORE_TYPES), "1", "2"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.p->name);
    V x = version(c.type, c.x), y = version(c.type, c.y, 2000, kMachineB);
    Result r = merge(c.p, x, y);  // checks the pointer and counts
    CHECK(r.status == BLK_MERGE_MERGED);
    CHECK(r.allocations == 1);
    // The allocator says no: BLK_MERGE_FAILED, and no blob.
    r = merge(c.p, x, y, nullptr, /*fail_alloc=*/true);
    CHECK(r.status == BLK_MERGE_FAILED);
    CHECK(r.err == "out of memory");
    CHECK(r.blob.empty());
    // A short err buffer: the reason is cut, and still NUL-terminated.
    V bad = version(c.type, "\xff");
    for (size_t size : {size_t{1}, size_t{2}, size_t{9}}) {
      r = merge(c.p, x, bad, nullptr, false, size);
      CHECK(r.status == BLK_MERGE_CANNOT);
      CHECK(r.err.size() == size - 1);
    }
    r = merge(c.p, x, bad, nullptr, false, 0);
    CHECK(r.status == BLK_MERGE_CANNOT);
  }
}

// ---------------------------------------------------------------- json_fields

std::string json_type() {
  return first_type(BLK_JSON_FIELDS_TYPES);
}
V jv(std::string blob, int64_t at = 1000, const std::string& by = kMachineA) {
  return version(json_type(), std::move(blob), at, by);
}

// The format's hash of a value (plugins/json_fields/README.md): 64-bit
// FNV-1a of its bytes as written, 16 lowercase hex digits.
std::string fnv(const std::string& value) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : value) h = (h ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}
// A "_blk_stamps" entry: a stamped value, or (value empty) a tombstone.
std::string entry(const std::string& key, int64_t at, const std::string& by,
                  const std::string& value = "") {
  return quote(key) + ":[" + std::to_string(at) + ",\"" + by + "\"" +
         (value.empty() ? "" : ",\"" + fnv(value) + "\"") + "]";
}
std::string stamps(const std::vector<std::string>& entries) {
  std::string out = "\"_blk_stamps\":{";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + entries[i];
  return out + "}";
}
// Of two versions, the one whose metadata a merged version takes: the later
// (modified_at, modified_by), as blk decides last-write-wins.
const V& later_of(const V& x, const V& y) {
  return std::tie(x.modified_at, x.modified_by) > std::tie(y.modified_at, y.modified_by) ? x : y;
}
V merged_version(const V& x, const V& y, const std::string& blob) {
  const V& later = later_of(x, y);
  return jv(blob, later.modified_at, later.modified_by);
}

TEST_CASE("json_fields: top-level fields merge last-write-wins, other values whole") {
  auto* p = json_fields();
  // The union of the fields; the later write wins a field in both. A field
  // older than the merged version (which takes the later metadata) keeps
  // its own stamp in "_blk_stamps".
  CHECK(merged(p, jv(R"({"x":1,"y":1})", 1000), jv(R"({"y":2,"z":2})", 2000)) ==
        "{" + stamps({entry("x", 1000, kMachineA, "1")}) + R"(,"x":1,"y":2,"z":2})");
  CHECK(merged(p, jv(R"({"x":1,"y":1})", 3000), jv(R"({"y":2,"z":2})", 2000)) ==
        "{" + stamps({entry("z", 2000, kMachineA, "2")}) + R"(,"x":1,"y":1,"z":2})");
  // Objects, arrays and scalars are values: the later one, whole.
  CHECK(merged(p, jv(R"({"o":{"a":1,"c":1},"l":[1,2]})", 1000),
               jv(R"({"o":{"b":2},"l":[3]})", 2000)) == R"({"l":[3],"o":{"b":2}})");
  // Then the machine id, then the larger value.
  CHECK(merged(p, jv(R"({"v":"b"})", 1000, kMachineB), jv(R"({"v":"a"})", 1000, kMachineA)) ==
        R"({"v":"b"})");
  CHECK(merged(p, jv(R"({"v":"1"})"), jv(R"({"v":"2"})")) == R"({"v":"2"})");
  // A field missing from a version without stamps is not known to be
  // deleted: it comes back (null is the app's tombstone then).
  CHECK(merged(p, jv(R"({"x":1,"y":1})", 1000), jv(R"({"y":1})", 2000)) ==
        "{" + stamps({entry("x", 1000, kMachineA, "1")}) + R"(,"x":1,"y":1})");
  CHECK(merged(p, jv("{}", 1000), jv("{}", 2000)) == "{}");
}

TEST_CASE("json_fields: the output is sorted by key, values as written") {
  auto* p = json_fields();
  auto same = [&](const std::string& json) { return merged(p, jv(json), jv(json)); };
  // Keys sorted bytewise (UTF-8 after ASCII, unescaped), no whitespace
  // between members.
  CHECK(same("{ \"b\" : 1 ,\n \"a\":2, \"\xc3\xa9\":3, \"Z\":4, \"\\u0059\":6, \"\":5 }") ==
        "{\"\":5,\"\\u0059\":6,\"Z\":4,\"a\":2,\"b\":1,\"\xc3\xa9\":3}");
  // Values are the bytes the version has: nothing is re-serialised.
  CHECK(same(R"({"s":"\u0041\/","n":[1.50, 1e2,-0],"o":{ "z":{},"y":[ {"b":1,"a":2}]}})") ==
        R"({"n":[1.50, 1e2,-0],"o":{ "z":{},"y":[ {"b":1,"a":2}]},"s":"\u0041\/"})");
  // A key inside a value may repeat: it is the app's value, kept as it is.
  CHECK(same(R"({"o":{"k":1,"k":2}})") == R"({"o":{"k":1,"k":2}})");
  // The same field written two ways: one of them, whichever order.
  CHECK(merged(p, jv(R"({"a":1})"), jv(R"({"\u0061":1})")) == R"({"a":1})");
}

TEST_CASE("json_fields: three concurrent versions give the same bytes in any order") {
  auto* p = json_fields();
  // Without stamps, the merged version would carry x from a at b's time,
  // and the merge order would decide x: (a b) c and a (b c) differed.
  V a = jv(R"({"x":1})", 2000, kMachineA), b = jv(R"({"y":2})", 3000, kMachineB),
    c = jv(R"({"x":3})", 1000, kMachineC);
  V ab = merged_version(a, b, merged(p, a, b)), bc = merged_version(b, c, merged(p, b, c));
  V ac = merged_version(a, c, merged(p, a, c));
  std::string want = "{" + stamps({entry("x", 2000, kMachineA, "1")}) + R"(,"x":1,"y":2})";
  CHECK(merged(p, ab, c) == want);
  CHECK(merged(p, a, bc) == want);
  CHECK(merged(p, ac, b) == want);
}

TEST_CASE("json_fields: stamps hold until the app changes the field") {
  auto* p = json_fields();
  // x merged in from an older version keeps its stamp (1000, A).
  V a = jv(R"({"x":1,"y":1})", 1000, kMachineA), b = jv(R"({"y":2})", 2000, kMachineB);
  std::string m = merged(p, a, b);
  std::string ms = stamps({entry("x", 1000, kMachineA, "1")});
  REQUIRE(m == "{" + ms + R"(,"x":1,"y":2})");
  V c = jv(R"({"x":9})", 2500, kMachineC);  // concurrent with the edits below
  // The app edits y only, keeping "_blk_stamps": x is still the 1000 write,
  // so C's later x wins.
  V y_edited = jv("{" + ms + R"(,"x":1,"y":5})", 3000, kMachineB);
  CHECK(merged(p, y_edited, c) ==
        "{" + stamps({entry("x", 2500, kMachineC, "9")}) + R"(,"x":9,"y":5})");
  // The app edits x: its value no longer has the stamped hash, so x is
  // this version's write and beats C's.
  V x_edited = jv("{" + ms + R"(,"x":7,"y":2})", 3000, kMachineB);
  CHECK(merged(p, x_edited, c) == R"({"x":7,"y":2})");
  // An app that drops "_blk_stamps" makes every field its own write.
  CHECK(merged(p, jv(R"({"x":1,"y":5})", 3000, kMachineB), c) == R"({"x":1,"y":5})");
  // The app deletes x: a tombstone at this version's time, which beats C's
  // x and any older one, in every later merge.
  V x_deleted = jv("{" + ms + R"(,"y":2})", 3000, kMachineB);
  std::string gone = merged(p, x_deleted, c);
  CHECK(gone == "{" + stamps({entry("x", 3000, kMachineB)}) + R"(,"y":2})");
  V gone_v = merged_version(x_deleted, c, gone);
  CHECK(merged(p, gone_v, a) == gone);
  CHECK(merged(p, gone_v, c) == gone);
  // A write after the delete brings x back.
  V again = jv("{" + stamps({entry("x", 3000, kMachineB)}) + R"(,"x":4,"y":2})", 4000, kMachineB);
  CHECK(merged(p, again, gone_v) == R"({"x":4,"y":2})");
  // A later tombstone wins over a value; an earlier one loses.
  V late_tomb = jv("{" + stamps({entry("x", 5000, kMachineA)}) + "}", 5000, kMachineA);
  CHECK(merged(p, again, late_tomb) ==
        "{" + stamps({entry("x", 5000, kMachineA), entry("y", 4000, kMachineB, "2")}) +
            R"(,"y":2})");
  V early_tomb = jv("{" + stamps({entry("x", 500, kMachineA)}) + "}", 600, kMachineA);
  CHECK(merged(p, again, early_tomb) == R"({"x":4,"y":2})");
}

TEST_CASE("json_fields: a common ancestor changes nothing") {
  auto* p = json_fields();
  V a = jv(R"({"x":1,"y":1})", 1000), b = jv(R"({"y":2})", 2000, kMachineB);
  V base = jv(R"({"x":1,"y":1,"z":1})", 500);
  CHECK(merged(p, a, b, &base) == merged(p, a, b));
}

TEST_CASE("json_fields: a blob that is not a JSON object is BLK_MERGE_CANNOT") {
  auto* p = json_fields();
  V good = jv(R"({"a":1})", 1000);
  const std::string A = kMachineA;
  for (std::string bad :
       {std::string(), std::string("["), std::string("[1,2]"), std::string("\"text\""),
        std::string("42"), std::string("null"), std::string(R"({"a":1} x)"),
        std::string(R"({"a":1,"a":2})"), std::string(R"({"a":1,"\u0061":2})"),
        std::string("{\"a\":\"\xff\"}"), std::string("{\"a\":1}\0", 8), std::string("{'a':1}"),
        std::string("{\"a\":NaN}"), std::string(R"({"a":[1,,2]})"),
        "{\"d\":" + std::string(300, '[') + std::string(300, ']') + "}", std::string(100000, '['),
        std::string(100000, '{'),
        // "_blk_stamps" that is not an object of [time, machine id, hash?]
        std::string(R"({"_blk_stamps":[]})"), std::string(R"({"_blk_stamps":{"x":1}})"),
        std::string(R"({"_blk_stamps":{"x":[1]}})"),
        std::string(R"({"_blk_stamps":{"x":[1,"m"]}})"),
        R"({"_blk_stamps":{"x":["1",")" + A + R"("]}})",
        R"({"_blk_stamps":{"x":[1.5,")" + A + R"("]}})",
        R"({"_blk_stamps":{"x":[1,")" + A + R"(","nothex"]}})",
        R"({"_blk_stamps":{"x":[1,")" + A + R"(","0123456789abcdef",1]}})",
        R"({"_blk_stamps":{"x":[1,")" + A + R"("],"x":[2,")" + A + R"("]}})",
        R"({"_blk_stamps":{"_blk_stamps":[1,")" + A + R"("]}})",
        std::string(R"({"_blk_stamps":{},"_blk_stamps":{}})")}) {
    CAPTURE(bad.substr(0, 60));
    check_cannot(p, good, jv(bad, 2000, kMachineB));
    check_cannot(p, jv(bad, 2000, kMachineB), good);
  }
  // Deep, but not too deep: fine.
  std::string deep = "{\"d\":" + std::string(200, '[') + std::string(200, ']') + "}";
  CHECK(merged(p, good, jv(deep, 2000)) ==
        "{" + stamps({entry("a", 1000, kMachineA, "1")}) + ",\"a\":1," + deep.substr(1));
  // The reason names the blob's writer.
  Result r = merge(p, good, jv("[]", 2000, kMachineB));
  CHECK(r.err.find(kMachineB) != std::string::npos);
  CHECK(r.err.find("not a JSON object") != std::string::npos);
}

// json_fields' rules, written down independently: a version read as
// (field -> stamped value or tombstone), two such maps joined, the join
// written out.
struct Stamped {
  int64_t at = 0;
  std::string by;
  bool deleted = false;
  std::string raw_key, raw_value;
};
using Fields = std::map<std::string, Stamped>;

struct JsonCase {
  V v;
  Fields fields;  // what the version means
};

// A random version: fields, and now and then a "_blk_stamps" entry that
// holds, one whose hash no longer fits (an edit), a tombstone, or a stamped
// field that is gone (a delete).
JsonCase random_json(Rng& rng, int64_t at, const std::string& by) {
  static const std::string machines[] = {kMachineA, kMachineB, kMachineC};
  JsonCase c;
  std::vector<std::string> members, entries;
  std::set<std::string> keys;
  for (size_t n = pick(rng, 6); keys.size() < n;) keys.insert(random_key(rng));
  for (const auto& key : keys) {
    Stamped s{at, by, false, quoted_now_and_then_escaped(key, rng),
              text(random_value(rng, 1), rng)};
    int64_t old_at = 990 + static_cast<int64_t>(pick(rng, 20));
    const std::string& old_by = machines[pick(rng, 3)];
    size_t kind = pick(rng, 8);
    if (kind == 0) {  // a stamp that holds
      entries.push_back(quoted_now_and_then_escaped(key, rng) + ":[" + std::to_string(old_at) +
                        ",\"" + old_by + "\",\"" + fnv(s.raw_value) + "\"]");
      s.at = old_at;
      s.by = old_by;
    } else if (kind == 1) {  // edited since it was stamped
      entries.push_back(quoted_now_and_then_escaped(key, rng) + ":[" + std::to_string(old_at) +
                        ",\"" + old_by + "\",\"" + fnv(s.raw_value + " ") + "\"]");
    } else if (kind == 2) {  // re-added after a tombstone
      entries.push_back(quoted_now_and_then_escaped(key, rng) + ":[" + std::to_string(old_at) +
                        ",\"" + old_by + "\"]");
    } else if (kind == 3) {  // a tombstone
      s = {old_at, old_by, true, quoted_now_and_then_escaped(key, rng), ""};
      entries.push_back(s.raw_key + ":[" + std::to_string(old_at) + ",\"" + old_by + "\"]");
    } else if (kind == 4) {  // deleted by this version
      s = {at, by, true, quoted_now_and_then_escaped(key, rng), ""};
      entries.push_back(s.raw_key + ":[" + std::to_string(old_at) + ",\"" + old_by +
                        "\",\"0123456789abcdef\"]");
    }
    if (!s.deleted) members.push_back(s.raw_key + space(rng) + ":" + space(rng) + s.raw_value);
    c.fields[key] = s;
  }
  if (!entries.empty() || chance(rng, 0.1)) {
    std::shuffle(entries.begin(), entries.end(), rng);
    std::string e = "{";
    for (size_t i = 0; i < entries.size(); ++i) e += (i ? "," + space(rng) : "") + entries[i];
    members.push_back("\"_blk_stamps\":" + e + "}");
  }
  std::shuffle(members.begin(), members.end(), rng);
  std::string blob = "{" + space(rng);
  for (size_t i = 0; i < members.size(); ++i)
    blob += (i ? "," + space(rng) : "") + members[i] + space(rng);
  c.v = jv(blob + "}", at, by);
  return c;
}

const Stamped& model_later(const Stamped& x, const Stamped& y) {
  auto rank = [](const Stamped& s) {
    return std::make_tuple(s.at, std::cref(s.by), !s.deleted, std::cref(s.raw_value),
                           std::cref(s.raw_key));
  };
  return rank(x) < rank(y) ? y : x;
}

std::string model_json_merge(const JsonCase& x, const JsonCase& y) {
  Fields join = x.fields;
  for (const auto& [k, s] : y.fields) {
    auto it = join.find(k);
    if (it == join.end())
      join[k] = s;
    else
      it->second = model_later(it->second, s);
  }
  const V& own = later_of(x.v, y.v);
  std::vector<std::string> entries;
  std::map<std::string, std::string> members;
  for (const auto& [k, s] : join) {
    if (s.deleted || s.at != own.modified_at || s.by != own.modified_by)
      entries.push_back(s.raw_key + ":[" + std::to_string(s.at) + ",\"" + s.by + "\"" +
                        (s.deleted ? "" : ",\"" + fnv(s.raw_value) + "\"") + "]");
    if (!s.deleted) members[k] = s.raw_key + ":" + s.raw_value;
  }
  if (!entries.empty()) members["_blk_stamps"] = stamps(entries);
  std::string out = "{";
  for (const auto& [k, m] : members) out += (out.size() > 1 ? "," : "") + m;
  return out + "}";
}

TEST_CASE("json_fields: random versions against the model; commutative, associative (seeded)") {
  auto* p = json_fields();
  Rng rng(20261127);
  const std::string machines[] = {kMachineA, kMachineB, kMachineC};
  for (int i = 0; i < 2000; ++i) {
    CAPTURE(i);
    auto next = [&](int64_t at) { return random_json(rng, at, machines[pick(rng, 3)]); };
    JsonCase x = next(1000 + static_cast<int64_t>(pick(rng, 3))),
             y = next(1000 + static_cast<int64_t>(pick(rng, 3))),
             z = next(1000 + static_cast<int64_t>(pick(rng, 3)));
    CAPTURE(x.v.blob);
    CAPTURE(y.v.blob);
    CAPTURE(z.v.blob);
    // Two-way, against the model; merged() checks both orders.
    std::string xy = merged(p, x.v, y.v);
    CHECK(xy == model_json_merge(x, y));
    // Associative, the merged version taking the later metadata as blk does.
    V vxy = merged_version(x.v, y.v, xy);
    V vyz = merged_version(y.v, z.v, merged(p, y.v, z.v));
    V vxz = merged_version(x.v, z.v, merged(p, x.v, z.v));
    std::string left = merged(p, vxy, z.v);
    CHECK(merged(p, x.v, vyz) == left);
    CHECK(merged(p, vxz, y.v) == left);
    // Idempotent: a merged version merged with itself, or with what it
    // merged, is itself.
    CHECK(merged(p, vxy, vxy) == xy);
    CHECK(merged(p, vxy, x.v) == xy);
    CHECK(merged(p, vxy, y.v) == xy);
  }
}

// ---------------------------------------------------------------- set_union

std::string set_type() {
  return first_type(BLK_SET_UNION_TYPES);
}
V sv(std::string blob, int64_t at = 1000, const std::string& by = kMachineA) {
  return version(set_type(), std::move(blob), at, by);
}

TEST_CASE("set_union: the union, each element once, canonical and sorted") {
  auto* p = set_union();
  CHECK(merged(p, sv("[3,1,2]"), sv("[2,4]")) == "[1,2,3,4]");
  CHECK(merged(p, sv("[]"), sv("[]")) == "[]");
  CHECK(merged(p, sv(R"(["b","a","b"])"), sv("[]")) == R"(["a","b"])");
  // Elements compare by their canonical form, and sort by it bytewise.
  CHECK(merged(p, sv(R"([{"b":1,"a":2}, "\u0061", [1, 2]])"), sv(R"([{"a":2,"b":1},"a",[2,1]])")) ==
        R"(["a",[1,2],[2,1],{"a":2,"b":1}])");
  CHECK(merged(p, sv("[true,null,false,10,9,-1]"), sv("[1.50,1.5]")) ==
        R"([-1,1.5,10,9,false,null,true])");
}

TEST_CASE("set_union: a blob that is not a JSON array is BLK_MERGE_CANNOT") {
  auto* p = set_union();
  V good = sv("[1]");
  for (std::string bad : {std::string(), std::string("{}"), std::string("1"), std::string("[1,]"),
                          std::string("[1] [2]"), std::string(R"([{"k":1,"k":1}])"),
                          std::string("[\"\xc3\"]"), std::string(100000, '[')}) {
    CAPTURE(bad.substr(0, 40));
    check_cannot(p, good, sv(bad, 2000, kMachineB));
  }
}

// ---------------------------------------------------------------- counter

std::string counter_type() {
  return first_type(BLK_COUNTER_TYPES);
}
V cv(std::string blob, int64_t at = 1000, const std::string& by = kMachineA) {
  return version(counter_type(), std::move(blob), at, by);
}

TEST_CASE("counter: the pointwise maximum of p and of n, canonical") {
  auto* p = counter();
  CHECK(merged(p, cv(R"({"p":{"m1":3,"m2":1},"n":{"m1":1}})"),
               cv(R"({"n":{"m2":4},"p":{"m2":5,"m1":2}})")) ==
        R"({"n":{"m1":1,"m2":4},"p":{"m1":3,"m2":5}})");
  // "p" and "n" may be left out; the output has both.
  CHECK(merged(p, cv("{}"), cv("{}")) == R"({"n":{},"p":{}})");
  CHECK(merged(p, cv(R"({"p":{"m":1}})"), cv(R"({"n":{"m":1}})")) ==
        R"({"n":{"m":1},"p":{"m":1}})");
  CHECK(merged(p, cv(R"({"p":{"m":18446744073709551615}})"), cv(R"({"p":{"m":0}})")) ==
        R"({"n":{},"p":{"m":18446744073709551615}})");
  // Keys sorted bytewise, any string.
  CHECK(merged(p, cv(R"({"p":{"b":1,"\u00e9":2,"A":3,"":4}})"), cv("{}")) ==
        "{\"n\":{},\"p\":{\"\":4,\"A\":3,\"b\":1,\"\xc3\xa9\":2}}");
}

TEST_CASE("counter: a malformed blob is BLK_MERGE_CANNOT") {
  auto* p = counter();
  V good = cv(R"({"p":{"m":1}})");
  for (std::string bad :
       {std::string(), std::string("[]"), std::string("7"), std::string(R"({"p":[]})"),
        std::string(R"({"p":{"m":-1}})"), std::string(R"({"p":{"m":1.0}})"),
        std::string(R"({"p":{"m":1e2}})"), std::string(R"({"p":{"m":"1"}})"),
        std::string(R"({"p":{"m":null}})"), std::string(R"({"p":{"m":18446744073709551616}})"),
        std::string(R"({"p":{"m":1,"m":2}})"), std::string(R"({"p":{},"p":{}})"),
        std::string(R"({"p":{},"x":{}})"), std::string(R"({"P":{}})"), std::string(100000, '{')}) {
    CAPTURE(bad.substr(0, 40));
    check_cannot(p, good, cv(bad, 2000, kMachineB));
  }
}

// ---------------------------------------------------------------- max_score

std::string score_type() {
  return first_type(BLK_MAX_SCORE_TYPES);
}
V mv(std::string blob, int64_t at = 1000, const std::string& by = kMachineA) {
  return version(score_type(), std::move(blob), at, by);
}

TEST_CASE("max_score: the larger integer, in canonical form") {
  auto* p = max_score();
  CHECK(merged(p, mv("3"), mv("10")) == "10");
  CHECK(merged(p, mv("-3"), mv("-10")) == "-3");
  CHECK(merged(p, mv("-3"), mv("0")) == "0");
  CHECK(merged(p, mv("-0"), mv("-1")) == "0");
  CHECK(merged(p, mv("007\n"), mv("6")) == "7");
  CHECK(merged(p, mv("000"), mv("-000")) == "0");
  CHECK(merged(p, mv("42\n"), mv("42")) == "42");
  // Any length.
  CHECK(merged(p, mv("123456789012345678901234567890"), mv("99999999999999999999999999999")) ==
        "123456789012345678901234567890");
  CHECK(merged(p, mv("-123456789012345678901234567890"), mv("-99999999999999999999999999999")) ==
        "-99999999999999999999999999999");
}

TEST_CASE("max_score: a blob that is not a decimal integer is BLK_MERGE_CANNOT") {
  auto* p = max_score();
  for (std::string bad : {"", "-", "\n", "+1", " 1", "1 ", "1\n\n", "1a", "0x10", "1.5", "--1",
                          "1\r\n", "\xd9\xa1"}) {
    CAPTURE(bad);
    check_cannot(p, mv("1"), mv(bad, 2000, kMachineB));
    check_cannot(p, mv(bad, 2000, kMachineB), mv("1"));
  }
}

// ---------------------------------------------------------------- the CRDT laws

// Random versions of each CRDT-like plugin's format, with the canonical
// value the plugin must write for them and the model's merge of two.
struct Law {
  const blk_merge_plugin* plugin;
  std::string type;
  std::function<std::pair<std::string, std::string>(Rng&)> random;  // blob, canonical
};

TEST_CASE("set_union, counter, max_score: commutative, associative, idempotent (seeded)") {
  Rng seeded(7);
  auto random_set = [](Rng& rng) {
    size_t n = pick(rng, 5);
    std::vector<J> items;
    std::set<std::string> canon;
    std::string blob = "[";
    for (size_t i = 0; i < n; ++i) {
      J e = random_value(rng, 2);
      blob += (i ? "," : "") + text(e, rng);
      canon.insert(canonical(e));
    }
    std::string c = "[";
    for (const auto& e : canon) c += (c.size() > 1 ? "," : "") + e;
    return std::make_pair(blob + "]", c + "]");
  };
  auto random_counter = [](Rng& rng) {
    static const char* const machines[] = {"m1", "m2", "m3", "\xc3\xa9"};
    std::map<std::string, uint64_t> pn[2];
    std::string blob = "{", canon = "{";
    const char* names[] = {"n", "p"};
    std::vector<int> order = {0, 1};
    if (chance(rng, 0.5)) std::swap(order[0], order[1]);
    for (int which : order) {
      size_t n = pick(rng, 4);
      for (size_t i = 0; i < n; ++i)
        pn[which][machines[pick(rng, 4)]] =
            chance(rng, 0.1) ? UINT64_MAX - pick(rng, 2) : pick(rng, 6);
      if (pn[which].empty() && chance(rng, 0.5)) continue;
      std::string o = "{";
      for (const auto& [m, c] : pn[which])
        o += (o.size() > 1 ? "," : "") + quote(m) + ":" + std::to_string(c);
      blob += (blob.size() > 1 ? "," : "") + std::string("\"") + names[which] + "\":" + o + "}";
    }
    for (int which : {0, 1}) {
      std::string o = "{";
      for (const auto& [m, c] : pn[which])
        o += (o.size() > 1 ? "," : "") + quote(m) + ":" + std::to_string(c);
      canon += (canon.size() > 1 ? "," : "") + std::string("\"") + names[which] + "\":" + o + "}";
    }
    return std::make_pair(blob + "}", canon + "}");
  };
  auto random_score = [](Rng& rng) {
    long long n = static_cast<long long>(pick(rng, 41)) - 20;
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string blob = (n < 0 ? "-" : "") + std::string(pick(rng, 3), '0') + digits +
                       (chance(rng, 0.3) ? "\n" : "");
    return std::make_pair(blob, std::to_string(n));
  };
  const Law laws[] = {
      {set_union(), set_type(), random_set},
      {counter(), counter_type(), random_counter},
      {max_score(), score_type(), random_score},
  };
  for (const auto& law : laws) {
    CAPTURE(law.plugin->name);
    auto v = [&](const std::string& blob, int64_t at) {
      return version(law.type, blob, at, at % 2 ? kMachineA : kMachineB);
    };
    for (int i = 0; i < 300; ++i) {
      CAPTURE(i);
      auto [bx, cx] = law.random(seeded);
      auto [by, cy] = law.random(seeded);
      auto [bz, cz] = law.random(seeded);
      CAPTURE(bx);
      CAPTURE(by);
      CAPTURE(bz);
      V x = v(bx, 1000), y = v(by, 1001), z = v(bz, 1002);
      // Idempotent: merge(x, x) is x in canonical form.
      CHECK(merged(law.plugin, x, x) == cx);
      // Commutative (merged() checks both orders) and associative.
      std::string xy = merged(law.plugin, x, y), yz = merged(law.plugin, y, z);
      std::string left = merged(law.plugin, v(xy, 1003), z);
      std::string right = merged(law.plugin, x, v(yz, 1004));
      CHECK(left == right);
      // Canonical output is a fixed point.
      CHECK(merged(law.plugin, v(left, 1005), v(left, 1006)) == left);
      // Merging in what was merged already changes nothing.
      CHECK(merged(law.plugin, v(xy, 1007), x) == xy);
    }
  }
}

// ---------------------------------------------------------------- plugins/testing

TEST_CASE("testing plugins: wrong_abi, short_struct and no_entry are what they say") {
  Loaded wrong(BLK_TEST_PLUGIN_WRONG_ABI);
  REQUIRE(static_cast<bool>(wrong.entry));
  CHECK(wrong.plugin()->abi_version == 2);
  CHECK(wrong.plugin()->struct_size == sizeof(blk_merge_plugin));
  Loaded small(BLK_TEST_PLUGIN_SHORT_STRUCT);
  REQUIRE(static_cast<bool>(small.entry));
  CHECK(small.plugin()->struct_size == 8);
  Loaded none(BLK_TEST_PLUGIN_NO_ENTRY);
  CHECK(none.handle != nullptr);
  CHECK(!static_cast<bool>(none.entry));
}

TEST_CASE("testing plugins: garbage returns garbage") {
  Loaded l(BLK_TEST_PLUGIN_GARBAGE);
  const blk_merge_plugin* p = l.plugin();
  auto call = [&](const std::string& word, size_t err_size = 16) {
    V a = version("garbage", "x"), b = version("garbage", word, 2000, kMachineB);
    blk_version va = a.view(), vb = b.view();
    blk_merge_input in{sizeof in, &va, &vb, nullptr};
    static Allocations allocations;
    blk_allocator alloc{&Allocations::alloc, &allocations};
    blk_merge_output out{sizeof out, nullptr, 0, 1};
    char err[32];
    std::memset(err, '#', sizeof err);
    // Called as returning int: in C++, 42 in a blk_merge_status would be
    // undefined behaviour (the enum's values are 0 to 3), which UBSan flags.
    int (*raw)(const blk_merge_input*, const blk_allocator*, blk_merge_output*, char*, size_t);
    static_assert(sizeof raw == sizeof p->merge);
    std::memcpy(&raw, &p->merge, sizeof raw);
    int status = raw(&in, &alloc, &out, err, err_size);
    return std::make_tuple(status, out, std::string(err, sizeof err));
  };
  auto [status, out, err] = call("anything");
  CHECK(status == BLK_MERGE_MERGED);
  CHECK(out.blob == nullptr);
  CHECK(out.blob_size == 100);
  std::tie(status, out, err) = call("schema");
  CHECK(status == BLK_MERGE_MERGED);
  CHECK(out.schema == 2);
  std::tie(status, out, err) = call("status\n");
  CHECK(status == 42);
  std::tie(status, out, err) = call("unterminated");
  CHECK(status == BLK_MERGE_FAILED);
  CHECK(err == std::string(16, 'x') + std::string(16, '#'));
  std::tie(status, out, err) = call("foreign");
  CHECK(status == BLK_MERGE_MERGED);
  CHECK(std::string(reinterpret_cast<char*>(out.blob), out.blob_size) == "not yours");
  std::tie(status, out, err) = call("oversize");
  CHECK(out.blob_size == 4096);
  std::tie(status, out, err) = call("toolarge");
  CHECK(out.blob_size == (size_t{16} << 20) + 1);
}

// Runs merge in a child process; returns its wait status once it ends, or
// after `wait_ms` with the child still running: nullopt (the child is left
// to the caller, in *child).
std::optional<int> run_child(const char* path, const std::string& type, const std::string& blob,
                             int wait_ms, pid_t* child) {
  std::fflush(stdout);  // or the child prints what the parent has buffered
  std::fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGABRT, SIGTERM})
      signal(sig, SIG_DFL);  // not doctest's handlers (crash.c resets SIGSEGV's itself)
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) _exit(120);
    void* symbol = dlsym(h, BLK_MERGE_PLUGIN_ENTRY);
    blk_merge_plugin_entry_fn entry;
    std::memcpy(&entry, &symbol, sizeof entry);
    const blk_merge_plugin* p =
        entry(1, sizeof(blk_merge_input), sizeof(blk_merge_output), nullptr, 0);
    V a = version(type, "x"), b = version(type, blob, 2000, kMachineB);
    blk_version va = a.view(), vb = b.view();
    blk_merge_input in{sizeof in, &va, &vb, nullptr};
    Allocations allocations;
    blk_allocator alloc{&Allocations::alloc, &allocations};
    blk_merge_output out{sizeof out, nullptr, 0, 1};
    char err[64];
    p->merge(&in, &alloc, &out, err, sizeof err);
    _exit(121);
  }
  *child = pid;
  for (int waited = 0; waited <= wait_ms; waited += 10) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    usleep(10000);
  }
  return std::nullopt;
}

TEST_CASE("testing plugins: crash crashes, hang hangs") {
  pid_t pid = 0;
  // SIGSEGV, with the default action even under the sanitizers.
  auto status = run_child(BLK_TEST_PLUGIN_CRASH, "crash", "x", 10000, &pid);
  REQUIRE(status);
  CHECK(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGSEGV);
  status = run_child(BLK_TEST_PLUGIN_CRASH, "crash", "abort", 10000, &pid);
  REQUIRE(status);
  CHECK(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGABRT);
  status = run_child(BLK_TEST_PLUGIN_CRASH, "crash", "exit\n", 10000, &pid);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);

  // Still running after 300 ms; SIGTERM ends it...
  status = run_child(BLK_TEST_PLUGIN_HANG, "hang", "x", 300, &pid);
  CHECK(!status);
  kill(pid, SIGTERM);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGTERM);
  // ...unless it ignores SIGTERM: then only SIGKILL does.
  status = run_child(BLK_TEST_PLUGIN_HANG, "hang", "ignore-term", 300, &pid);
  CHECK(!status);
  kill(pid, SIGTERM);
  usleep(300000);
  CHECK(waitpid(pid, &st, WNOHANG) == 0);
  kill(pid, SIGKILL);
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGKILL);
}

}  // namespace
