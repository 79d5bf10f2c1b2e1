#include "blk/manifest.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <toml++/toml.h>  // only here: no header of blk's exposes toml++
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "blk/block.hpp"
#include "blk/encoding.hpp"

namespace blk {
namespace {

// ---- Reading: TOML document -> Manifest, every error at a line ----

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

class Reader {
 public:
  explicit Reader(std::string_view path) : path_(path) {}

  Error error(int line, std::string_view what) const {
    return make_error(Code::invalid_input, fmt::format("{}:{}: {}", path_, line, what));
  }

  Result<toml::table> parse(std::string_view text) const {
    try {
      return toml::parse(text, path_);
    } catch (const toml::parse_error& e) {
      return error(static_cast<int>(e.source().begin.line), e.description());
    }
  }

  // The string at t[key]; nullopt if absent.
  Result<std::optional<std::string>> string(const toml::table& t, std::string_view key,
                                            std::string_view label) const {
    const toml::node* n = t.get(key);
    if (!n) return std::optional<std::string>();
    if (!n->is_string())
      return error(line_of(*n), fmt::format("{}: {} must be a string", label, key));
    return std::optional<std::string>(n->as_string()->get());
  }

  Result<std::vector<Address>> addresses(const toml::table& t, std::string_view key,
                                         std::string_view label,
                                         Result<Address> (*parse_one)(std::string_view)) const {
    std::vector<Address> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a)
      return error(
          line_of(*n),
          fmt::format("{}: {} must be an array of strings, as [\"tcp://HOST:PORT\"]", label, key));
    for (const toml::node& item : *a) {
      if (!item.is_string())
        return error(line_of(item), fmt::format("{}: {} must hold only strings", label, key));
      auto addr = parse_one(item.as_string()->get());
      if (!addr)
        return error(line_of(item), fmt::format("{}: {}: {}", label, key, addr.error().message));
      out.push_back(std::move(*addr));
    }
    return out;
  }

  // Refuses keys of `t` outside `known`, naming the first one found.
  Result<void> only(const toml::table& t, std::initializer_list<std::string_view> known,
                    std::string_view label) const {
    for (auto&& [key, node] : t)
      if (std::find(known.begin(), known.end(), key.str()) == known.end())
        return error(line_of(node), fmt::format("{}: unknown key '{}'", label, key.str()));
    return {};
  }

