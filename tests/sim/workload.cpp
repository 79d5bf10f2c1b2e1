#include "workload.hpp"

#include <fmt/format.h>

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
std::string Workload::blob_for(int m, const std::string& type) {
  Rng& rng = world_.rng();
  std::string tag = fmt::format("{}#{}", world_.machine(m).name, ++writes_);
  if (type == "json") {
    static const char* const kFields[] = {"a", "b", "c", "d"};
    std::string blob = "{";
    for (const char* f : kFields)
      if (rng.percent(50))
        blob += fmt::format("{}\"{}\":\"{}\"", blob.size() > 1 ? "," : "", f, tag);
    if (blob.size() == 1) blob += fmt::format("\"a\":\"{}\"", tag);
    return blob + "}";
  }
  if (type == "set") return fmt::format("[\"{}\"]", tag);
  std::string blob = tag + ":";
  std::int64_t extra = rng.percent(5) ? rng.skewed(1000, 20'000) : rng.skewed(0, 64);
  for (std::int64_t i = 0; i < extra; ++i) blob += static_cast<char>('a' + rng.below(26));
  return blob;
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
      op.blob = blob_for(m, op.type);
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
    std::string blob = blob_for(m, type);
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
