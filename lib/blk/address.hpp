// Where a peer can be reached, or where this machine listens: the address
// strings of the manifest and of `blk peer add`.
//
//   tcp://HOST:PORT                       a TCP connection
//   ws://HOST:PORT[/PATH]                 a WebSocket (PATH defaults to "/")
//   exec:COMMAND                          run COMMAND with sh, talk over its stdin/stdout
//   ssh://[USER@]HOST[:PORT][/STORE]      shorthand for `ssh HOST blk serve --stdio`
//
// HOST is a host name, an IPv4 address or an IPv6 address in brackets
// ([::1], [fe80::1%eth0]). PORT is 1-65535 (0 too, in a listen address).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk {

struct Address {
  enum class Kind { tcp, ws, exec, ssh };

  Kind kind = Kind::tcp;
  std::string host;        // tcp, ws, ssh; an IPv6 address without its brackets
  std::uint16_t port = 0;  // tcp, ws: 1-65535 (listen: 0 = any); ssh: 0 = ssh's default
  std::string path;        // ws: starts with '/'
  std::string command;     // exec: the shell command, never empty
  std::string user;        // ssh: empty when not given
  std::string store;       // ssh: an absolute path on the remote; empty = its default store

  bool operator==(const Address&) const = default;
};

// Parses one address. Nothing is resolved or connected: this is syntax only.
// A host or user may not start with '-' (it would reach ssh as an option),
// and no part may hold a control character (addresses are printed one per
// line). Code::usage on error, with a one-line message that quotes `text`,
// says what is wrong and lists the forms.
Result<Address> parse_address(std::string_view text);

// As parse_address, for where this machine listens: only tcp:// and ws://,
// and port 0 is allowed (the system picks a free port; tests use that).
Result<Address> parse_listen_address(std::string_view text);

// The canonical text of `a`; parse_address(to_string(a)) == a.
std::string to_string(const Address& a);

}  // namespace blk
