#include "blk/net/peers.hpp"

#include <fmt/format.h>

namespace blk::net {

wire::AcceptPeer accept_from_manifest(const Manifest& manifest, const Peer* expected) {
  return [&manifest, expected](const PublicKey& key) -> Result<void> {
    if (expected && key != expected->public_key)
      return make_error(
          Code::failure,
          fmt::format("handshake failed: the peer has key {}, not {}'s key {}", to_base64(key),
                      expected->name, to_base64(expected->public_key)));
    if (!find_peer_by_key(manifest, key))
      return make_error(
          Code::failure,
          fmt::format("handshake failed: key {} is not in the manifest", to_base64(key)));
    return {};
  };
}

std::string peer_label(const Manifest& manifest, const PublicKey& key) {
  const Peer* p = find_peer_by_key(manifest, key);
  return p ? p->name : to_base64(key);
}

}  // namespace blk::net
