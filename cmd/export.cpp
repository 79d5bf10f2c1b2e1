// blk export: every block as JSON lines, in commit order.
#include "blk/block_json.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace export_cmd {

Result<void> run(Context& ctx, bool deleted) {
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  std::string line;
  return (*store)->scan_changes(0, [&](const Block& b) {
    if (b.deleted() && !deleted) return true;
    line.clear();
    append_block_json(line, b);
    line += '\n';
    return out(line);
  });
}

}  // namespace export_cmd

void add_export(CLI::App& app, Context& ctx) {
  using namespace export_cmd;
  auto* cmd = app.add_subcommand("export", "Write every block as JSON lines (for import)");
  auto deleted = std::make_shared<bool>(false);
  cmd->add_flag("--deleted", *deleted, "Include deleted blocks (tombstones)");
  cmd->footer("`blk export | blk --store NEW import` reproduces every block.");
  cmd->callback([&ctx, deleted] { ctx.result = run(ctx, *deleted); });
}

}  // namespace blk::cli
