// `blk __merge-worker`: the long-lived process that runs merge plugins for
// blk, so that a plugin that crashes or hangs takes down only this process
// (worker.hpp starts it). It answers frames on descriptor 0 until EOF.
#include <signal.h>

#include <deque>

#include "blk/plugins/worker.hpp"
#include "blk/plugins/worker_protocol.hpp"

namespace blk::plugins {

int run_merge_worker(int fd) {
  // blk closing the socket ends us; a write to it then must not kill us
  // with SIGPIPE before we notice (send uses MSG_NOSIGNAL; this is for
  // anything a plugin does).
  signal(SIGPIPE, SIG_IGN);
  std::deque<LoadedPlugin> slots;  // deque: slots never move
  std::string body;
  while (wire::read_frame(fd, body)) {
    std::string reply;
    if (auto path = wire::decode_load_request(body)) {
      wire::LoadReply r;
      auto loaded = LoadedPlugin::load(*path);
      if (loaded) {
        r.ok = true;
        r.slot = static_cast<std::uint32_t>(slots.size());
        r.info = loaded->info();
        slots.push_back(std::move(*loaded));
      } else {
        r.error = loaded.error().message;
      }
      reply = wire::encode(r);
    } else if (auto m = wire::decode_merge_request(body)) {
      MergeReply r;
      if (m->slot >= slots.size()) {
        r.error = "no plugin loaded in that slot";
      } else {
        r = slots[m->slot].merge(m->a, m->b);
      }
      reply = wire::encode(r);
    } else {
      return 2;  // not our protocol: nothing sensible to answer
    }
    if (!wire::write_all(fd, wire::frame(reply))) return 1;
  }
  return 0;
}

}  // namespace blk::plugins
