#include "blk/permissions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "blk/identity.hpp"

namespace blk {
namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

WritePolicy::WritePolicy(const Manifest& m, std::string self) : owner_only_(m.owner_only) {
  writers_[self] = Writer{m.machine_name, false, false, std::nullopt, m.user};
  restricts_ = !owner_only_.empty();
  for (const Peer& p : m.peers) {
    std::string id = machine_id_for(
        std::string_view(reinterpret_cast<const char*>(p.public_key.data()), p.public_key.size()));
    writers_[id] = Writer{p.name, true, p.role == Role::read_only, p.write_types, p.user};
    restricts_ |= p.role == Role::read_only || p.write_types.has_value();
  }
}

const WritePolicy::Writer* WritePolicy::writer(const std::string& machine_id) const {
  auto it = writers_.find(machine_id);
  return it == writers_.end() ? nullptr : &it->second;
}

std::string WritePolicy::refusal(const Block& v) const {
  if (!restricts_) return {};
  const Writer* w = writer(v.modified_by);
  if (w && w->is_peer) {
    if (w->read_only) return fmt::format("peer '{}' is read-only", w->name);
    if (w->write_types && !contains(*w->write_types, v.type))
      return fmt::format("peer '{}' may not write type '{}'", w->name, v.type);
  }
  if (!contains(owner_only_, v.type)) return {};
  // Owner-only: every machine that ever wrote this block belongs to the
  // writer's user.
  if (!w || w->user.empty())
    return fmt::format("type '{}' is owner-only and its writer has no user in the manifest",
                       v.type);
  for (const auto& [machine, counter] : v.versions) {
    const Writer* other = writer(machine);
    if (!other || other->user != w->user)
      return fmt::format("type '{}' is owner-only and block '{}' belongs to {}", v.type, v.id,
                         other && !other->user.empty()
                             ? fmt::format("user '{}'", other->user)
                             : std::string("a machine not in the manifest"));
  }
  return {};
}

}  // namespace blk

namespace blk {

void apply_write_policy(Store& store, const Manifest& m, const std::string& self) {
  auto policy = std::make_shared<WritePolicy>(m, self);
  if (!policy->restricts()) {
    store.set_write_check(nullptr);
    return;
  }
  store.set_write_check([policy](const Block& v) { return policy->refusal(v); });
}

}  // namespace blk
