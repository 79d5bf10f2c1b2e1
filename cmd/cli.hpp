// What every subcommand shares: the global options, the result slot that
// main turns into an exit code, and stdout/stderr helpers. Commands parse,
// call the library and print; the logic lives in lib/.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
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
  // For local writes: the store, checking writes against the manifest's
  // owner-only types (output.cpp).
  Result<std::unique_ptr<Store>> open_for_write() const;
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
void add_merge_plugin(CLI::App& app, Context& ctx);

// A whole file ("-": stdin) as a blob: Code::invalid_input if it cannot be
// read or is over kMaxBlobBytes (put.cpp).
Result<std::string> read_blob(const std::string& file);

// Opens FILE ("-": stdin) to read a blob or an import from;
// Code::invalid_input if it cannot be opened, or if blk was started with
// stdin closed (`blk put <&-`): such a command would otherwise read
// SQLite's /dev/null stand-in (SQLite puts one on any descriptor below 3
// it is given) and store an empty blob.
Result<std::FILE*> open_input(const std::string& file);
// Notes, first thing in main, whether stdin was closed.
void note_closed_stdin();

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

// A number option's text (--schema, log --since): decimal digits only, from
// 0 to `max`. CLI11 would take "" as 0, a number too large as the largest
// one, and 0x10 as 16. Code::usage, saying `what` the option takes, if not.
inline Result<std::uint64_t> parse_number(std::string_view text, std::uint64_t max,
                                          std::string_view what) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max)
    return make_error(Code::usage, fmt::format("{} from 0 to {}, not '{}'", what, max, text));
  return value;
}

}  // namespace blk::cli
