// What every subcommand shares: the global options, the result slot that
// main turns into an exit code, and stdout/stderr helpers. Commands parse,
// call the library and print; the logic lives in lib/.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "blk/error.hpp"
#include "blk/store.hpp"
#include "blk/store_dir.hpp"

namespace blk::cli {

struct Context {
  std::optional<std::string> store_dir;  // --store
  std::optional<std::string> app;        // --app
  bool json = false;
  bool quiet = false;
  bool verbose = false;

  // What the command that ran returned; main maps it to the exit code.
  Result<void> result;

  Result<StorePaths> paths() const { return resolve_store(store_dir, app); }
  Result<std::unique_ptr<Store>> open() const {
    auto p = paths();
    if (!p) return std::move(p).error();
    return open_store(*p);
  }
};

// Registers one subcommand on `app`. Each lives in its own file in cmd/.
void add_init(CLI::App& app, Context& ctx);
void add_id(CLI::App& app, Context& ctx);
void add_put(CLI::App& app, Context& ctx);
void add_get(CLI::App& app, Context& ctx);
void add_ls(CLI::App& app, Context& ctx);
void add_rm(CLI::App& app, Context& ctx);
void add_import(CLI::App& app, Context& ctx);
void add_export(CLI::App& app, Context& ctx);
void add_log(CLI::App& app, Context& ctx);
void add_peer(CLI::App& app, Context& ctx);
void add_serve(CLI::App& app, Context& ctx);
void add_ping(CLI::App& app, Context& ctx);
void add_sync(CLI::App& app, Context& ctx);
void add_status(CLI::App& app, Context& ctx);

// Prints the completions for `words` (the command line after `blk`, the
// last word being completed); main calls it for `blk __complete WORD...`,
// before parsing, so that no word is taken for an option of its own.
void complete(CLI::App& app, const std::vector<std::string>& words);

// Writes to stdout through its buffer; false once a write has failed, so a
// long listing stops early. A reader that went away (EPIPE, as in
// `blk export | head -1`) is not an error: the command ends quietly.
bool out(std::string_view bytes);
// Flushes stdout. An error for a failed write other than EPIPE (disk full).
Result<void> flush_out();
// True once a write to stdout has failed.
bool out_closed();

// A message for the person on stderr, unless -q.
template <class... Args>
void note(const Context& ctx, fmt::format_string<Args...> f, Args&&... args) {
  if (!ctx.quiet) fmt::print(stderr, "blk: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace blk::cli
