// blk: the command line. Parses the global options, hands the rest to one
// subcommand (cmd/<name>.cpp), and turns its result into one line on stderr
// and an exit code from the stable table in blk/error.hpp.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "blk/plugins/worker.hpp"
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

// An error is one line on stderr, whatever it quotes: a control character
// from an argument or a file name (a newline in `blk get $'a\nb'`) is shown
// as '?'.
std::string one_line(std::string message) {
  for (char& c : message)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
  return message;
}

void print_error(const std::string& message) {
  std::fprintf(stderr, "blk: error: %s\n", one_line(message).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // The merge worker (lib/blk/plugins/worker.hpp) is this same binary,
  // started by blk itself; it is not a command for people.
  if (argc == 2 && std::string_view(argv[1]) == "__merge-worker")
    return blk::plugins::run_merge_worker(0, blk::plugins::kRequestsFd, blk::plugins::kRepliesFd);

  // A closed pipe shows up as EPIPE on write, handled where we write.
  std::signal(SIGPIPE, SIG_IGN);
  blk::cli::note_closed_stdin();

  blk::cli::Context ctx;
  CLI::App app{kDescription, "blk"};
  app.fallthrough();  // global options work after the subcommand, too
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return std::string(e.what()); });
  add_global_options(app, ctx);

  for (auto add : {blk::cli::add_init, blk::cli::add_id, blk::cli::add_put, blk::cli::add_get,
                   blk::cli::add_ls, blk::cli::add_rm, blk::cli::add_import, blk::cli::add_export,
                   blk::cli::add_log, blk::cli::add_peer, blk::cli::add_serve, blk::cli::add_ping,
                   blk::cli::add_sync, blk::cli::add_status, blk::cli::add_merge_plugin})
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
      print_error("'" + rest.front() + "' is not a blk command (see 'blk --help')");
    else {
      // Point at the help of the command that was being parsed.
      std::string help = "blk";
      for (CLI::App* sub = &app; !sub->get_subcommands().empty();) {
        sub = sub->get_subcommands().front();
        help += " " + sub->get_name();
      }
      print_error(std::string(e.what()) + " (see '" + help + " --help')");
    }
    return exit_code(blk::Code::usage);
  } catch (const std::exception& e) {
    print_error(std::string("internal: ") + e.what());
    return exit_code(blk::Code::failure);
  }

  auto flushed = blk::cli::flush_out();
  if (!ctx.result) {
    print_error(ctx.result.error().message);
    return exit_code(ctx.result.error().code);
  }
  if (!flushed) {
    print_error(flushed.error().message);
    return exit_code(flushed.error().code);
  }
  return 0;
}
