#include "workload.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "checks.hpp"
#include "trace.hpp"
#include "world.hpp"

namespace blk::sim {
namespace {
// Merged last-write-wins; a block may change between these.
const std::vector<std::string> kTypes = {"note", "task", "photo"};

// One id in five is json, merged field by field by the example json_fields
// plugin, and one in five a set, merged by set_union. Neither is ever
// deleted or changes type: a plugin merge and last-write-wins (which
// settles a delete, or a type change, against an edit) do not commute. A
// live version merged by the plugin before it meets a concurrent delete
// keeps content that the delete removes when it comes first (seeds 3908,
// 5526, 7085 needed a second round; seed 1413 for a type change).
// README.md, The bound.
bool merged_by_plugin(const std::string& id) {
  return std::stoi(id.substr(1)) % 5 >= 3;
}

std::string type_for(const std::string& id, Rng& rng) {
  int n = std::stoi(id.substr(1));
  if (n % 5 == 3) return "json";
  if (n % 5 == 4) return "set";
  return rng.pick(kTypes);
}
}  // namespace

Workload::Workload(World& world, int ids) : world_(world) {
  for (int i = 0; i < ids; ++i) ids_.push_back(fmt::format("b{}", i));
}

// Unique per write, so a blob tells which write it came from: its tag,
// MACHINE#N. A json or set blob holds its tag as a value, so a merged blob
// still tells which writes it came from (check_no_phantoms).
//
// A json or set write is an app's edit; a json one, as plugins/json_fields/README.md asks of
// one: the object read (current, if it is live json), some fields set to
// the tag, one now and then to null (deleted), every other member kept as
// it was, "_blk_stamps" included. An app that dropped fields instead would
// make its write forget what the version it replaces knew, and merges
// would depend on which versions a machine happened to see (seed 25).
std::string Workload::blob_for(int m, const std::string& type,
                               const std::optional<Block>& current) {
  Rng& rng = world_.rng();
  std::string tag = fmt::format("{}#{}", world_.machine(m).name, ++writes_);
  if (type == "json") return json_edit(current, tag);
  if (type == "set") return set_add(current, tag);
  std::string blob = tag + ":";
  std::int64_t extra = rng.percent(5) ? rng.skewed(1000, 20'000) : rng.skewed(0, 64);
  for (std::int64_t i = 0; i < extra; ++i) blob += static_cast<char>('a' + rng.below(26));
  return blob;
}

// A set write adds the tag to the set read (a grow-only set never loses an
// element; writing ["tag"] over it would, on this machine only: seed 3212).
std::string Workload::set_add(const std::optional<Block>& current, const std::string& tag) {
  rapidjson::Document doc;
  if (current && !current->deleted() && current->type == "set")
    doc.Parse(current->blob.data(), current->blob.size());
  if (doc.HasParseError() || !doc.IsArray()) doc.SetArray();
  doc.PushBack(rapidjson::Value(tag.data(), static_cast<rapidjson::SizeType>(tag.size()),
                                doc.GetAllocator()),
               doc.GetAllocator());
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return {out.GetString(), out.GetSize()};
}

std::string Workload::json_edit(const std::optional<Block>& current, const std::string& tag) {
  Rng& rng = world_.rng();
  rapidjson::Document doc;
  if (current && !current->deleted() && current->type == "json")
    doc.Parse(current->blob.data(), current->blob.size());
  if (doc.HasParseError() || !doc.IsObject()) doc.SetObject();
  auto& alloc = doc.GetAllocator();
  static const char* const kFields[] = {"a", "b", "c", "d"};
  bool tagged = false;
  for (const char* f : kFields) {
    if (!rng.percent(50)) continue;
    rapidjson::Value value;
    if (rng.percent(15)) {
      value.SetNull();
    } else {
      value.SetString(tag.data(), static_cast<rapidjson::SizeType>(tag.size()), alloc);
      tagged = true;
    }
    if (auto it = doc.FindMember(f); it != doc.MemberEnd())
      it->value = value;
    else
      doc.AddMember(rapidjson::StringRef(f), value, alloc);
  }
  if (!tagged) {
    rapidjson::Value value(tag.data(), static_cast<rapidjson::SizeType>(tag.size()), alloc);
    if (auto it = doc.FindMember("a"); it != doc.MemberEnd())
      it->value = value;
    else
      doc.AddMember("a", value, alloc);
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return {out.GetString(), out.GetSize()};
}

void Workload::transaction(int m) {
  Machine& mach = world_.machine(m);
  if (!mach.up()) return;
  Rng& rng = world_.rng();
  std::vector<Op> ops;
  auto n = rng.range(1, 3);
  for (std::int64_t i = 0; i < n; ++i) {
    Op op;
    op.id = rng.pick(ids_);
    auto local = mach.store->get(op.id);
    if (!local) return world_.fail(fmt::format("{} get: {}", mach.name, local.error().message));
    bool live = *local && !(*local)->deleted();
    if (live && rng.percent(25) && !merged_by_plugin(op.id)) {
      op.remove = true;
    } else {
      op.type = live && rng.percent(70) ? (*local)->type : type_for(op.id, rng);
      op.blob = blob_for(m, op.type, *local);
    }
    ops.push_back(std::move(op));
  }
  run(m, std::move(ops), rng.percent(4));
}

void Workload::conflict(const std::vector<int>& machines) {
  std::string id = world_.rng().pick(ids_);
  for (int m : machines) {
    if (!world_.machine(m).up()) continue;
    std::string type = type_for(id, world_.rng());
    auto local = world_.machine(m).store->get(id);
    if (!local) return world_.fail(fmt::format("get: {}", local.error().message));
    std::string blob = blob_for(m, type, *local);
    run(m, {Op{false, id, std::move(type), std::move(blob)}}, false);
  }
}

void Workload::run(int m, std::vector<Op> ops, bool abandon) {
  Machine& mach = world_.machine(m);
  auto fail = [&](std::string_view what, const Error& e) {
    world_.fail(fmt::format("{} {}: {}", mach.name, what, e.message));
  };
  auto tx = mach.store->begin();
  if (!tx) return fail("begin", tx.error());
  std::vector<std::string> touched;
  std::string what;
  for (auto& op : ops) {
    if (op.remove) {
      // A remove of a block deleted earlier in this transaction is a no-op.
      if (auto r = (*tx)->remove(op.id); !r) return fail("remove", r.error());
      what += fmt::format(" rm {}", op.id);
    } else {
      what += fmt::format(" put {} {} {}B", op.id, op.type, op.blob.size());
      BlockWrite w;
      w.id = op.id;
      w.type = op.type;
      w.blob = std::move(op.blob);
      if (auto r = (*tx)->put(std::move(w)); !r) return fail("put", r.error());
    }
    if (std::find(touched.begin(), touched.end(), op.id) == touched.end()) touched.push_back(op.id);
  }
  if (abandon) {
    tx->reset();  // rolled back: never acknowledged, must never appear
    world_.log(mach.name, fmt::format("abandoned:{}", what));
    return;
  }
  if (auto r = (*tx)->commit(); !r) return fail("commit", r.error());
  what += " ->";
  for (const auto& id : touched) {
    auto b = mach.store->get(id);
    if (!b || !*b)
      return world_.fail(fmt::format("{}: {} missing after its commit", mach.name, id));
    what +=
        fmt::format(" {}={}{}", id, short_hash((*b)->version_hash), (*b)->deleted() ? "(rm)" : "");
    if (!(*b)->deleted())
      for (auto& tag : tags_in((*b)->blob)) acked_tags_.insert(std::move(tag));
    acked_.push_back(AckedWrite{m, world_.clock(), std::move(**b)});
  }
  world_.log(mach.name, fmt::format("commit:{}", what));
}

}  // namespace blk::sim
