// blk: the command line. Parses the global options, hands the rest to one
// subcommand (cmd/<name>.cpp), and turns its result into one line on stderr
// and an exit code from the stable table in blk/error.hpp.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string_view>

#include "cli.hpp"

namespace {

const char* const kDescription =
    "blk: a local-first block store with transactions, for your own few machines.\n"
    "Machines sync peer to peer over an authenticated, encrypted channel.\n"
    "Data goes to stdout, messages to stderr. See man blk(1) for the exit codes.";

void add_global_options(CLI::App& app, blk::cli::Context& ctx) {
  app.add_option("--store", ctx.store_dir,
                 "Store directory (default: $BLK_STORE, else $XDG_DATA_HOME/blk/APP)")
      ->type_name("DIR");
  app.add_option("--app", ctx.app, "App name for the default store location (or $BLK_APP)")
      ->type_name("NAME");
  app.add_flag("--json", ctx.json, "Machine-readable output: JSON (one object per line)");
  app.add_flag("-q,--quiet", ctx.quiet, "Print no messages, only data and errors");
  app.add_flag("-v,--verbose", ctx.verbose, "Print more about what is done");
  app.set_version_flag("--version", std::string("blk ") + BLK_VERSION);
}

int exit_code(blk::Code code) {
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe shows up as EPIPE on write, handled where we write.
  std::signal(SIGPIPE, SIG_IGN);

  blk::cli::Context ctx;
  CLI::App app{kDescription, "blk"};
  app.fallthrough();  // global options work after the subcommand, too
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return std::string(e.what()); });
  add_global_options(app, ctx);

  for (auto add : {blk::cli::add_init, blk::cli::add_id, blk::cli::add_put, blk::cli::add_get,
                   blk::cli::add_ls, blk::cli::add_rm, blk::cli::add_import, blk::cli::add_export,
                   blk::cli::add_log, blk::cli::add_peer, blk::cli::add_serve, blk::cli::add_ping,
                   blk::cli::add_sync, blk::cli::add_status})
    add(app, ctx);

  if (argc >= 2 && std::string_view(argv[1]) == "__complete") {
    blk::cli::complete(app, std::vector<std::string>(argv + 2, argv + argc));
    return 0;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    auto rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && rest.front()[0] != '-')
      std::fprintf(stderr, "blk: error: '%s' is not a blk command (see 'blk --help')\n",
                   rest.front().c_str());
    else {
      // Point at the help of the command that was being parsed.
      std::string help = "blk";
      for (CLI::App* sub = &app; !sub->get_subcommands().empty();) {
        sub = sub->get_subcommands().front();
        help += " " + sub->get_name();
      }
      std::fprintf(stderr, "blk: error: %s (see '%s --help')\n", e.what(), help.c_str());
    }
    return exit_code(blk::Code::usage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blk: error: internal: %s\n", e.what());
    return exit_code(blk::Code::failure);
  }

  auto flushed = blk::cli::flush_out();
  if (!ctx.result) {
    std::fprintf(stderr, "blk: error: %s\n", ctx.result.error().message.c_str());
    return exit_code(ctx.result.error().code);
  }
  if (!flushed) {
    std::fprintf(stderr, "blk: error: %s\n", flushed.error().message.c_str());
    return exit_code(flushed.error().code);
  }
  return 0;
}
