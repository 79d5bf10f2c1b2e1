// Fuzz target: the manifest, blk::parse_manifest (and, on what parses, the
// text edits `blk peer add` and `blk peer rm` make: add_peer_to_text,
// remove_peer_from_text). The input is the text of manifest.toml.
//
// Invariants (manifest.hpp's contracts):
// - Every refusal is Code::invalid_input and starts with "PATH:LINE: ".
// - What parses holds valid names, a machine name no peer has, unique peer
//   names and keys, keys parse_public_key accepts, listen addresses that
//   are tcp:// or ws://, and addresses that survive
//   parse_address(to_string(a)) == a.
// - Written back canonically (as `blk init` and `peer add` write), it
//   parses to the same manifest.
// - add_peer_to_text with a new name and key succeeds, keeps every byte of
//   the text as a prefix, and parses to the manifest plus that peer; and
//   remove_peer_from_text of that peer gives the manifest back.
// - remove_peer_from_text of any peer gives the manifest without it (the
//   others unchanged, in order), or Code::invalid_input for a peer not
//   written as a [[peer]] table. Neither edit ever reports its own
//   "internal" failure (Code::failure): that is a bug by its contract.
#include <cctype>

#include "blk/block.hpp"
#include "blk/manifest.hpp"
#include "fuzz_common.hpp"

using namespace blk;

