#include "checks.hpp"

#include <fmt/format.h>

#include <cctype>
#include <map>

#include "blk/merge.hpp"
#include "trace.hpp"

namespace blk::sim {

Result<std::vector<Block>> all_blocks(Store& store) {
  std::vector<Block> out;
  ScanFilter f;
  f.include_deleted = true;
  BLK_TRY(store.scan(f, [&](const Block& b) {
    out.push_back(b);
    return true;
  }));
  return out;
}

std::string versions_text(const VersionVector& vv, const std::vector<Machine>& machines) {
  std::string out = "{";
  for (const auto& [id, counter] : vv) {
    std::string name = id.substr(0, 6);
    for (const auto& m : machines)
      if (m.id == id) name = m.name;
    out += fmt::format("{}{}:{}", out.size() > 1 ? "," : "", name, counter);
  }
  return out + "}";
}

std::string version_text(const Block& b, const std::vector<Machine>& machines) {
  std::string by = b.modified_by.substr(0, 6);
  for (const auto& m : machines)
    if (m.id == b.modified_by) by = m.name;
  return fmt::format("{} h={} {} by {} at {}{} blob={:.400}", b.id, short_hash(b.version_hash),
                     versions_text(b.versions, machines), by, b.modified_at,
                     b.deleted() ? " (deleted)" : "", b.blob);
}

std::optional<std::string> check_converged(std::vector<Machine>& machines) {
  std::vector<std::vector<Block>> all;
  for (auto& m : machines) {
    auto blocks = all_blocks(*m.store);
    if (!blocks) return fmt::format("{}: scan failed: {}", m.name, blocks.error().message);
    all.push_back(std::move(*blocks));
  }
  for (std::size_t i = 1; i < all.size(); ++i) {
    const auto &a = all[0], &b = all[i];
    std::size_t n = std::max(a.size(), b.size());
    for (std::size_t k = 0; k < n; ++k) {
      const Block* x = k < a.size() ? &a[k] : nullptr;
      const Block* y = k < b.size() ? &b[k] : nullptr;
      if (x && y && x->id == y->id && x->version_hash == y->version_hash && x->blob == y->blob &&
          x->deleted() == y->deleted())
        continue;
      auto show = [&](const Block* v) { return v ? version_text(*v, machines) : "nothing"; };
      // Report the smaller id first: that is the one the other lacks or differs on.
      if (x && y && x->id != y->id) {
        if (x->id < y->id)
          y = nullptr;
        else
          x = nullptr;
      }
      return fmt::format("diverged: {} holds {}; {} holds {}", machines[0].name, show(x),
                         machines[i].name, show(y));
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_acknowledged(std::vector<Machine>& machines,
                                              const std::vector<AckedWrite>& acked) {
  for (auto& m : machines) {
    std::map<std::string, Block> current;
    auto blocks = all_blocks(*m.store);
    if (!blocks) return fmt::format("{}: scan failed: {}", m.name, blocks.error().message);
    for (auto& b : *blocks) current.emplace(b.id, std::move(b));
    for (const auto& w : acked) {
      const Block& v = w.version;
      auto it = current.find(v.id);
      if (it == current.end())
        return fmt::format("lost write: {} acknowledged at {} {}; {} holds nothing",
                           machines[static_cast<std::size_t>(w.machine)].name, w.at,
                           version_text(v, machines), m.name);
      const Block& f = it->second;
      if (f.version_hash == v.version_hash) continue;
      auto c = compare_versions(f.versions, v.versions);
      if (c == Causality::after || c == Causality::equal) continue;
      return fmt::format("lost write: {} acknowledged at {} {}; {} holds {}",
                         machines[static_cast<std::size_t>(w.machine)].name, w.at,
                         version_text(v, machines), m.name, version_text(f, machines));
    }
  }
  return std::nullopt;
}

std::vector<std::string> tags_in(std::string_view blob) {
  // MACHINE#N, as Workload::blob_for writes it: 'm', digits, '#', digits.
  std::vector<std::string> out;
  for (std::size_t i = 0; i < blob.size(); ++i) {
    if (blob[i] != 'm') continue;
    std::size_t j = i + 1;
    while (j < blob.size() && std::isdigit(static_cast<unsigned char>(blob[j]))) ++j;
    if (j == i + 1 || j >= blob.size() || blob[j] != '#') continue;
    std::size_t k = j + 1;
    while (k < blob.size() && std::isdigit(static_cast<unsigned char>(blob[k]))) ++k;
    if (k == j + 1) continue;
    out.emplace_back(blob.substr(i, k - i));
    i = k - 1;
  }
  return out;
}

std::optional<std::string> check_no_phantoms(std::vector<Machine>& machines,
                                             const std::set<std::string>& acked_tags) {
  for (auto& m : machines) {
    auto blocks = all_blocks(*m.store);
    if (!blocks) return fmt::format("{}: scan failed: {}", m.name, blocks.error().message);
    for (const auto& b : *blocks) {
      if (b.deleted()) continue;
      auto tags = tags_in(b.blob);
      bool known = !tags.empty();
      for (const auto& t : tags) known = known && acked_tags.contains(t);
      if (!known)
        return fmt::format("phantom: {} holds {}, a blob not made of acknowledged writes", m.name,
                           version_text(b, machines));
    }
  }
  return std::nullopt;
}

}  // namespace blk::sim
