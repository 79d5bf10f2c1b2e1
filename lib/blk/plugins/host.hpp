// The merge plugins installed in a store, as the Merger that apply() uses:
// which plugin merges which type, run in the worker process (or in blk for
// a plugin added --in-process), and what happens when one fails.
//
// Nothing is started until the first merge: a sync that merges nothing
// never starts the worker.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blk/merge.hpp"
#include "blk/plugins/loader.hpp"
#include "blk/plugins/worker.hpp"
#include "blk/store.hpp"

namespace blk::plugins {

struct HostOptions {
  std::string worker_exe = self_exe();
  int timeout_ms = merge_timeout_ms();
  // Told once per plugin when it fails (blk prints "blk: warning: ...").
  std::function<void(const std::string&)> warn;
};

class PluginHost final : public Merger {
 public:
  // `dir` holds the plugin files (STORE/plugins).
  PluginHost(std::vector<PluginRecord> plugins, std::string dir, HostOptions options);
  ~PluginHost() override;

  MergeAttempt merge(const Block& a, const Block& b) override;
  // Runs the pairs that go to the worker (not --in-process, not disabled,
  // a schema the plugin understands) through it pipelined, and keeps each
  // reply for merge() of the same two versions, which takes it instead of
  // a round trip: what the worker answered (merged, cannot, not handled,
  // failed). A worker that crashes or hangs keeps nothing more: merge()
  // runs the pairs from there one at a time, and a failure is handled as
  // it always is. What a previous prepare() kept and merge() did not take
  // is dropped.
  void prepare(const std::vector<std::pair<const Block*, const Block*>>& pairs) override;

  // The worker's requests one at a time and merges pipelined (Worker).
  const Worker& worker() const { return worker_; }

 private:
  struct Plugin {
    PluginRecord record;
    std::optional<LoadedPlugin> in_process;
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;  // the worker generation `slot` is from
    bool warned = false;
  };
  Plugin* for_type(std::string_view type);
  // Why merge() would not run `p` on a and b (disabled, schema too high),
  // or nothing.
  std::optional<std::string> will_not_run(const Plugin& p, const Block& a, const Block& b) const;
  Result<void> ensure_loaded(Plugin& p);
  Result<MergeReply> run(Plugin& p, const Block& a, const Block& b);
  MergeAttempt failed(Plugin& p, const Block& b, std::string why);

  std::vector<Plugin> plugins_;
  std::string dir_;
  HostOptions options_;
  Worker worker_;
  // prepare()'s answers by (a's, b's version hash), for merge() to take.
  std::map<std::pair<std::string, std::string>, MergeReply> prepared_;
};

// The merger for a store's installed plugins, or none if it has none.
Result<std::shared_ptr<Merger>> merger_for(Store& store, const std::string& plugin_dir,
                                           HostOptions options = {});

}  // namespace blk::plugins
