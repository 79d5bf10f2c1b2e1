// blk import: blocks from JSON lines, in one transaction.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "blk/block_json.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace import_cmd {

Result<void> run(Context& ctx, const std::string& file) {
  auto store = ctx.open_for_write();
  if (!store) return std::move(store).error();
  auto opened = open_input(file);
  if (!opened) return std::move(opened).error();
  std::FILE* in = *opened;
  // A directory opens, then fails the first read: say so, as put does.
  struct stat st;
  if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (in != stdin) std::fclose(in);
    return make_error(Code::invalid_input,
                      fmt::format("cannot read {}: {}", file, std::strerror(EISDIR)));
  }
  auto summary = import_json_lines(**store, in);
  if (in != stdin) std::fclose(in);
  if (!summary) return std::move(summary).error();
  if (ctx.json)
    out(fmt::format("{{\"imported\":{}}}\n", summary->blocks));
  else
    note(ctx, "imported {} block(s)", summary->blocks);
  return {};
}

}  // namespace import_cmd

void add_import(CLI::App& app, Context& ctx) {
  using namespace import_cmd;
  auto* cmd = app.add_subcommand("import", "Write blocks from JSON lines, all or nothing");
  auto file = std::make_shared<std::string>("-");
  cmd->add_option("file", *file, "Read from FILE (default: - for stdin)")->type_name("FILE|-");
  cmd->footer(
      "Each line is a block in the shape of `blk get --json` (blk export's output).\n"
      "One bad line (named by its number, exit code 5) imports nothing.");
  cmd->callback([&ctx, file] { ctx.result = run(ctx, *file); });
}

}  // namespace blk::cli
