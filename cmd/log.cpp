// blk log: the store's changes in commit order, as JSON lines, for pipes.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "blk/block_json.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace log_cmd {

struct Options {
  std::string since = "0";  // checked by parse_number
  bool follow = false;
  bool blobs = false;
};

// True once the reader of stdout has gone away (a pipe's POLLERR), so
// `blk log --follow | head -1` ends even when nothing new is written.
bool reader_gone() {
  pollfd p{STDOUT_FILENO, 0, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

Result<void> run(Context& ctx, const Options& o) {
  auto since = parse_number(o.since, INT64_MAX, "--since takes a sequence number");
  if (!since) return std::move(since).error();
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  auto last = static_cast<std::int64_t>(*since);
  std::string line;
  for (;;) {
    BLK_TRY((*store)->scan_changes(last, [&](const Block& b) {
      last = b.seq;
      line.clear();
      append_block_json(line, b, o.blobs ? BlobField::base64 : BlobField::size);
      line += '\n';
      return out(line);
    }));
    if (!o.follow || out_closed()) return {};
    BLK_TRY(flush_out());
    if (out_closed() || reader_gone()) return {};
    // Polling the change sequence is one indexed lookup: cheap enough to do
    // five times a second, and it sees writes from any process.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace log_cmd

void add_log(CLI::App& app, Context& ctx) {
  using namespace log_cmd;
  auto* cmd = app.add_subcommand("log", "Print the store's changes as JSON lines, in commit order");
  auto o = std::make_shared<Options>();
  cmd->add_option("--since", o->since, "Only changes after sequence number SEQ (default 0: all)")
      ->type_name("SEQ");
  cmd->add_flag("--follow,-f", o->follow, "Keep running and print new changes as they commit");
  cmd->add_flag("--blobs", o->blobs, "Include each blob, base64 (default: its size)");
  cmd->footer(
      "One line per block whose latest change is after SEQ, in the shape of `ls --json`\n"
      "(with --blobs, of `get --json`); its \"seq\" is the one to pass as --since next time.\n"
      "A block changed twice appears once, at its latest change.");
  cmd->callback([&ctx, o] { ctx.result = run(ctx, *o); });
}

}  // namespace blk::cli