  // An optional array of block types, as ["task", "note"].
  Result<std::vector<std::string>> types(const toml::table& t, std::string_view key,
                                         std::string_view label) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a)
      return error(line_of(*n), fmt::format("{}: {} must be an array of block types, "
                                            "as [\"task\", \"note\"]",
                                            label, key));
    for (const toml::node& item : *a) {
      auto type_ok = item.is_string() ? validate_name("type", item.as_string()->get())
                                      : make_error(Code::usage, "must hold only strings");
      if (!type_ok)
        return error(line_of(item), fmt::format("{}: {}: {}", label, key, type_ok.error().message));
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  // An optional string that must be a valid name (a user's); "" if absent.
  Result<std::string> name_value(const toml::table& t, std::string_view key,
                                 std::string_view label) const {
    auto v = string(t, key, label);
    if (!v) return std::move(v).error();
    if (!*v) return std::string();
    auto valid = validate_name(key, **v);
    if (!valid)
      return error(line_of(*t.get(key)), fmt::format("{}: {}", label, valid.error().message));
    return **v;
  }

  Result<void> machine(const toml::table& t, Manifest& m) const {
    BLK_TRY(only(t, {"name", "listen", "sync_priority", "user"}, "[machine]"));
    auto name = string(t, "name", "[machine]");
    if (!name) return std::move(name).error();
    if (!*name) return error(line_of(t), "[machine]: missing name");
    auto valid = validate_name("name", **name);
    if (!valid) return error(line_of(*t.get("name")), "[machine]: " + valid.error().message);
    m.machine_name = **name;
    auto listen = addresses(t, "listen", "[machine]", parse_listen_address);
    if (!listen) return std::move(listen).error();
    m.listen = std::move(*listen);
    auto priority = types(t, "sync_priority", "[machine]");
    if (!priority) return std::move(priority).error();
    m.sync_priority = std::move(*priority);
    auto user = name_value(t, "user", "[machine]");
    if (!user) return std::move(user).error();
    m.user = std::move(*user);
    return {};
  }

  Result<void> peer(const toml::table& t, std::size_t index, Manifest& m) const {
    std::string label = fmt::format("peer #{}", index + 1);
    BLK_TRY(only(t, {"name", "key", "address", "role", "user", "write_types"}, label));
    Peer p;
    p.line = line_of(t);
    auto name = string(t, "name", label);
    if (!name) return std::move(name).error();
    if (!*name) return error(p.line, label + ": missing name");
    auto valid = validate_name("name", **name);
    if (!valid) return error(line_of(*t.get("name")), label + ": " + valid.error().message);
    p.name = **name;
    label = fmt::format("peer \"{}\"", p.name);
    auto key = string(t, "key", label);
    if (!key) return std::move(key).error();
    if (!*key) return error(p.line, label + ": missing key");
    auto pk = parse_public_key(**key);
    if (!pk) return error(line_of(*t.get("key")), label + ": " + pk.error().message);
    p.public_key = *pk;
    auto addrs = addresses(t, "address", label, parse_address);
    if (!addrs) return std::move(addrs).error();
    p.addresses = std::move(*addrs);
    auto role = string(t, "role", label);
    if (!role) return std::move(role).error();
    if (*role && **role == "read-only")
      p.role = Role::read_only;
    else if (*role && **role != "read-write")
      return error(line_of(*t.get("role")),
                   fmt::format("{}: role must be \"read-write\" or \"read-only\", not \"{}\"",
                               label, **role));
    auto user = name_value(t, "user", label);
    if (!user) return std::move(user).error();
    p.user = std::move(*user);
    if (t.get("write_types")) {
      auto wt = types(t, "write_types", label);
      if (!wt) return std::move(wt).error();
      p.write_types = std::move(*wt);
    }

    if (p.name == m.machine_name) return error(p.line, label + ": name is this machine's own name");
    if (const Peer* other = find_peer(m, p.name))
      return error(p.line,
                   fmt::format("{}: name already used by the peer at line {}", label, other->line));
    if (const Peer* other = find_peer_by_key(m, p.public_key))
      return error(line_of(*t.get("key")),
                   fmt::format("{}: key already used by peer \"{}\" (line {})", label, other->name,
                               other->line));
    m.peers.push_back(std::move(p));
    return {};
  }

  Result<Manifest> manifest(const toml::table& doc) const {
    Manifest m;
    // [machine] first: peers are checked against the machine's name.
    const toml::node* machine_node = doc.get("machine");
    if (!machine_node) return error(1, "missing [machine] table");
    if (!machine_node->is_table())
      return error(line_of(*machine_node), "machine must be a table, [machine]");
    BLK_TRY(machine(*machine_node->as_table(), m));
    for (auto&& [key, node] : doc) {
      if (key.str() == "machine") continue;
      if (key.str() == "types" && node.is_table()) {
        BLK_TRY(only(*node.as_table(), {"owner_only"}, "[types]"));
        auto owner_only = types(*node.as_table(), "owner_only", "[types]");
        if (!owner_only) return std::move(owner_only).error();
        m.owner_only = std::move(*owner_only);
        continue;
      }
      if (key.str() != "peer") {
        std::string what = node.is_table()             ? fmt::format("table [{}]", key.str())
                           : node.is_array_of_tables() ? fmt::format("table [[{}]]", key.str())
                                                       : fmt::format("key '{}'", key.str());
        return error(line_of(node), "unknown " + what + " (known: [machine], [types], [[peer]])");
      }
      if (!node.is_array_of_tables())
        return error(line_of(node), "peer must be written as [[peer]] tables");
      const toml::array& peers = *node.as_array();
      for (std::size_t i = 0; i < peers.size(); ++i) BLK_TRY(peer(*peers[i].as_table(), i, m));
    }
    return m;
  }

 private:
  std::string_view path_;
};

// ---- Editing: line arithmetic on the text ----

// Line L (1-based) of text is [starts[L-1], starts[L]); lines = size() - 1.
std::vector<std::size_t> line_starts(std::string_view text) {
  std::vector<std::size_t> starts;
  for (std::size_t pos = 0; pos < text.size();) {
    starts.push_back(pos);
    pos = text.find('\n', pos);
    if (pos == std::string_view::npos) break;
    ++pos;
  }
  starts.push_back(text.size());
  return starts;
}

// The last line used by any value or table header that starts before
// `line`: a comment line above a header is only the header's if it is below
// this (a multi-line string could hold a line that looks like a comment).
// A table, or an array of tables, occupies only its header line itself.
int last_line_used_before(const toml::table& doc, int line) {
  int last = 0;
  auto visit = [&](auto& self, const toml::node& n) -> void {
    bool tables = n.is_table() || n.is_array_of_tables();
    if (line_of(n) < line)
      last = std::max(last, tables ? line_of(n) : static_cast<int>(n.source().end.line));
    if (const toml::table* t = n.as_table())
      for (auto&& [key, child] : *t) self(self, child);
    if (const toml::array* a = n.as_array())
      for (const toml::node& child : *a) self(self, child);
  };
  for (auto&& [key, child] : doc) visit(visit, child);
  return last;
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out + "\"";
}

bool same_peer(const Peer& a, const Peer& b) {
  return a.name == b.name && a.public_key == b.public_key && a.addresses == b.addresses &&
         a.role == b.role && a.user == b.user && a.write_types == b.write_types;
}

Error io_error(std::string_view what, const std::string& path, int err) {
  Code code =
      (err == EACCES || err == EPERM || err == EROFS) ? Code::store_readonly : Code::failure;
  return make_error(code, fmt::format("cannot {} {}: {}", what, path, std::strerror(err)));
}

Result<std::string> read_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Code::failure, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  int err = errno;
  close(fd);
  if (n < 0)
    return make_error(Code::failure, fmt::format("cannot read {}: {}", path, std::strerror(err)));
  return text;
}

