// blk ls: list blocks, one per line.
#include "blk/block_json.hpp"
#include "blk/encoding.hpp"
#include "blk/time_text.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace ls_cmd {

struct Options {
  std::optional<std::string> type;
  std::optional<std::string> since;
  bool deleted = false;
  bool held = false;
};

// --held: the versions kept aside because no plugin could merge them.
Result<void> run_held(Context& ctx, Store& store, const Options& o) {
  std::string line;
  return store.scan_held([&](const HeldVersion& h) {
    if (o.type && h.block.type != *o.type) return true;
    line.clear();
    if (ctx.json) {
      append_block_json(line, h.block, BlobField::size);
      line.pop_back();  // the closing brace: two fields more
      line += ",\"reason\":";
      append_json_string(line, h.reason);
      line += fmt::format(",\"held_at\":{}}}", h.held_at);
    } else {
      line = fmt::format("{}\t{}\t{}\t{}\t{}", h.block.id, h.block.type, h.block.schema,
                         format_time(h.block.modified_at), h.reason);
    }
    line += '\n';
    return out(line);
  });
}

Result<void> run(Context& ctx, const Options& o) {
  ScanFilter filter;
  if (o.type) {
    BLK_TRY(validate_name("type", *o.type));
    filter.type = o.type;
  }
  if (o.since) {
    auto t = parse_time(*o.since);
    if (!t) return std::move(t).error();
    filter.modified_since = *t;
  }
  filter.include_deleted = o.deleted;
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  if (o.held) return run_held(ctx, **store, o);
  std::string line;
  return (*store)->scan(filter, [&](const Block& b) {
    line.clear();
    if (ctx.json) {
      append_block_json(line, b, BlobField::size);
    } else {
      line = fmt::format("{}\t{}\t{}\t{}", b.id, b.type,
                         b.deleted() ? std::string("deleted") : std::to_string(b.blob.size()),
                         format_time(b.modified_at));
    }
    line += '\n';
    return out(line);
  });
}

}  // namespace ls_cmd

void add_ls(CLI::App& app, Context& ctx) {
  using namespace ls_cmd;
  auto* cmd = app.add_subcommand("ls", "List blocks, one per line");
  auto o = std::make_shared<Options>();
  cmd->add_option("--type,-t", o->type, "Only blocks of this type")->type_name("TYPE");
  cmd->add_option("--since", o->since,
                  "Only blocks modified at or after TIME (2026-11-27, 2026-11-27T07:14:18Z, or "
                  "milliseconds since 1970)")
      ->type_name("TIME");
  cmd->add_flag("--deleted", o->deleted, "Include deleted blocks (tombstones)");
  cmd->add_flag("--held", o->held,
                "List the held versions instead: concurrent versions no merge plugin could "
                "merge, kept until one can");
  cmd->footer(
      "Columns: ID, TYPE, SIZE (bytes, or 'deleted'), MODIFIED (UTC), tab-separated,\n"
      "in id order. --json: one object per line, as get --json but \"size\" for \"blob\".\n"
      "With --held: ID, TYPE, SCHEMA, MODIFIED, REASON; --json adds \"reason\" and "
      "\"held_at\".");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
