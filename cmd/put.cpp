// blk put: write one block from a file or stdin; print its id.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "blk/block_json.hpp"
#include "cli.hpp"

namespace blk::cli {

// Reads the whole input, refusing more than kMaxBlobBytes without reading
// (or holding) much beyond it.
Result<std::string> read_blob(const std::string& file) {
  auto opened = open_input(file);
  if (!opened) return std::move(opened).error();
  std::FILE* f = *opened;
  std::string blob;
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (blob.size() + n > kMaxBlobBytes) {
      if (f != stdin) std::fclose(f);
      return make_error(Code::invalid_input,
                        fmt::format("blob is over the limit of {} bytes (16 MiB)", kMaxBlobBytes));
    }
    blob.append(buf, n);
  }
  bool error = std::ferror(f);
  int err = errno;
  if (f != stdin) std::fclose(f);
  if (error)
    return make_error(Code::invalid_input,
                      fmt::format("cannot read {}: {}", file, std::strerror(err)));
  return blob;
}

namespace put_cmd {

struct Options {
  std::string type;
  std::optional<std::string> id;      // --id; an empty one is refused, not a new id
  std::optional<std::string> schema;  // --schema, checked by parse_number
  std::string file = "-";
};

Result<void> run(Context& ctx, Options& o) {
  // Check the arguments before reading a possibly large input.
  if (o.id) BLK_TRY(validate_name("id", *o.id));
  BLK_TRY(validate_name("type", o.type));
  std::uint32_t schema = 0;
  if (o.schema) {
    auto n = parse_number(*o.schema, UINT32_MAX, "--schema takes a number");
    if (!n) return std::move(n).error();
    schema = static_cast<std::uint32_t>(*n);
  }
  auto store = ctx.open_for_write();
  if (!store) return std::move(store).error();
  auto blob = read_blob(o.file);
  if (!blob) return std::move(blob).error();
  auto tx = (*store)->begin();
  if (!tx) return std::move(tx).error();
  BlockWrite write;
  write.id = o.id.value_or("");
  write.type = o.type;
  write.blob = std::move(*blob);
  write.schema = schema;
  auto id = (*tx)->put(std::move(write));
  if (!id) return std::move(id).error();
  BLK_TRY((*tx)->commit());
  if (ctx.json) {
    auto b = (*store)->get(*id);
    if (!b) return std::move(b).error();
    std::string line;
    append_block_json(line, **b, BlobField::size);
    out(line + "\n");
  } else {
    out(*id + "\n");
  }
  return {};
}

}  // namespace put_cmd

void add_put(CLI::App& app, Context& ctx) {
  using namespace put_cmd;
  auto* cmd = app.add_subcommand("put", "Write a block from FILE or stdin; print its id");
  auto o = std::make_shared<Options>();
  cmd->add_option("--type,-t", o->type, "The block's type (letters, digits, -_.:@+=/)")
      ->required()
      ->type_name("TYPE");
  cmd->add_option("--id", o->id, "Write this id (create or update); default: a new UUIDv7")
      ->type_name("ID");
  cmd->add_option("--schema", o->schema, "The app's version tag for the blob's format")
      ->type_name("N");
  cmd->add_option("file", o->file, "Read the blob from FILE (default: - for stdin)")
      ->type_name("FILE|-");
  cmd->footer(
      "The blob is stored byte for byte, at most 16 MiB. --json prints the block's "
      "metadata.");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