// Replaces `target` (in directory `dir`, open as `dir_fd`) by `text`, atomically.
Result<void> replace_file(int dir_fd, const std::string& dir, const std::string& target,
                          std::string_view text) {
  struct stat st;
  if (stat(target.c_str(), &st) != 0) return io_error("read", target, errno);
  std::string tmp = dir + "/." + std::filesystem::path(target).filename().string() + ".XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return io_error("write in", dir, errno);
  int err = 0;  // the first failure's errno
  auto check = [&err](bool good) {
    if (!good && err == 0) err = errno ? errno : EIO;
    return good;
  };
  check(fchmod(fd, st.st_mode & 07777) == 0);
  for (std::size_t done = 0; err == 0 && done < text.size();) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (check(n > 0)) done += static_cast<std::size_t>(n);
  }
  if (err == 0) check(fsync(fd) == 0);
  check(close(fd) == 0);
  if (err == 0) check(rename(tmp.c_str(), target.c_str()) == 0);
  if (err != 0) {
    unlink(tmp.c_str());
    return io_error("write", target, err);
  }
  fsync(dir_fd);  // makes the rename durable; if it fails, the edit is still whole
  return {};
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view text, std::string_view path_for_messages) {
  Reader reader(path_for_messages);
  auto doc = reader.parse(text);
  if (!doc) return std::move(doc).error();
  return reader.manifest(*doc);
}

Result<Manifest> load_manifest(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  return parse_manifest(*text, path);
}

