// The manifest, addresses and the secret key file: parsing, the errors a
// person sees (with their line numbers), and text edits that keep the rest.
#include "blk/manifest.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "blk/address.hpp"
#include "blk/encoding.hpp"
#include "blk/identity.hpp"
#include "blk/secret_key.hpp"
#include "temp_dir.hpp"

using namespace blk;

namespace {

std::string fresh_key() {
  KeyPair k = generate_keypair();
  return base64_encode(
      std::string_view(reinterpret_cast<const char*>(k.public_key.data()), k.public_key.size()));
}

const std::string kKeyA = fresh_key();
const std::string kKeyB = fresh_key();

std::string machine(std::string rest = "") {
  return "[machine]\nname = \"laptop\"\nlisten = [\"tcp://0.0.0.0:7420\"]\n" + rest;
}

std::string peer(const std::string& name, const std::string& key, std::string extra = "") {
  return "\n[[peer]]\nname = \"" + name + "\"\nkey = \"" + key + "\"\n" + extra;
}

// The error message of parsing `text`, which must fail with invalid_input.
std::string parse_error(const std::string& text) {
  auto m = parse_manifest(text, "m.toml");
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code == Code::invalid_input);
  return m.error().message;
}

std::string address_error(std::string_view text) {
  auto a = parse_address(text);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == Code::usage);
  return a.error().message;
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::string key_of(const unsigned char (&bytes)[32]) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes), 32));
}

}  // namespace

TEST_CASE("addresses: every form parses and prints back canonically") {
  struct Case {
    const char* text;
    const char* canonical;
  };
  for (Case c : {Case{"tcp://example.org:7420", "tcp://example.org:7420"},
                 Case{"tcp://192.168.1.20:1", "tcp://192.168.1.20:1"},
                 Case{"tcp://[::1]:65535", "tcp://[::1]:65535"},
                 Case{"tcp://[fe80::1%eth0]:7420", "tcp://[fe80::1%eth0]:7420"},
                 Case{"ws://relay.example:443/blk", "ws://relay.example:443/blk"},
                 Case{"ws://h:7421", "ws://h:7421/"},
                 Case{"exec:ssh laptop blk serve --stdio", "exec:ssh laptop blk serve --stdio"},
                 Case{"ssh://laptop", "ssh://laptop"},
                 Case{"ssh://me@laptop:2222/srv/blk", "ssh://me@laptop:2222/srv/blk"},
                 Case{"ssh://laptop/", "ssh://laptop"}, Case{"ssh://[::1]/x", "ssh://[::1]/x"}}) {
    CAPTURE(c.text);
    auto a = parse_address(c.text);
    REQUIRE(a.ok());
    CHECK(to_string(*a) == c.canonical);
    auto again = parse_address(to_string(*a));
    REQUIRE(again.ok());
    CHECK(*again == *a);
  }
  auto a = parse_address("ssh://me@laptop:2222/srv/blk");
  REQUIRE(a.ok());
  CHECK(a->kind == Address::Kind::ssh);
  CHECK(a->user == "me");
  CHECK(a->host == "laptop");
  CHECK(a->port == 2222);
  CHECK(a->store == "/srv/blk");
  auto v6 = parse_address("tcp://[2001:db8::7]:7420");
  REQUIRE(v6.ok());
  CHECK(v6->host == "2001:db8::7");
  auto ws = parse_address("ws://h:1");
  REQUIRE(ws.ok());
  CHECK(ws->path == "/");
  auto exec = parse_address("exec:socat - TCP:h:7420");
  REQUIRE(exec.ok());
  CHECK(exec->command == "socat - TCP:h:7420");
}

