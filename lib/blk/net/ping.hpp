// `blk ping`: dial a peer, authenticate both ways, exchange one ping, end
// cleanly. The first check that a peer is set up right.
#pragma once

#include <string>

#include "blk/error.hpp"
#include "blk/identity.hpp"
#include "blk/manifest.hpp"
#include "blk/wire/channel.hpp"

namespace blk::net {

struct PingResult {
  std::string peer;  // its manifest name
  PublicKey key{};
  std::string address;  // the address that answered
  std::uint16_t version = 0;
  double rtt_ms = 0;  // the ping's round trip, after the handshake
};

// `target` is a peer's name in the manifest (its addresses are tried in
// order; only its key is accepted) or an address (any listed peer may
// answer). Code::usage if it is neither; Code::failure if no address
// answered, with the last address's error.
Result<PingResult> ping(const KeyPair& keys, const Manifest& manifest, const std::string& target,
                        const wire::ChannelLimits& limits);

}  // namespace blk::net