const Peer* find_peer(const Manifest& m, std::string_view name) {
  for (const Peer& p : m.peers)
    if (p.name == name) return &p;
  return nullptr;
}

const Peer* find_peer_by_key(const Manifest& m, const PublicKey& key) {
  for (const Peer& p : m.peers)
    if (sodium_memcmp(p.public_key.data(), key.data(), key.size()) == 0) return &p;
  return nullptr;
}

Result<PublicKey> parse_public_key(std::string_view base64) {
  auto bytes = base64_decode(base64);
  if (!bytes || bytes->size() != crypto_sign_PUBLICKEYBYTES)
    return make_error(
        Code::usage,
        bytes ? fmt::format("key is not 32 bytes of base64 (it is {} bytes)", bytes->size())
              : std::string("key is not 32 bytes of base64"));
  PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  // A small-order point would let anyone complete a key exchange with a
  // known shared secret, and the channel needs the X25519 form of the key.
  unsigned char x25519[crypto_scalarmult_curve25519_BYTES];
  if (crypto_core_ed25519_is_valid_point(key.data()) != 1 ||
      crypto_sign_ed25519_pk_to_curve25519(x25519, key.data()) != 0)
    return make_error(Code::usage,
                      "key is not a usable ed25519 public key (a small-order or invalid point)");
  return key;
}

std::string to_base64(const PublicKey& key) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

std::string_view to_string(Role role) {
  return role == Role::read_only ? "read-only" : "read-write";
}

Result<std::string> add_peer_to_text(std::string_view text, const Peer& peer,
                                     std::string_view path_for_messages) {
  auto m = parse_manifest(text, path_for_messages);
  if (!m) return std::move(m).error();
  BLK_TRY(validate_name("peer name", peer.name));
  if (peer.name == m->machine_name)
    return make_error(
        Code::usage,
        fmt::format("'{}' is this machine's own name; give the peer another", peer.name));
  if (const Peer* p = find_peer(*m, peer.name))
    return make_error(
        Code::usage, fmt::format("a peer named '{}' already exists ({}:{}); 'blk peer rm {}' first",
                                 peer.name, path_for_messages, p->line, peer.name));
  if (const Peer* p = find_peer_by_key(*m, peer.public_key))
    return make_error(Code::usage, fmt::format("peer '{}' ({}:{}) already has this key", p->name,
                                               path_for_messages, p->line));

  // Follow the file's line endings; keep one blank line between tables.
  std::string nl = text.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out += nl;
  if (!out.empty() && !(out.size() >= 2 * nl.size() && out.ends_with(nl + nl))) out += nl;
  std::vector<std::string> addrs;
  for (const Address& a : peer.addresses) addrs.push_back(toml_string(to_string(a)));
  out += fmt::format("[[peer]]{0}name = {1}{0}key = {2}{0}address = [{3}]{0}role = {4}{0}", nl,
                     toml_string(peer.name), toml_string(to_base64(peer.public_key)),
                     fmt::join(addrs, ", "), toml_string(to_string(peer.role)));

  auto again = parse_manifest(out, path_for_messages);
  if (!again || again->peers.size() != m->peers.size() + 1 || !same_peer(again->peers.back(), peer))
    return make_error(Code::failure, fmt::format("internal: adding peer '{}' would not give a "
                                                 "valid {}; nothing written",
                                                 peer.name, path_for_messages));
  return out;
}

