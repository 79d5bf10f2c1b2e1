// Who may talk to us, decided from the manifest during the handshake.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "blk/address.hpp"
#include "blk/error.hpp"
#include "blk/manifest.hpp"
#include "blk/wire/handshake.hpp"

namespace blk::net {

// Accepts any peer listed in `manifest` (which must outlive the result); if
// `expected` is given, only that peer (the one we meant to dial).
wire::AcceptPeer accept_from_manifest(const Manifest& manifest, const Peer* expected = nullptr);

// "phone" for a listed key, else the key in base64.
std::string peer_label(const Manifest& manifest, const PublicKey& key);

// What `ping` and `sync` dial: a peer's name in the manifest (its addresses
// tried in order, only its key accepted) or an address (any listed peer may
// answer).
struct Target {
  std::string text;
  const Peer* peer = nullptr;  // set when `text` names a manifest peer
  std::vector<Address> addresses;
};
// Code::usage if `text` is neither a peer nor an address, or the peer has
// no address to dial.
Result<Target> resolve_target(const Manifest& manifest, const std::string& text);

}  // namespace blk::net
