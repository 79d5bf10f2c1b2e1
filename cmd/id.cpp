// blk id: this machine's id and public key.
#include "cli.hpp"

namespace blk::cli {
namespace id_cmd {

Result<void> run(Context& ctx, bool key_only) {
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  auto id = (*store)->identity();
  if (!id) return std::move(id).error();
  if (ctx.json)
    out(fmt::format("{{\"machine_id\":\"{}\",\"public_key\":\"{}\"}}\n", id->machine_id,
                    id->public_key));
  else if (key_only)
    out(id->public_key + "\n");
  else
    out(fmt::format("machine {}\nkey     {}\n", id->machine_id, id->public_key));
  return {};
}

}  // namespace id_cmd

void add_id(CLI::App& app, Context& ctx) {
  using namespace id_cmd;
  auto* cmd = app.add_subcommand("id", "Print this machine's id and public key");
  auto key_only = std::make_shared<bool>(false);
  cmd->add_flag("--key", *key_only, "Print only the public key, as `blk peer add` takes it");
  cmd->callback([&ctx, key_only] { ctx.result = run(ctx, *key_only); });
}

}  // namespace blk::cli