Result<std::string> remove_peer_from_text(std::string_view text, std::string_view name,
                                          std::string_view path_for_messages) {
  Reader reader(path_for_messages);
  auto doc = reader.parse(text);
  if (!doc) return std::move(doc).error();
  auto m = reader.manifest(*doc);
  if (!m) return std::move(m).error();
  const Peer* peer = find_peer(*m, name);
  if (!peer)
    return make_error(Code::not_found,
                      fmt::format("no peer named '{}' in {}", name, path_for_messages));

  std::vector<std::size_t> starts = line_starts(text);
  const int lines = static_cast<int>(starts.size()) - 1;
  auto line = [&](int l) {
    return text.substr(
        starts[static_cast<std::size_t>(l - 1)],
        starts[static_cast<std::size_t>(l)] - starts[static_cast<std::size_t>(l - 1)]);
  };
  auto blank = [&](int l) {
    return line(l).find_first_not_of(" \t\r\n") == std::string_view::npos;
  };
  auto comment = [&](int l) {
    std::size_t at = line(l).find_first_not_of(" \t");
    return at != std::string_view::npos && line(l)[at] == '#';
  };
  auto header = [&](int l) {
    std::size_t at = line(l).find_first_not_of(" \t");
    return at != std::string_view::npos && line(l)[at] == '[';
  };

  const int h = peer->line;
  if (line(h).substr(line(h).find_first_not_of(" \t"), 2) != "[[")
    return make_error(
        Code::invalid_input,
        fmt::format("{}:{}: peer \"{}\" is not written as a [[peer]] table; remove it "
                    "by hand",
                    path_for_messages, h, name));
  // The next header: [machine] or another [[peer]] (no other table parses).
  int next = lines + 1;
  for (auto&& [key, node] : *doc) {
    auto consider = [&](const toml::node& n) {
      if (line_of(n) > h && line_of(n) < next && header(line_of(n))) next = line_of(n);
    };
    consider(node);
    if (const toml::array* a = node.as_array())
      for (const toml::node& t : *a) consider(t);
  }

  int first = h;
  const int above = last_line_used_before(*doc, h);
  while (first - 1 > above && comment(first - 1)) --first;
  int last = next - 1;
  const int inside = last_line_used_before(*doc, next);
  if (next <= lines)
    while (last > inside && comment(last)) --last;
  int before = first - 1;  // the blank lines above the peer end here
  while (before >= 1 && blank(before)) --before;
  int body_end = last;  // the peer without the blank lines below it
  while (body_end > h && blank(body_end)) --body_end;
  if (next > lines)
    first = before + 1;  // at the end: drop the gap above
  else if (before == first - 1 && first > 1)
    last = body_end;  // no gap above: keep the one below

  std::string out(text.substr(0, starts[static_cast<std::size_t>(first - 1)]));
  out += text.substr(starts[static_cast<std::size_t>(last)]);
  auto again = parse_manifest(out, path_for_messages);
  if (!again || again->peers.size() + 1 != m->peers.size() || find_peer(*again, name))
    return make_error(Code::failure, fmt::format("internal: removing peer '{}' would not give a "
                                                 "valid {}; edit it by hand",
                                                 name, path_for_messages));
  return out;
}

Result<void> edit_manifest_file(const std::string& path,
                                const std::function<Result<std::string>(std::string_view)>& edit) {
  std::error_code ec;
  std::string target = std::filesystem::canonical(path, ec).string();
  if (ec) return make_error(Code::failure, fmt::format("cannot read {}: {}", path, ec.message()));
  std::string dir = std::filesystem::path(target).parent_path().string();
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return io_error("open", dir, errno);
  // The lock goes with the descriptor, on every path out of here.
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{dir_fd};
  // Wait for another edit as a write waits for the database (10 s), not
  // forever: a process that holds the lock longer gets exit code 11.
  for (int waited_ms = 0; flock(dir_fd, LOCK_EX | LOCK_NB) != 0; waited_ms += 20) {
    if (errno != EWOULDBLOCK && errno != EINTR) return io_error("lock", dir, errno);
    if (waited_ms >= 10000)
      return make_error(Code::store_locked,
                        fmt::format("store is locked by another process: {} (a manifest edit "
                                    "waited 10 s for its lock)",
                                    dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto text = read_file(target);
  if (!text) return std::move(text).error();
  auto edited = edit(*text);
  if (!edited) return std::move(edited).error();
  if (*edited == *text) return {};
  return replace_file(dir_fd, dir, target, *edited);
}

}  // namespace blk