TEST_CASE("addresses: bad ones are refused with a one-line reason and the forms") {
  std::string m = address_error("tcp://x");
  CHECK(m ==
        "'tcp://x' is not an address: missing :PORT (forms: tcp://HOST:PORT, "
        "ws://HOST:PORT/PATH, exec:COMMAND, ssh://[USER@]HOST[:PORT][/STORE])");
  CHECK(contains(address_error("tcp://h:0"), "port 0 is out of range (1-65535)"));
  CHECK(contains(address_error("tcp://h:65536"), "port 65536 is out of range (1-65535)"));
  // Listening, port 0 asks for any free port; only tcp and ws can listen.
  auto any = parse_listen_address("tcp://127.0.0.1:0");
  REQUIRE(any.ok());
  CHECK(any->port == 0);
  CHECK(to_string(*any) == "tcp://127.0.0.1:0");
  CHECK(parse_listen_address("ws://[::]:0/blk").ok());
  CHECK(contains(parse_listen_address("tcp://h:65536").error().message, "out of range"));
  CHECK(contains(parse_listen_address("ssh://h").error().message, "can be listened on"));
  CHECK(contains(parse_listen_address("exec:cat").error().message, "can be listened on"));
  CHECK(contains(address_error("tcp://h:99999999999999999999"), "out of range"));
  CHECK(contains(address_error("tcp://h:http"), "port 'http' is not a number"));
  CHECK(contains(address_error("tcp://h:"), "missing PORT"));
  CHECK(contains(address_error("tcp://:7420"), "missing HOST"));
  CHECK(contains(address_error("tcp://"), "missing HOST"));
  CHECK(contains(address_error("ssh://"), "missing HOST"));
  CHECK(contains(address_error("tcp://[::1:7420"), "'[' without a closing ']'"));
  CHECK(contains(address_error("tcp://::1:7420"), "must be in brackets"));
  CHECK(contains(address_error("tcp://[::1]7420"), "unexpected '7420' after ']'"));
  CHECK(contains(address_error("tcp://[nothex]:1"), "is not an IPv6 address"));
  CHECK(contains(address_error("tcp://[]:1"), "is not an IPv6 address"));
  CHECK(contains(address_error("tcp://[192.168.1.1]:1"), "is not an IPv6 address"));
  CHECK(contains(address_error("tcp://999.1.1.1:1"), "is not an IPv4 address"));
  CHECK(contains(address_error("tcp://a b:1"), "has a character outside"));
  CHECK(contains(address_error("tcp://h:1/x"), "unexpected '/x' after the port"));
  CHECK(contains(address_error("ws://h"), "missing :PORT"));
  CHECK(contains(address_error("ws://h:1/a?b"), "without '?' or '#'"));
  CHECK(contains(address_error("exec:"), "needs a COMMAND"));
  CHECK(contains(address_error("exec:  "), "needs a COMMAND"));
  CHECK(contains(address_error("ssh://-oProxyCommand=x"), "is not a host name"));
  CHECK(contains(address_error("ssh://-x@h"), "USER '-x' starts with '-'"));
  CHECK(contains(address_error("ssh://@h"), "missing USER"));
  CHECK(contains(address_error("http://h:80"), "unknown scheme 'http'"));
  CHECK(contains(address_error("h:7420"), "it has no scheme"));
  CHECK(contains(address_error(""), "it is empty"));
  // A newline would break the one-line error and the one-line listing.
  std::string nl = address_error("exec:a\nb");
  CHECK(contains(nl, "control character"));
  CHECK_FALSE(contains(nl, "\n"));
}