namespace {

constexpr std::string_view kPath = "fuzz.toml";

bool has_line_prefix(const std::string& msg) {
  if (msg.compare(0, kPath.size() + 1, std::string(kPath) + ":") != 0) return false;
  std::size_t i = kPath.size() + 1, digits = 0;
  while (i < msg.size() && std::isdigit(static_cast<unsigned char>(msg[i]))) ++i, ++digits;
  return digits > 0 && msg.compare(i, 2, ": ") == 0;
}

std::string toml_string(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string toml_addresses(const std::vector<Address>& as) {
  std::string out = "[";
  for (std::size_t i = 0; i < as.size(); ++i)
    out += (i ? ", " : "") + toml_string(to_string(as[i]));
  return out + "]";
}

std::string canonical(const Manifest& m) {
  std::string out = "[machine]\nname = " + toml_string(m.machine_name) +
                    "\nlisten = " + toml_addresses(m.listen) + "\n";
  for (const Peer& p : m.peers)
    out += "\n[[peer]]\nname = " + toml_string(p.name) +
           "\nkey = " + toml_string(to_base64(p.public_key)) +
           "\naddress = " + toml_addresses(p.addresses) +
           "\nrole = " + toml_string(to_string(p.role)) + "\n";
  return out;
}

bool same_peer(const Peer& a, const Peer& b) {
  return a.name == b.name && a.public_key == b.public_key && a.addresses == b.addresses &&
         a.role == b.role;
}

bool same(const Manifest& a, const Manifest& b) {
  if (a.machine_name != b.machine_name || a.listen != b.listen || a.peers.size() != b.peers.size())
    return false;
  for (std::size_t i = 0; i < a.peers.size(); ++i)
    if (!same_peer(a.peers[i], b.peers[i])) return false;
  return true;
}

void check_valid(const Manifest& m) {
  FUZZ_CHECK(validate_name("name", m.machine_name), "bad machine name accepted");
  for (const Address& a : m.listen) {
    FUZZ_CHECK(a.kind == Address::Kind::tcp || a.kind == Address::Kind::ws,
               "a listen address that is not tcp or ws: %s", to_string(a).c_str());
    auto again = parse_listen_address(to_string(a));
    FUZZ_CHECK(again && *again == a, "listen address does not round-trip: %s",
               to_string(a).c_str());
  }
  for (std::size_t i = 0; i < m.peers.size(); ++i) {
    const Peer& p = m.peers[i];
    FUZZ_CHECK(validate_name("name", p.name), "bad peer name accepted");
    FUZZ_CHECK(p.name != m.machine_name, "a peer named like the machine");
    FUZZ_CHECK(p.line >= 1, "peer at line %d", p.line);
    auto key = parse_public_key(to_base64(p.public_key));
    FUZZ_CHECK(key && *key == p.public_key, "a key parse_public_key refuses");
    for (const Address& a : p.addresses) {
      auto again = parse_address(to_string(a));
      FUZZ_CHECK(again && *again == a, "address does not round-trip: %s", to_string(a).c_str());
    }
    for (std::size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(m.peers[j].name != p.name, "two peers named %s", p.name.c_str());
      FUZZ_CHECK(m.peers[j].public_key != p.public_key, "two peers with one key");
    }
  }
}

// A peer the manifest does not have: its name and key are not in it.
Peer new_peer(const Manifest& m) {
  Peer p;
  p.name = "fuzz-new-peer";
  while (find_peer(m, p.name) || p.name == m.machine_name) p.name += "x";
  for (unsigned char fill = 0x60;; ++fill) {
    p.public_key = fuzz::keypair_from_seed(fill).public_key;
    if (!find_peer_by_key(m, p.public_key)) break;
  }
  p.addresses.push_back(*parse_address("tcp://192.0.2.1:7420"));
  p.role = Role::read_only;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = parse_manifest(text, kPath);
  if (!m) {
    FUZZ_CHECK(m.error().code == Code::invalid_input, "error code %d: %s",
               static_cast<int>(m.error().code), m.error().message.c_str());
    FUZZ_CHECK(has_line_prefix(m.error().message), "error without \"%s:LINE: \": %s",
               std::string(kPath).c_str(), m.error().message.c_str());
    return 0;
  }
  check_valid(*m);

  std::string canon = canonical(*m);
  auto again = parse_manifest(canon, kPath);
  FUZZ_CHECK(again, "the canonical text does not parse: %s\n%s", again.error().message.c_str(),
             canon.c_str());
  FUZZ_CHECK(same(*m, *again), "the canonical text parses differently:\n%s", canon.c_str());

  Peer p = new_peer(*m);
  auto added = add_peer_to_text(text, p, kPath);
  FUZZ_CHECK(added, "peer add failed (code %d): %s", static_cast<int>(added.error().code),
             added.error().message.c_str());
  FUZZ_CHECK(added->compare(0, text.size(), text) == 0, "peer add changed the existing text");
  auto with = parse_manifest(*added, kPath);
  FUZZ_CHECK(with, "after peer add: %s", with.error().message.c_str());
  Manifest want = *m;
  want.peers.push_back(p);
  FUZZ_CHECK(same(*with, want), "peer add gave a different manifest");
  auto removed = remove_peer_from_text(*added, p.name, kPath);
  FUZZ_CHECK(removed, "removing the added peer failed (code %d): %s",
             static_cast<int>(removed.error().code), removed.error().message.c_str());
  auto back = parse_manifest(*removed, kPath);
  FUZZ_CHECK(back && same(*back, *m), "add then remove did not give the manifest back");

  for (std::size_t i = 0; i < m->peers.size() && i < 4; ++i) {
    auto out = remove_peer_from_text(text, m->peers[i].name, kPath);
    if (!out) {
      FUZZ_CHECK(out.error().code == Code::invalid_input, "peer rm %s failed (code %d): %s",
                 m->peers[i].name.c_str(), static_cast<int>(out.error().code),
                 out.error().message.c_str());
      continue;
    }
    auto less = parse_manifest(*out, kPath);
    FUZZ_CHECK(less, "after peer rm %s: %s", m->peers[i].name.c_str(),
               less.error().message.c_str());
    Manifest expect = *m;
    expect.peers.erase(expect.peers.begin() + static_cast<std::ptrdiff_t>(i));
    FUZZ_CHECK(same(*less, expect), "peer rm %s changed something else", m->peers[i].name.c_str());
  }
  return 0;
}
