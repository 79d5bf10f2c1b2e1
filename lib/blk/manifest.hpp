// The manifest (STORE/manifest.toml, man 5 blk-manifest): this machine's
// name and listen addresses, and the peers it syncs with. People edit it by
// hand, so blk reads it strictly (anything it does not know is an error, not
// silently ignored) and edits it as text, keeping every byte it does not
// need to change.
//
//   [machine]
//   name = "laptop"
//   listen = ["tcp://0.0.0.0:7420"]
//   sync_priority = ["task", "note"]
//
//   [[peer]]
//   name = "phone"
//   key = "base64 ed25519 public key"
//   address = ["tcp://192.168.1.20:7420"]
//   role = "read-write"
//   user = "alice"                # whose machine it is (owner-only types)
//   write_types = ["task"]        # the only types it may write
//
//   [types]
//   owner_only = ["budget"]       # only the creating user's machines write these
#pragma once

#include <sodium.h>

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blk/address.hpp"
#include "blk/error.hpp"

namespace blk {

using PublicKey = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;

// What a peer may do to this machine. A read-only peer may read our blocks;
// what it sends us is not applied.
enum class Role { read_write, read_only };

struct Peer {
  std::string name;                // a valid name (validate_name), unique in the manifest
  PublicKey public_key{};          // unique in the manifest
  std::vector<Address> addresses;  // where to dial it; empty: it only dials us
  Role role = Role::read_write;
  std::string user;  // "" if not given
  // The block types it may write; std::nullopt: any type.
  std::optional<std::vector<std::string>> write_types;
  int line = 0;  // its [[peer]] header's line, for messages; 0 if unknown
};

struct Manifest {
  std::string machine_name;
  std::vector<Address> listen;  // tcp:// and ws:// only; port 0 = any free port
  // Block types sync sends first, in this order; other types follow.
  std::vector<std::string> sync_priority;
  std::string user;  // whose machine this is; "" if not given
  // Types whose blocks only machines of the user who created them may change.
  std::vector<std::string> owner_only;
  std::vector<Peer> peers;  // in file order
};

// Parses manifest text. Every error is Code::invalid_input with a message
// that starts with "PATH:LINE: " (PATH is `path_for_messages`) and names the
// table and field: `manifest.toml:7: peer "phone": key is not 32 bytes of
// base64`. Refused: TOML syntax errors; unknown tables and keys; a missing
// [machine] table, machine name, peer name or key; values of the wrong
// type; names that fail validate_name; peer addresses that fail
// parse_address, listen addresses that fail parse_listen_address (so only
// tcp:// and ws://, port 0 allowed); a peer named like the machine; two
// peers with the same name or the same key; keys that parse_public_key
// refuses; roles other than "read-write" and "read-only".
Result<Manifest> parse_manifest(std::string_view text, std::string_view path_for_messages);

// Reads and parses the file at `path` (which names it in messages).
// Code::failure if it cannot be read; else as parse_manifest.
Result<Manifest> load_manifest(const std::string& path);

// The peer named `name`, or the one with key `key`; nullptr if none. The
// pointer lives as long as `m` is unchanged. The handshake uses the key
// lookup to decide who is calling; `peer add` uses both to refuse doubles.
const Peer* find_peer(const Manifest& m, std::string_view name);
const Peer* find_peer_by_key(const Manifest& m, const PublicKey& key);

// Decodes a public key from standard padded base64 and checks that it can be
// a machine's key: exactly 32 bytes, a canonical ed25519 point that is not
// of small order, and one that converts to an X25519 key (the channel needs
// that). Code::usage; the message starts with "key ".
Result<PublicKey> parse_public_key(std::string_view base64);
std::string to_base64(const PublicKey& key);

// "read-write" or "read-only", as written in the manifest.
std::string_view to_string(Role role);

// Returns `text` with a [[peer]] table for `peer` appended at the end (after
// a blank line); every byte of `text` is kept. `text` must parse (else as
// parse_manifest). Code::usage if the manifest already has a peer of that
// name or key, or the name is the machine's own. The result is parsed
// again before it is returned, and must hold `peer` as given (else
// Code::failure: a bug, and nothing should be written).
Result<std::string> add_peer_to_text(std::string_view text, const Peer& peer,
                                     std::string_view path_for_messages);

// Returns `text` without the [[peer]] table of the peer named `name`: from
// its header line (and the comment lines directly above it, with no blank
// line between) up to the next table's header (less the comment lines
// directly above that header, which belong to it) or the end of the file.
// The blank line that separated the peer from its neighbours is kept once;
// every other byte of `text` is kept. Code::not_found if there is no such
// peer; Code::invalid_input if `text` does not parse or the peer is not
// written as a [[peer]] table (an inline table must be removed by hand).
Result<std::string> remove_peer_from_text(std::string_view text, std::string_view name,
                                          std::string_view path_for_messages);

// Reads the manifest at `path`, passes its text to `edit` and, if that
// returns different text, replaces the file with it atomically: a temporary
// file in the same directory, fsync, rename, fsync of the directory, so a
// crash leaves the old file or the new one, never a mix. The file's mode is
// kept; a symlink is followed and its target replaced. An exclusive lock on
// the directory is held throughout, so two edits at once cannot lose one.
// Errors: those of `edit` (and then nothing is written); Code::store_readonly
// if the directory cannot be written; Code::failure for other I/O errors.
Result<void> edit_manifest_file(const std::string& path,
                                const std::function<Result<std::string>(std::string_view)>& edit);

}  // namespace blk