TEST_CASE("public keys: 32 bytes of base64 that make a usable ed25519 point") {
  CHECK(parse_public_key(kKeyA).ok());
  auto bad = [](std::string_view text) {
    auto k = parse_public_key(text);
    REQUIRE_FALSE(k.ok());
    CHECK(k.error().code == Code::usage);
    return k.error().message;
  };
  CHECK(bad("not base64!") == "key is not 32 bytes of base64");
  unsigned char short_key[31] = {};
  CHECK(bad(base64_encode(std::string_view(reinterpret_cast<char*>(short_key), 31))) ==
        "key is not 32 bytes of base64 (it is 31 bytes)");
  CHECK(contains(bad(kKeyA.substr(0, 43)), "not 32 bytes of base64"));  // padding missing
  // Small-order points: all zeros (order 4) and the identity (order 1).
  unsigned char zero[32] = {};
  unsigned char identity[32] = {1};
  CHECK(contains(bad(key_of(zero)), "small-order or invalid point"));
  CHECK(contains(bad(key_of(identity)), "small-order or invalid point"));
  // Not on the curve / not canonical: y = p (2^255 - 19) is out of range.
  unsigned char non_canonical[32];
  for (auto& b : non_canonical) b = 0xff;
  non_canonical[0] = 0xed;
  non_canonical[31] = 0x7f;
  CHECK(contains(bad(key_of(non_canonical)), "small-order or invalid point"));
}

TEST_CASE("manifest: a full manifest parses, peers in file order") {
  std::string text = "# comment\n" + machine() +
                     peer("phone", kKeyA,
                          "address = [\"tcp://192.168.1.20:7420\", \"ssh://me@phone\"]\n"
                          "role = \"read-only\"\n") +
                     peer("desktop", kKeyB);
  auto m = parse_manifest(text, "m.toml");
  REQUIRE(m.ok());
  CHECK(m->machine_name == "laptop");
  REQUIRE(m->listen.size() == 1);
  CHECK(to_string(m->listen[0]) == "tcp://0.0.0.0:7420");
  REQUIRE(m->peers.size() == 2);
  CHECK(m->peers[0].name == "phone");
  CHECK(m->peers[0].line == 6);
  CHECK(m->peers[0].role == Role::read_only);
  REQUIRE(m->peers[0].addresses.size() == 2);
  CHECK(m->peers[0].addresses[1].user == "me");
  CHECK(to_base64(m->peers[0].public_key) == kKeyA);
  CHECK(m->peers[1].name == "desktop");
  CHECK(m->peers[1].role == Role::read_write);
  CHECK(m->peers[1].addresses.empty());
  CHECK(find_peer(*m, "desktop") == &m->peers[1]);
  CHECK(find_peer(*m, "nobody") == nullptr);
  auto key_b = parse_public_key(kKeyB);
  REQUIRE(key_b.ok());
  CHECK(find_peer_by_key(*m, *key_b) == &m->peers[1]);
  CHECK(find_peer_by_key(*m, *parse_public_key(fresh_key())) == nullptr);
  // What `blk init` writes parses too.
  CHECK(parse_manifest("[machine]\nname = \"x\"\nlisten = []\n", "m.toml").ok());
}

TEST_CASE("manifest: sync_priority lists block types, checked") {
  auto m =
      parse_manifest("[machine]\nname = \"x\"\nsync_priority = [\"task\", \"note\"]\n", "m.toml");
  REQUIRE(m.ok());
  CHECK(m->sync_priority == std::vector<std::string>{"task", "note"});
  CHECK(parse_error("[machine]\nname = \"x\"\nsync_priority = \"task\"\n") ==
        "m.toml:3: [machine]: sync_priority must be an array of block types, as [\"task\", "
        "\"note\"]");
  CHECK(contains(parse_error("[machine]\nname = \"x\"\nsync_priority = [\"ok\", 3]\n"),
                 "m.toml:3: [machine]: sync_priority: must hold only strings"));
  CHECK(contains(parse_error("[machine]\nname = \"x\"\nsync_priority = [\"a b\"]\n"),
                 "m.toml:3: [machine]: sync_priority: type"));
}

