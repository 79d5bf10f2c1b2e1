#include "blk/plugins/host.hpp"

#include <fmt/format.h>

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

Result<MergeReply> PluginHost::run(Plugin& p, const Block& a, const Block& b) {
  std::string path = dir_ + "/" + p.record.file;
  if (p.record.in_process) {
    if (!p.in_process) {
      auto loaded = LoadedPlugin::load(path);
      if (!loaded) return std::move(loaded).error();
      p.in_process.emplace(std::move(*loaded));
    }
    return p.in_process->merge(a, b);
  }
  if (p.generation != worker_.generation() || p.generation == 0) {
    auto slot = worker_.load(path, nullptr, options_.timeout_ms);
    if (!slot) return std::move(slot).error();
    p.slot = *slot;
    p.generation = worker_.generation();
  }
  return worker_.merge(p.slot, a, b, options_.timeout_ms);
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
  if (!p->record.disabled.empty()) {
    out.plugin.clear();  // nothing to record: it did not run
    out.reason = fmt::format("merge plugin '{}' is disabled ({}); add it again to retry",
                             p->record.name, p->record.disabled);
    return out;
  }
  std::uint32_t schema = std::max(a.schema, b.schema);
  std::int64_t understood = -1;
  for (const auto& t : p->record.types)
    if (t.type == b.type) understood = t.max_schema;
  if (schema > understood) {
    out.plugin.clear();
    out.reason = fmt::format("schema {} is above the {} that merge plugin '{}' understands", schema,
                             understood, p->record.name);
    return out;
  }
  auto reply = run(*p, a, b);
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
