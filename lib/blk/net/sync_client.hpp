// `blk sync`: dial a peer and sync with it, once or (watch) until stopped.
#pragma once

#include <functional>
#include <string>

#include "blk/error.hpp"
#include "blk/identity.hpp"
#include "blk/manifest.hpp"
#include "blk/net/peers.hpp"
#include "blk/store.hpp"
#include "blk/sync/session.hpp"
#include "blk/wire/channel.hpp"

namespace blk::net {

struct SyncResult {
  std::string peer;     // its manifest name
  std::string peer_id;  // its machine id
  std::string address;  // the address that answered
  sync::Stats stats;
  std::int64_t peer_has = 0;  // what the peer said it holds of ours
  double seconds = 0;
};

using SyncTarget = Target;  // peers.hpp

// Syncs once. On failure the error says which address failed and why.
// Received versions that were committed stay committed either way.
Result<SyncResult> sync_once(Store& store, const KeyPair& keys, const Manifest& manifest,
                             const SyncTarget& target, const sync::Options& options,
                             const wire::ChannelLimits& limits);

// Watch mode: syncs with every target at once and keeps each connection
// open, streaming commits both ways; a dropped connection is redialled
// with backoff. `report` is called after each connection ends. Returns on
// SIGINT or SIGTERM.
using SyncReport = std::function<void(const SyncTarget&, const Result<SyncResult>&)>;
Result<void> sync_watch(Store& store, const KeyPair& keys, const Manifest& manifest,
                        const std::vector<SyncTarget>& targets, const sync::Options& options,
                        const wire::ChannelLimits& limits, const SyncReport& report);

}  // namespace blk::net