TEST_CASE("manifest: errors name the file, the line and the field") {
  // Lines: 1 [machine], 2 name, 3 listen, 4 blank, 5 [[peer]], 6 name, 7 key, 8...
  CHECK(parse_error(machine(peer("phone", "abc"))) ==
        "m.toml:7: peer \"phone\": key is not 32 bytes of base64");
  unsigned char zero[32] = {};
  CHECK(contains(parse_error(machine(peer("phone", key_of(zero)))),
                 "m.toml:7: peer \"phone\": key is not a usable ed25519 public key"));
  CHECK(parse_error(machine(peer("phone", kKeyA, "role = \"admin\"\n"))) ==
        "m.toml:8: peer \"phone\": role must be \"read-write\" or \"read-only\", not \"admin\"");
  CHECK(contains(parse_error(machine(peer("phone", kKeyA, "address = [\"tcp://x\"]\n"))),
                 "m.toml:8: peer \"phone\": address: 'tcp://x' is not an address: missing :PORT"));
  CHECK(contains(parse_error(machine(peer("phone", kKeyA, "address = \"tcp://x:1\"\n"))),
                 "m.toml:8: peer \"phone\": address must be an array of strings"));
  CHECK(parse_error(machine(peer("phone", kKeyA, "colour = \"red\"\n"))) ==
        "m.toml:8: peer #1: unknown key 'colour'");
  CHECK(contains(parse_error(machine(peer("ph one", kKeyA))),
                 "m.toml:6: peer #1: name has a character"));
  CHECK(parse_error(machine("\n[[peer]]\nkey = \"" + kKeyA + "\"\n")) ==
        "m.toml:5: peer #1: missing name");
  CHECK(parse_error(machine("\n[[peer]]\nname = \"p\"\n")) == "m.toml:5: peer \"p\": missing key");
  CHECK(parse_error(machine(peer("p", kKeyA) + peer("p", kKeyB))) ==
        "m.toml:9: peer \"p\": name already used by the peer at line 5");
  CHECK(parse_error(machine(peer("p", kKeyA) + peer("q", kKeyA))) ==
        "m.toml:11: peer \"q\": key already used by peer \"p\" (line 5)");
  CHECK(parse_error(machine(peer("laptop", kKeyA))) ==
        "m.toml:5: peer \"laptop\": name is this machine's own name");
  CHECK(contains(parse_error(machine("\n[extra]\nx = 1\n")), "m.toml:5: unknown table [extra]"));
  CHECK(
      contains(parse_error(machine("\n[[extra]]\nx = 1\n")), "m.toml:5: unknown table [[extra]]"));
  CHECK(contains(parse_error("version = 2\n" + machine()), "m.toml:1: unknown key 'version'"));
  CHECK(parse_error(machine("colour = 1\n")) == "m.toml:4: [machine]: unknown key 'colour'");
  CHECK(parse_error("[machine]\nlisten = []\n") == "m.toml:1: [machine]: missing name");
  CHECK(parse_error("[machine]\nname = 7\n") == "m.toml:2: [machine]: name must be a string");
  CHECK(parse_error("") == "m.toml:1: missing [machine] table");
  CHECK(contains(parse_error("[machine]\nname = \"x\"\nlisten = [\"exec:cat\"]\n"),
                 "m.toml:3: [machine]: listen: 'exec:cat' is not an address: only tcp:// and "
                 "ws:// addresses can be listened on"));
  CHECK(contains(parse_error("[machine]\nname = \"x\"\nlisten = [\n  \"tcp://h:1\",\n"
                             "  \"tcp://h:65536\",\n]\n"),
                 "m.toml:5: [machine]: listen: 'tcp://h:65536' is not an address"));
  CHECK(contains(parse_error("[machine]\nname = \"x\"\nname = \"y\"\n"), "m.toml:3: "));
  CHECK(contains(parse_error("[machine]\nname = \"x\n"), "m.toml:2: "));
  CHECK(contains(parse_error("peer = 3\n" + machine()),
                 "m.toml:1: peer must be written as [[peer]] tables"));
}

