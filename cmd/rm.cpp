// blk rm: tombstone blocks, all in one transaction.
#include "cli.hpp"

namespace blk::cli {
namespace rm_cmd {

Result<void> run(Context& ctx, const std::vector<std::string>& ids) {
  for (const auto& id : ids) BLK_TRY(validate_name("id", id));
  auto store = ctx.open_for_write();
  if (!store) return std::move(store).error();
  auto tx = (*store)->begin();
  if (!tx) return std::move(tx).error();
  for (const auto& id : ids) BLK_TRY((*tx)->remove(id));
  BLK_TRY((*tx)->commit());
  if (ctx.verbose) note(ctx, "deleted {} block(s)", ids.size());
  return {};
}

}  // namespace rm_cmd

void add_rm(CLI::App& app, Context& ctx) {
  using namespace rm_cmd;
  auto* cmd = app.add_subcommand("rm", "Delete blocks (they stay as tombstones, for sync)");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("id", *ids, "The blocks' ids")->required()->type_name("ID...");
  cmd->footer(
      "All or nothing: if one id does not exist (exit code 4), none is deleted.\n"
      "Deleting a block that is already deleted does nothing.");
  cmd->callback([&ctx, ids] { ctx.result = run(ctx, *ids); });
}

}  // namespace blk::cli
