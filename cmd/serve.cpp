// blk serve: answer peers, over the network or stdin/stdout.
#include "blk/machine.hpp"
#include "blk/net/server.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace serve_cmd {

struct Options {
  std::vector<std::string> listen;
  bool stdio = false;
};

Result<void> run(Context& ctx, const Options& o) {
  if (o.stdio && !o.listen.empty())
    return make_error(Code::usage, "--stdio serves one peer on stdin/stdout; it takes no --listen");
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  // This connection stays open, unused, while we serve. Each sync opens its
  // own, and a connection that opens the store while no other has it open
  // (in any process) makes SQLite rebuild the WAL index (blk.db-shm) by
  // reading the whole WAL, up to 1000 pages: with ours open, no sync does.
  auto held = open_store(*paths);
  if (!held) return std::move(held).error();
  auto machine = load_machine(*paths, **held);
  if (!machine) return std::move(machine).error();
  net::ServerConfig config;
  config.keys = machine->keys;
  config.manifest = machine->manifest;
  config.manifest_path = paths->manifest();
  config.open_store = [p = *paths]() { return open_store(p); };
  config.stdio = o.stdio;
  config.listen = machine->manifest.listen;
  if (!o.listen.empty()) {
    config.listen.clear();
    for (const auto& text : o.listen) {
      auto a = parse_listen_address(text);
      if (!a) return std::move(a).error();
      config.listen.push_back(*a);
    }
  }
  // Over stdio our stderr is the dialling side's (ssh passes it through):
  // it gets only our final error, unless -v asks for the whole story.
  bool log = o.stdio ? ctx.verbose : !ctx.quiet;
  config.log = [log](const std::string& line) {
    if (log) fmt::print(stderr, "blk serve: {}\n", line);
  };
  return net::serve(config);
}

}  // namespace serve_cmd

void add_serve(CLI::App& app, Context& ctx) {
  using namespace serve_cmd;
  auto* cmd = app.add_subcommand("serve", "Answer peers: listen for connections, or serve stdio");
  auto o = std::make_shared<Options>();
  cmd->add_option("--listen,-l", o->listen,
                  "Listen on ADDR (tcp://HOST:PORT or ws://HOST:PORT/PATH); repeatable. "
                  "Default: the manifest's [machine] listen")
      ->type_name("ADDR");
  cmd->add_flag("--stdio", o->stdio, "Serve one peer over stdin/stdout (for exec: and ssh://)");
  cmd->footer(
      "Only peers listed in the manifest get past the handshake. One line per "
      "connection event on stderr; SIGINT or SIGTERM stops it cleanly.");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