TEST_CASE("editing: add appends a [[peer]] table and keeps every other byte") {
  std::string text = "# my machines\n\n[machine]   # this one\nname = \"laptop\"\nlisten = []\n";
  Peer p{.name = "phone",
         .public_key = *parse_public_key(kKeyA),
         .addresses = {*parse_address("tcp://192.168.1.20:7420")},
         .role = Role::read_only};
  auto added = add_peer_to_text(text, p, "m.toml");
  REQUIRE(added.ok());
  CHECK(*added == text + "\n[[peer]]\nname = \"phone\"\nkey = \"" + kKeyA +
                      "\"\naddress = [\"tcp://192.168.1.20:7420\"]\nrole = \"read-only\"\n");
  // No final newline, and CRLF endings: followed.
  auto crlf = add_peer_to_text("[machine]\r\nname = \"laptop\"", p, "m.toml");
  REQUIRE(crlf.ok());
  CHECK(
      crlf->starts_with("[machine]\r\nname = \"laptop\"\r\n\r\n[[peer]]\r\nname = \"phone\"\r\n"));
  // Doubles are refused with Code::usage, and so is the machine's own name.
  auto twice = add_peer_to_text(*added, p, "m.toml");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == Code::usage);
  CHECK(contains(twice.error().message, "a peer named 'phone' already exists (m.toml:7)"));
  Peer same_key = p;
  same_key.name = "tablet";
  auto by_key = add_peer_to_text(*added, same_key, "m.toml");
  REQUIRE_FALSE(by_key.ok());
  CHECK(by_key.error().message == "peer 'phone' (m.toml:7) already has this key");
  Peer self = p;
  self.name = "laptop";
  CHECK(add_peer_to_text(text, self, "m.toml").error().code == Code::usage);
  // A broken manifest is not edited.
  CHECK(add_peer_to_text("[machine]\n", p, "m.toml").error().code == Code::invalid_input);
}

TEST_CASE("editing: rm removes the peer's table and its own comments, nothing else") {
  const std::string head =
      "# blk manifest\n"
      "\n"
      "[machine]\n"
      "name = \"laptop\"\n"
      "listen = []\n"
      "\n";
  const std::string phone =
      "# my phone, in my pocket\n"
      "[[peer]]\n"
      "name = \"phone\"   # short\n"
      "key = \"" +
      kKeyA +
      "\"\n"
      "address = [\n"
      "  \"tcp://10.0.0.2:7420\",  # home wifi\n"
      "]\n"
      "\n"
      "# (a note after phone, before a blank line)\n"
      "\n";
  const std::string desktop =
      "# the desktop\n"
      "[[peer]]\n"
      "name = \"desktop\"\n"
      "key = \"" +
      kKeyB + "\"\n";
  std::string text = head + phone + desktop;
  REQUIRE(parse_manifest(text, "m.toml").ok());

  auto no_phone = remove_peer_from_text(text, "phone", "m.toml");
  REQUIRE(no_phone.ok());
  CHECK(*no_phone == head + desktop);

  auto no_desktop = remove_peer_from_text(text, "desktop", "m.toml");
  REQUIRE(no_desktop.ok());
  // At the end of the file: the blank lines above it go too.
  CHECK(*no_desktop == head + phone.substr(0, phone.size() - 1));

  auto none = remove_peer_from_text(*no_phone, "desktop", "m.toml");
  REQUIRE(none.ok());
  CHECK(*none == "# blk manifest\n\n[machine]\nname = \"laptop\"\nlisten = []\n");

  auto missing = remove_peer_from_text(text, "tablet", "m.toml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Code::not_found);
}

TEST_CASE("editing: add then rm gives back the original bytes") {
  std::string text = "# x\n[machine]\nname = \"laptop\"\nlisten = []\n";
  Peer p{.name = "phone", .public_key = *parse_public_key(kKeyA), .role = Role::read_write};
  auto added = add_peer_to_text(text, p, "m.toml");
  REQUIRE(added.ok());
  auto removed = remove_peer_from_text(*added, "phone", "m.toml");
  REQUIRE(removed.ok());
  CHECK(*removed == text);
}

TEST_CASE("editing: a peer between tables with no blank lines, and [machine] last") {
  std::string text = "[[peer]]\nname = \"a\"\nkey = \"" + kKeyA +
                     "\"\n# about b\n[[peer]]\nname = \"b\"\nkey = \"" + kKeyB +
                     "\"\n[machine]\nname = \"m\"\n";
  auto no_a = remove_peer_from_text(text, "a", "m.toml");
  REQUIRE(no_a.ok());
  CHECK(*no_a ==
        "# about b\n[[peer]]\nname = \"b\"\nkey = \"" + kKeyB + "\"\n[machine]\nname = \"m\"\n");
  auto no_b = remove_peer_from_text(text, "b", "m.toml");
  REQUIRE(no_b.ok());
  CHECK(*no_b == "[[peer]]\nname = \"a\"\nkey = \"" + kKeyA + "\"\n[machine]\nname = \"m\"\n");
}

TEST_CASE("editing: an inline-table peer is left for a person to remove") {
  std::string text = "peer = [{name = \"a\", key = \"" + kKeyA + "\"}]\n[machine]\nname = \"m\"\n";
  REQUIRE(parse_manifest(text, "m.toml").ok());
  auto r = remove_peer_from_text(text, "a", "m.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error().message, "m.toml:1: peer \"a\" is not written as a [[peer]] table"));
}

