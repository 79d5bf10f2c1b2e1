#include "machine.hpp"

#include <fmt/format.h>

#include "blk/encoding.hpp"
#include "blk/plugins/host.hpp"
#include "blk/sqlite_store.hpp"

namespace blk::sim {
namespace {

std::string random_bytes(Rng& rng, std::size_t n) {
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng.unscheduled_below(256));
  return out;
}

}  // namespace

Result<void> create_machine(Machine& m, int index, const std::string& dir, Rng& rng, Millis skew,
                            const Millis* now) {
  m.index = index;
  m.name = fmt::format("m{}", index);
  std::string seed = random_bytes(rng, crypto_sign_SEEDBYTES);
  crypto_sign_seed_keypair(m.keys.public_key.data(), m.keys.secret_key.data(),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  std::string pk(reinterpret_cast<const char*>(m.keys.public_key.data()), m.keys.public_key.size());
  m.id = machine_id_for(pk);
  m.epoch = hex_encode(random_bytes(rng, 16));
  m.skew = skew;
  m.path = fmt::format("{}/{}.db", dir, m.name);
  BLK_TRY(create_sqlite_store(m.path, StoreIdentity{m.id, base64_encode(pk), m.epoch}));
  return start_machine(m, now);
}

// The example plugins (plugins/), loaded into the simulator itself: json
// merged field by field, set by union. Real plugin code, and no worker
// process, so a run stays deterministic and fast.
// Built without them (the fuzz build of the simulator), everything merges
// last-write-wins.
static std::shared_ptr<Merger> example_plugins() {
#ifndef BLK_SIM_PLUGIN_DIR
  return nullptr;
#else
  std::vector<PluginRecord> records = {
      {"json_fields", "json_fields.so", {{"json", 1}}, true, 0, ""},
      {"set_union", "set_union.so", {{"set", 1}}, true, 0, ""},
  };
  return std::make_shared<plugins::PluginHost>(std::move(records), BLK_SIM_PLUGIN_DIR,
                                               plugins::HostOptions{});
#endif
}

Result<void> start_machine(Machine& m, const Millis* now) {
  auto store = open_sqlite_store(m.path);
  if (!store) return std::move(store).error();
  m.store = std::move(*store);
  Millis skew = m.skew;
  m.store->set_clock([now, skew] { return *now + skew; });
  m.store->set_merger(example_plugins());
  return {};
}

void crash_machine(Machine& m) {
  m.store.reset();
  ++m.crashes;
}

}  // namespace blk::sim
