// blk get: one block's blob, byte for byte (or, with --json, the whole block).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "blk/block_json.hpp"
#include "blk/encoding.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace get_cmd {

struct Options {
  std::string id;
  std::optional<std::string> output;  // -o FILE, or "-" for stdout even if a terminal
};

Result<void> write_file(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  int err = errno;
  if (f && std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (!ok)
    return make_error(Code::failure, fmt::format("cannot write {}: {}", path, std::strerror(err)));
  return {};
}

Result<void> run(Context& ctx, const Options& o) {
  BLK_TRY(validate_name("id", o.id));
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  auto found = (*store)->get(o.id);
  if (!found) return std::move(found).error();
  if (!*found || (*found)->deleted())
    return make_error(Code::not_found, fmt::format("no block with id '{}'{}", o.id,
                                                   *found ? " (it was deleted)" : ""));
  const Block& b = **found;
  std::string json;
  if (ctx.json) {
    append_block_json(json, b);
    json += '\n';
  }
  std::string_view bytes = ctx.json ? std::string_view(json) : std::string_view(b.blob);
  if (o.output && *o.output != "-") return write_file(*o.output, bytes);
  if (!o.output && !ctx.json && isatty(STDOUT_FILENO) && looks_binary(b.blob))
    return make_error(Code::usage,
                      "not writing binary data to a terminal; use -o FILE, or -o - to insist");
  out(bytes);
  return {};
}

}  // namespace get_cmd

void add_get(CLI::App& app, Context& ctx) {
  using namespace get_cmd;
  auto* cmd = app.add_subcommand("get", "Write a block's blob to stdout (or a file)");
  auto o = std::make_shared<Options>();
  cmd->add_option("id", o->id, "The block's id")->required()->type_name("ID");
  cmd->add_option("-o,--output", o->output, "Write to FILE; - writes to stdout even if a terminal")
      ->type_name("FILE|-");
  cmd->footer(
      "A missing or deleted block exits with code 4. --json prints the whole block, "
      "blob in base64.");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
