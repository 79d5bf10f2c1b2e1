// `blk serve`: answers peers on the manifest's (or given) listen addresses,
// many at once, or one over stdin/stdout. Logs one line per connection
// event and stops cleanly on SIGINT or SIGTERM.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "blk/address.hpp"
#include "blk/error.hpp"
#include "blk/identity.hpp"
#include "blk/manifest.hpp"
#include "blk/net/conversations.hpp"
#include "blk/wire/channel.hpp"

namespace blk::net {

struct ServerConfig {
  KeyPair keys;
  Manifest manifest;
  // If set, the manifest is read again from this file when it has changed
  // (checked at each new connection), so `blk peer add` needs no restart. A
  // file that no longer parses is logged and the last good one kept.
  std::string manifest_path;
  std::vector<Address> listen;  // tcp:// and ws://; ignored with stdio
  bool stdio = false;           // serve one peer over stdin/stdout, then return
  wire::ChannelLimits limits;
  // Opens the store when a peer starts a sync (one per connection).
  StoreOpener open_store;
  // Connections still in their handshake beyond this are closed at once,
  // so unauthenticated clients cannot pile up.
  std::size_t max_handshaking = 64;
  // One line per event (no newline); `blk serve` prints them on stderr.
  std::function<void(const std::string&)> log;
  // Called once listening, with the bound addresses (ports chosen if 0).
  std::function<void(const std::vector<std::string>&)> on_listening;
};

// Runs until a signal (ok), or with stdio until the one peer is done (its
// result). Errors: Code::failure for an address it cannot listen on (in
// use, not local), Code::usage when there is nothing to listen on.
Result<void> serve(const ServerConfig& config);

}  // namespace blk::net
