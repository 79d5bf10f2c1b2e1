// blk peer add|ls|rm: the peers in the manifest. add and rm edit the
// manifest's text, keeping everything else in it byte for byte.
#include "blk/encoding.hpp"
#include "blk/manifest.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace peer_cmd {

struct AddOptions {
  std::string name;
  std::string key;
  std::vector<std::string> addresses;
  bool read_only = false;
};

// Opening the store first gives the usual "no store" error (exit code 10)
// rather than a missing manifest file.
Result<std::string> manifest_path(Context& ctx, std::unique_ptr<Store>* store_out = nullptr) {
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  auto store = open_store(*paths);
  if (!store) return std::move(store).error();
  if (store_out) *store_out = std::move(*store);
  return paths->manifest();
}

Result<void> run_add(Context& ctx, const AddOptions& o) {
  // Every argument is checked before the manifest is touched.
  BLK_TRY(validate_name("peer name", o.name));
  auto key = parse_public_key(o.key);
  if (!key) return std::move(key).error();
  Peer peer{
      .name = o.name, .public_key = *key, .role = o.read_only ? Role::read_only : Role::read_write};
  for (const auto& text : o.addresses) {
    auto address = parse_address(text);
    if (!address) return std::move(address).error();
    peer.addresses.push_back(std::move(*address));
  }
  std::unique_ptr<Store> store;
  auto path = manifest_path(ctx, &store);
  if (!path) return std::move(path).error();
  auto self = store->identity();
  if (!self) return std::move(self).error();
  if (self->public_key == to_base64(peer.public_key))
    return make_error(Code::usage,
                      "that key is this machine's own (blk id --key); a machine is "
                      "not its own peer");
  BLK_TRY(edit_manifest_file(
      *path, [&](std::string_view text) { return add_peer_to_text(text, peer, *path); }));
  if (ctx.verbose) note(ctx, "added peer '{}' to {}", peer.name, *path);
  return {};
}

std::string line_for(const Peer& p, bool json) {
  std::string line;
  if (json) {
    line = "{\"name\":";
    append_json_string(line, p.name);
    line += fmt::format(",\"key\":\"{}\",\"role\":\"{}\",\"address\":[", to_base64(p.public_key),
                        to_string(p.role));
    for (std::size_t i = 0; i < p.addresses.size(); ++i) {
      if (i) line += ',';
      append_json_string(line, to_string(p.addresses[i]));
    }
    line += "]}";
  } else {
    line = fmt::format("{}\t{}\t{}\t", p.name, to_base64(p.public_key), to_string(p.role));
    for (std::size_t i = 0; i < p.addresses.size(); ++i)
      line += (i ? "," : "") + to_string(p.addresses[i]);
  }
  return line + "\n";
}

Result<void> run_ls(Context& ctx) {
  auto path = manifest_path(ctx);
  if (!path) return std::move(path).error();
  auto manifest = load_manifest(*path);
  if (!manifest) return std::move(manifest).error();
  for (const Peer& p : manifest->peers)
    if (!out(line_for(p, ctx.json))) break;
  return {};
}

Result<void> run_rm(Context& ctx, const std::string& name) {
  BLK_TRY(validate_name("peer name", name));
  auto path = manifest_path(ctx);
  if (!path) return std::move(path).error();
  BLK_TRY(edit_manifest_file(
      *path, [&](std::string_view text) { return remove_peer_from_text(text, name, *path); }));
  if (ctx.verbose) note(ctx, "removed peer '{}' from {}", name, *path);
  return {};
}

}  // namespace peer_cmd

void add_peer(CLI::App& app, Context& ctx) {
  using namespace peer_cmd;
  auto* peer = app.add_subcommand("peer", "The machines this one syncs with (in the manifest)");
  peer->require_subcommand(1);
  peer->footer(
      "The peers live in STORE/manifest.toml (man 5 blk-manifest); add and rm keep\n"
      "the rest of that file, comments included, byte for byte.");

  auto* add_sub = peer->add_subcommand("add", "Add a peer: its name, public key and addresses");
  auto o = std::make_shared<AddOptions>();
  add_sub->add_option("name", o->name, "What to call the peer here")->required()->type_name("NAME");
  add_sub->add_option("key", o->key, "Its public key, as its `blk id --key` prints it")
      ->required()
      ->type_name("KEY");
  add_sub->add_option("addresses", o->addresses, "Where to reach it (none: it only calls us)")
      ->type_name("ADDRESS...");
  add_sub->add_flag("--read-only", o->read_only, "Let it read our blocks but not change them");
  add_sub->footer(
      "ADDRESS: tcp://HOST:PORT, ws://HOST:PORT/PATH, exec:COMMAND, "
      "ssh://[USER@]HOST[:PORT][/STORE]\n"
      "Example: blk peer add laptop \"$(ssh laptop blk id --key)\" tcp://laptop:7420\n"
      "Exit code 2 if the name or key is already in the manifest.");
  add_sub->callback([&ctx, o] { ctx.result = run_add(ctx, *o); });

  auto* ls_sub = peer->add_subcommand("ls", "List the peers, one per line");
  ls_sub->footer(
      "Columns: NAME, KEY, ROLE, ADDRESSES (comma-separated), tab-separated, in\n"
      "manifest order. --json: one object per line, {name, key, role, address: [...]}.");
  ls_sub->callback([&ctx] { ctx.result = run_ls(ctx); });

  auto* rm_sub = peer->add_subcommand("rm", "Remove a peer from the manifest");
  auto name = std::make_shared<std::string>();
  rm_sub->add_option("name", *name, "The peer's name")->required()->type_name("NAME");
  rm_sub->footer(
      "Removes its [[peer]] table and the comment lines directly above it.\n"
      "Exit code 4 if there is no such peer.");
  rm_sub->callback([&ctx, name] { ctx.result = run_rm(ctx, *name); });
}

}  // namespace blk::cli
