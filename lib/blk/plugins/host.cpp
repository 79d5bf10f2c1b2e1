#include "blk/plugins/host.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "blk/merge_plugin.h"

namespace blk::plugins {

PluginHost::PluginHost(std::vector<PluginRecord> plugins, std::string dir, HostOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), worker_(options_.worker_exe) {
  for (auto& r : plugins) plugins_.push_back(Plugin{std::move(r), std::nullopt, 0, 0, false});
}

PluginHost::~PluginHost() = default;

PluginHost::Plugin* PluginHost::for_type(std::string_view type) {
  for (auto& p : plugins_)
    for (const auto& t : p.record.types)
      if (t.type == type) return &p;
  return nullptr;
}

std::optional<std::string> PluginHost::will_not_run(const Plugin& p, const Block& a,
                                                    const Block& b) const {
  if (!p.record.disabled.empty())
    return fmt::format("merge plugin '{}' is disabled ({}); add it again to retry", p.record.name,
                       p.record.disabled);
  std::uint32_t schema = std::max(a.schema, b.schema);
  std::int64_t understood = -1;
  for (const auto& t : p.record.types)
    if (t.type == b.type) understood = t.max_schema;
  if (schema > understood)
    return fmt::format("schema {} is above the {} that merge plugin '{}' understands", schema,
                       understood, p.record.name);
  return std::nullopt;
}

// Loads a worker plugin into the worker as it is now (starting it). A
// worker that was stopped (it crashed, hung) has none loaded: the one the
// next request starts is of a new generation.
Result<void> PluginHost::ensure_loaded(Plugin& p) {
  if (!worker_.running() || p.generation != worker_.generation() || p.generation == 0) {
    auto slot = worker_.load(dir_ + "/" + p.record.file, nullptr, options_.timeout_ms);
    if (!slot) return std::move(slot).error();
    p.slot = *slot;
    p.generation = worker_.generation();
  }
  return {};
}

Result<MergeReply> PluginHost::run(Plugin& p, const Block& a, const Block& b) {
  if (p.record.in_process) {
    if (!p.in_process) {
      auto loaded = LoadedPlugin::load(dir_ + "/" + p.record.file);
      if (!loaded) return std::move(loaded).error();
      p.in_process.emplace(std::move(*loaded));
    }
    return p.in_process->merge(a, b);
  }
  BLK_TRY(ensure_loaded(p));
  return worker_.merge(p.slot, a, b, options_.timeout_ms);
}

void PluginHost::prepare(const std::vector<std::pair<const Block*, const Block*>>& pairs) {
  prepared_.clear();
  // The pairs for the worker, and their plugins loaded first: a load that
  // fails leaves that plugin's pairs to merge() (which tries again, and
  // handles the failure as always).
  std::vector<std::pair<const Block*, const Block*>> todo;
  std::vector<Plugin*> plugin_of;
  for (const auto& pair : pairs) {
    Plugin* p = for_type(pair.second->type);
    if (!p || p->record.in_process || will_not_run(*p, *pair.first, *pair.second)) continue;
    todo.push_back(pair);
    plugin_of.push_back(p);
  }
  if (todo.size() < 2) return;  // nothing to gain: merge() does it as fast
  std::vector<Plugin*> tried;
  for (Plugin* p : plugin_of)
    if (std::find(tried.begin(), tried.end(), p) == tried.end()) {
      tried.push_back(p);
      (void)ensure_loaded(*p);
    }
  if (!worker_.running()) return;
  // A plugin loaded before a later load killed the worker is out of date.
  std::vector<Worker::Job> jobs;
  std::vector<std::size_t> index;  // of each job in todo
  for (std::size_t i = 0; i < todo.size(); ++i) {
    Plugin* p = plugin_of[i];
    if (p->generation == 0 || p->generation != worker_.generation()) continue;
    jobs.push_back(Worker::Job{p->slot, todo[i].first, todo[i].second});
    index.push_back(i);
  }
  std::vector<MergeReply> replies;
  replies.reserve(jobs.size());
  auto done = worker_.merge_many(jobs, replies, options_.timeout_ms);
  auto key = [&](std::size_t job) {
    const auto& [a, b] = todo[index[job]];
    return std::pair{a->version_hash, b->version_hash};
  };
  for (std::size_t j = 0; j < replies.size(); ++j) prepared_.emplace(key(j), std::move(replies[j]));
  // A worker that crashed or hung is not blamed here: it answers a batch
  // in writes of several replies (worker_main.cpp), so the pair it failed
  // on may be past the first unanswered one. merge() runs every pair from
  // there one at a time, and meets the failure where it is.
  (void)done;
}

MergeAttempt PluginHost::failed(Plugin& p, const Block& b, std::string why) {
  MergeAttempt out;
  out.kind = MergeAttempt::Kind::hold;
  out.plugin = p.record.name;
  out.failed = true;
  out.reason = fmt::format("merge plugin '{}' failed: {}", p.record.name, why);
  if (++p.record.failures >= kPluginFailureLimit && p.record.disabled.empty())
    p.record.disabled = out.reason;
  if (!p.warned && options_.warn) {
    p.warned = true;
    options_.warn(
        fmt::format("{}; concurrent versions of its blocks (first: '{}') are held, "
                    "not lost: see 'blk ls --held'",
                    out.reason, b.id));
  }
  return out;
}

MergeAttempt PluginHost::merge(const Block& a, const Block& b) {
  MergeAttempt out;
  Plugin* p = for_type(b.type);
  if (!p) return out;  // last-write-wins
  out.plugin = p->record.name;
  out.kind = MergeAttempt::Kind::hold;
  if (auto why = will_not_run(*p, a, b)) {
    out.plugin.clear();  // nothing to record: it did not run
    out.reason = std::move(*why);
    return out;
  }
  std::optional<MergeReply> taken;  // what prepare() got for these two
  if (!prepared_.empty()) {
    auto it = prepared_.find(std::pair{a.version_hash, b.version_hash});
    if (it != prepared_.end()) {
      taken.emplace(std::move(it->second));
      prepared_.erase(it);
    }
  }
  Result<MergeReply> reply = taken ? Result<MergeReply>(std::move(*taken)) : run(*p, a, b);
  if (!reply) return failed(*p, b, reply.error().message);
  PluginInfo info{p->record.name, p->record.types};
  check_reply(info, b.type, *reply);
  switch (reply->status) {
    case BLK_MERGE_MERGED:
      p->record.failures = 0;
      out.kind = MergeAttempt::Kind::merged;
      out.blob = std::move(reply->blob);
      out.schema = reply->schema;
      return out;
    case BLK_MERGE_CANNOT:
    case BLK_MERGE_NOT_HANDLED:
      // The plugin's considered answer, not a failure: the versions wait
      // (held) for a plugin, or an app, that can merge them.
      p->record.failures = 0;
      out.reason =
          fmt::format("merge plugin '{}' cannot merge them: {}", p->record.name, reply->error);
      return out;
    default:
      return failed(*p, b, reply->error);
  }
}

Result<std::shared_ptr<Merger>> merger_for(Store& store, const std::string& plugin_dir,
                                           HostOptions options) {
  auto records = store.plugins();
  if (!records) return std::move(records).error();
  if (records->empty()) return std::shared_ptr<Merger>();
  return std::shared_ptr<Merger>(
      std::make_shared<PluginHost>(std::move(*records), plugin_dir, std::move(options)));
}

}  // namespace blk::plugins
