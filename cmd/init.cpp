// blk init: create a store (a Machine).
#include <unistd.h>

#include "blk/encoding.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace init_cmd {

// The host name, made a valid name: other characters become '-'.
std::string default_machine_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) return "machine";
  std::string name = host;
  for (char& c : name)
    if (!validate_name("name", std::string_view(&c, 1))) c = '-';
  return name;
}

Result<void> run(Context& ctx, const std::optional<std::string>& name_flag) {
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  std::string name = name_flag ? *name_flag : default_machine_name();
  BLK_TRY(validate_name("machine name", name));
  auto id = init_store(*paths, name);
  if (!id) return std::move(id).error();
  if (ctx.json) {
    std::string line = "{\"store\":";
    append_json_string(line, paths->dir);
    line += fmt::format(",\"name\":\"{}\",\"machine_id\":\"{}\",\"public_key\":\"{}\"}}\n", name,
                        id->machine_id, id->public_key);
    out(line);
  } else {
    note(ctx, "created store {} for machine '{}' ({})", paths->dir, name, id->machine_id);
  }
  return {};
}

}  // namespace init_cmd

void add_init(CLI::App& app, Context& ctx) {
  using namespace init_cmd;
  auto* cmd = app.add_subcommand("init", "Create a store: database, machine key pair, manifest");
  auto name = std::make_shared<std::optional<std::string>>();
  cmd->add_option("--name", *name, "This machine's name in manifests (default: the host name)")
      ->type_name("NAME");
  cmd->footer(
      "The store goes to --store DIR, else $BLK_STORE, else $XDG_DATA_HOME/blk/APP.\n"
      "An existing store is never overwritten.");
  cmd->callback([&ctx, name] { ctx.result = run(ctx, *name); });
}

}  // namespace blk::cli