TEST_CASE("edit_manifest_file: replaces the file atomically, keeping its mode") {
  test::TempDir dir;
  std::string path = dir / "manifest.toml";
  std::ofstream(path) << "[machine]\nname = \"m\"\n";
  REQUIRE(chmod(path.c_str(), 0640) == 0);
  auto r = edit_manifest_file(path, [](std::string_view text) {
    return Result<std::string>(std::string(text) + "listen = []\n");
  });
  REQUIRE(r.ok());
  auto m = load_manifest(path);
  REQUIRE(m.ok());
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  // A failing edit writes nothing.
  auto refused = edit_manifest_file(
      path, [](std::string_view) -> Result<std::string> { return make_error(Code::usage, "no"); });
  CHECK(refused.error().code == Code::usage);
  std::ifstream in(path);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(back == "[machine]\nname = \"m\"\nlisten = []\n");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 1);  // no temp file left
  CHECK(load_manifest(dir / "missing.toml").error().code == Code::failure);
}

TEST_CASE("secret key: loads the pair written by write_secret_key, only if private") {
  test::TempDir dir;
  std::string path = dir / "machine.key";
  KeyPair keys = generate_keypair();
  REQUIRE(write_secret_key(path, keys).ok());
  std::string public_key = base64_encode(std::string_view(
      reinterpret_cast<const char*>(keys.public_key.data()), keys.public_key.size()));

  auto loaded = load_secret_key(path, public_key);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key == keys.public_key);
  CHECK(loaded->secret_key == keys.secret_key);

  // Mode bits are read with fstat, so this holds for root too.
  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    CAPTURE(mode);
    REQUIRE(chmod(path.c_str(), mode) == 0);
    auto open_key = load_secret_key(path, public_key);
    REQUIRE_FALSE(open_key.ok());
    CHECK(open_key.error().code == Code::failure);
    CHECK(contains(open_key.error().message, "chmod 600 " + path));
  }
  REQUIRE(chmod(path.c_str(), 0400) == 0);
  CHECK(load_secret_key(path, public_key).ok());

  auto other = load_secret_key(path, fresh_key());
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == Code::store_unusable);
  CHECK(contains(other.error().message, "is not this store's"));

  CHECK(load_secret_key(dir / "none", public_key).error().code == Code::store_unusable);
  std::string junk = dir / "junk.key";
  std::ofstream(junk) << "not a key\n";
  REQUIRE(chmod(junk.c_str(), 0600) == 0);
  CHECK(load_secret_key(junk, public_key).error().code == Code::store_unusable);
  CHECK(load_secret_key(dir.path(), public_key).error().code == Code::store_unusable);  // a dir
}
