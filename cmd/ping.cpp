// blk ping: authenticate with a peer and time a round trip.
#include "blk/net/ping.hpp"

#include "blk/machine.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace ping_cmd {

Result<void> run(Context& ctx, const std::string& target) {
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  auto machine = load_machine(*paths);
  if (!machine) return std::move(machine).error();
  auto r = net::ping(machine->keys, machine->manifest, target, wire::ChannelLimits{});
  if (!r) return std::move(r).error();
  std::string key = to_base64(r->key);
  if (ctx.json)
    out(
        fmt::format("{{\"peer\":\"{}\",\"key\":\"{}\",\"address\":\"{}\",\"protocol\":{},"
                    "\"rtt_ms\":{:.3f}}}\n",
                    r->peer, key, r->address, r->version, r->rtt_ms));
  else
    out(fmt::format("{}\t{}\t{:.3f} ms\n", r->peer, key, r->rtt_ms));
  return {};
}

}  // namespace ping_cmd

void add_ping(CLI::App& app, Context& ctx) {
  using namespace ping_cmd;
  auto* cmd = app.add_subcommand("ping", "Authenticate with a peer and time a round trip");
  auto target = std::make_shared<std::string>();
  cmd->add_option("peer", *target, "A peer's name in the manifest, or an address")
      ->required()
      ->type_name("PEER|ADDRESS");
  cmd->footer(
      "Prints NAME, KEY and the round trip, tab-separated. To a named peer only its "
      "key is accepted;\nto an address, any peer in the manifest.");
  cmd->callback([&ctx, target] { ctx.result = run(ctx, *target); });
}

}  // namespace blk::cli
