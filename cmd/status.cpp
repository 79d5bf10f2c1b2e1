// blk status: per peer, when it last synced, what went wrong, what waits.
#include "blk/encoding.hpp"
#include "blk/identity.hpp"
#include "blk/manifest.hpp"
#include "blk/time_text.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace status_cmd {

struct Row {
  std::string name;  // manifest name, or the machine id if no longer listed
  PeerState state;
  std::int64_t unsent = 0;  // our changes the peer has not said it holds
  std::int64_t held = 0;    // versions it sent that are held here
};

Result<void> run(Context& ctx) {
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  // Only the store and the manifest: status never needs the secret key.
  // The store first: no store (exit code 10) is not a missing manifest.
  auto store = open_store(*paths);
  if (!store) return std::move(store).error();
  auto manifest = load_manifest(paths->manifest());
  if (!manifest) return std::move(manifest).error();
  auto states = (*store)->peer_states();
  if (!states) return std::move(states).error();

  // Manifest peers first, in manifest order; then machines we synced with
  // that are no longer listed.
  std::vector<Row> rows;
  for (const Peer& p : manifest->peers) {
    std::string id = machine_id_for(
        std::string_view(reinterpret_cast<const char*>(p.public_key.data()), p.public_key.size()));
    Row row;
    row.name = p.name;
    row.state.machine_id = id;
    for (const auto& s : *states)
      if (s.machine_id == id) row.state = s;
    rows.push_back(std::move(row));
  }
  for (const auto& s : *states) {
    bool listed = false;
    for (const auto& r : rows) listed = listed || r.state.machine_id == s.machine_id;
    if (!listed) rows.push_back(Row{s.machine_id, s, 0, 0});
  }
  for (auto& row : rows) {
    auto n = (*store)->count_changes_after(row.state.peer_has, row.state.machine_id);
    if (!n) return std::move(n).error();
    row.unsent = *n;
    auto held = (*store)->count_held(row.state.machine_id);
    if (!held) return std::move(held).error();
    row.held = *held;
  }

  for (const auto& row : rows) {
    const PeerState& s = row.state;
    std::string line;
    if (ctx.json) {
      line = "{\"peer\":";
      append_json_string(line, row.name);
      line += fmt::format(",\"machine_id\":\"{}\",\"last_ok\":{},\"last_attempt\":{},\"error\":",
                          s.machine_id, s.last_ok ? std::to_string(*s.last_ok) : "null",
                          s.last_attempt ? std::to_string(*s.last_attempt) : "null");
      if (s.last_error.empty())
        line += "null";
      else
        append_json_string(line, s.last_error);
      line += fmt::format(",\"unsent\":{},\"held\":{},\"cursor\":{}}}\n", row.unsent, row.held,
                          s.cursor);
    } else {
      std::string last = s.last_ok ? format_time(*s.last_ok) : "never";
      std::string how = !s.last_attempt ? "never synced"
                        : s.last_error.empty()
                            ? "ok"
                            : "failed " + format_time(*s.last_attempt) + ": " + s.last_error;
      line = fmt::format("{}\t{}\t{} unsent{}\t{}\n", row.name, last, row.unsent,
                         row.held ? fmt::format(", {} held", row.held) : "", how);
    }
    if (!out(line)) break;
  }
  return {};
}

}  // namespace status_cmd

void add_status(CLI::App& app, Context& ctx) {
  using namespace status_cmd;
  auto* cmd = app.add_subcommand("status", "Per peer: last successful sync, last error, unsent");
  cmd->footer(
      "One line per peer: NAME, LAST_OK (or never), N unsent (our changes the peer has\n"
      "not confirmed; ', M held' if versions it sent are held: blk ls --held), and\n"
      "ok / never synced / failed TIME: ERROR — tab-separated.\n"
      "--json: {peer, machine_id, last_ok, last_attempt (ms), error, unsent, held, cursor}.\n"
      "'unsent' counts from what the peer said it held at the last sync.");
  cmd->callback([&ctx] { ctx.result = run(ctx); });
}

}  // namespace blk::cli
