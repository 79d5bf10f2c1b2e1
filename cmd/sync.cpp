// blk sync: bring this store and its peers to the same blocks.
#include <unistd.h>

#include "blk/encoding.hpp"
#include "blk/machine.hpp"
#include "blk/net/sync_client.hpp"
#include "blk/permissions.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace sync_cmd {

struct Options {
  std::vector<std::string> targets;
  bool full = false;
  bool watch = false;
};

// One line per peer on stdout: tab-separated for people and `cut`, or JSON.
std::string result_line(const Context& ctx, const net::SyncTarget& target,
                        const Result<net::SyncResult>& r) {
  std::string name = r && !r->peer.empty() ? r->peer
                     : target.peer         ? target.peer->name
                                           : target.text;
  if (ctx.json) {
    std::string line = "{\"peer\":";
    append_json_string(line, name);
    if (r) {
      line += ",\"ok\":true,\"address\":";
      append_json_string(line, r->address);
      line += fmt::format(",{},\"seconds\":{:.3f}}}\n", sync::stats_json(r->stats), r->seconds);
    } else {
      line += ",\"ok\":false,\"error\":";
      append_json_string(line, r.error().message);
      line += "}\n";
    }
    return line;
  }
  if (r) return fmt::format("{}\tok\t{}, {:.2f} s\n", name, sync::summary(r->stats), r->seconds);
  return fmt::format("{}\tfailed\t{}\n", name, r.error().message);
}

Result<std::vector<net::SyncTarget>> resolve_targets(const Context& ctx, const Manifest& m,
                                                     const std::vector<std::string>& given) {
  std::vector<net::SyncTarget> targets;
  if (!given.empty()) {
    for (const auto& text : given) {
      auto t = net::resolve_target(m, text);
      if (!t) return std::move(t).error();
      targets.push_back(std::move(*t));
    }
    return targets;
  }
  // Every peer we can dial; the others (a phone that only calls in) sync
  // when they call.
  for (const Peer& p : m.peers) {
    if (p.addresses.empty()) {
      if (ctx.verbose) note(ctx, "skipping peer '{}': no address to dial (it calls us)", p.name);
      continue;
    }
    auto t = net::resolve_target(m, p.name);
    if (!t) return std::move(t).error();
    targets.push_back(std::move(*t));
  }
  if (targets.empty())
    return make_error(Code::usage,
                      "no peer to sync with: add one with 'blk peer add NAME KEY ADDRESS'");
  return targets;
}

Result<void> run(Context& ctx, const Options& o) {
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  // One open of the store for the keys and the sync (see load_machine).
  auto store = open_store(*paths);
  if (!store) return std::move(store).error();
  auto machine = load_machine(*paths, **store);
  if (!machine) return std::move(machine).error();
  auto targets = resolve_targets(ctx, machine->manifest, o.targets);
  if (!targets) return std::move(targets).error();
  apply_write_policy(**store, machine->manifest, machine->identity.machine_id);

  sync::Options options;
  options.full = o.full;
  options.watch = o.watch;
  options.prioritize(machine->manifest.sync_priority);
  wire::ChannelLimits limits;

  // The per-peer lines are data with --json; in text they are for people,
  // so -q (cron) leaves them out and only errors are printed.
  auto print = [&](const net::SyncTarget& t, const Result<net::SyncResult>& r) {
    if (ctx.json || !ctx.quiet) out(result_line(ctx, t, r));
  };
  if (o.watch) {
    return net::sync_watch(**store, machine->keys, machine->manifest, *targets, options, limits,
                           [&](const net::SyncTarget& t, const Result<net::SyncResult>& r) {
                             print(t, r);
                             (void)flush_out();
                           });
  }

  bool progress = !ctx.quiet && isatty(STDERR_FILENO);
  std::size_t ok = 0;
  for (const auto& target : *targets) {
    if (progress) fmt::print(stderr, "blk: syncing with {}...\r", target.text);
    auto r = net::sync_once(**store, machine->keys, machine->manifest, target, options, limits);
    if (progress) fmt::print(stderr, "\033[K");
    print(target, r);
    if (r) {
      ++ok;
    } else if (targets->size() == 1) {
      return std::move(r).error();
    } else {
      // An error, not a message: printed even with -q.
      fmt::print(stderr, "blk: sync with {} failed: {}\n", target.text, r.error().message);
    }
  }
  if (targets->size() > 1 && !ctx.json)
    note(ctx, "synced with {} of {} peers", ok, targets->size());
  if (ok == targets->size()) return {};
  if (ok == 0) return make_error(Code::failure, "sync failed with every peer");
  return make_error(Code::partial, fmt::format("sync failed with {} of {} peers",
                                               targets->size() - ok, targets->size()));
}

}  // namespace sync_cmd

void add_sync(CLI::App& app, Context& ctx) {
  using namespace sync_cmd;
  auto* cmd = app.add_subcommand("sync", "Sync with peers: both end with the same blocks");
  auto o = std::make_shared<Options>();
  cmd->add_option("peers", o->targets,
                  "Peers (manifest names) or addresses; default: every peer with an address")
      ->type_name("PEER|ADDRESS...");
  cmd->add_flag("--full", o->full,
                "Reconcile every block (Negentropy) instead of trusting what was synced before");
  cmd->add_flag("--watch,-w", o->watch,
                "Stay connected and stream new commits both ways until SIGINT/SIGTERM");
  cmd->footer(
      "Prints one line per peer: NAME, ok or failed, and what moved (--json: one object\n"
      "per peer; -q: none, failures go to stderr). A peer that cannot be reached does not stop "
      "the\n"
      "others. Exit code 0 if every peer synced, 3 if some did, 1 if none did.\n"
      "Example: blk sync laptop; from cron: blk sync -q");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
