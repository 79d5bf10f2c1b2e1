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

Result<Target> resolve_target(const Manifest& manifest, const std::string& text) {
  Target t;
  t.text = text;
  t.peer = find_peer(manifest, text);
  if (t.peer) {
    t.addresses = t.peer->addresses;
    if (t.addresses.empty())
      return make_error(Code::usage,
                        fmt::format("peer '{}' has no address to dial in the manifest", text));
    return t;
  }
  auto a = parse_address(text);
  if (!a)
    return make_error(Code::usage, fmt::format("'{}' is neither a peer in the manifest nor an "
                                               "address ({})",
                                               text, a.error().message));
  t.addresses.push_back(*a);
  return t;
}

}  // namespace blk::net
