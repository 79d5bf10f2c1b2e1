// Who may talk to us, decided from the manifest during the handshake.
#pragma once

#include <optional>
#include <string>

#include "blk/manifest.hpp"
#include "blk/wire/handshake.hpp"

namespace blk::net {

// Accepts any peer listed in `manifest` (which must outlive the result); if
// `expected` is given, only that peer (the one we meant to dial).
wire::AcceptPeer accept_from_manifest(const Manifest& manifest, const Peer* expected = nullptr);

// "phone" for a listed key, else the key in base64.
std::string peer_label(const Manifest& manifest, const PublicKey& key);

}  // namespace blk::net
