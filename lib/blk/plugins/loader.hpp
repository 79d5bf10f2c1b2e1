// Loading a merge plugin (include/blk/merge_plugin.h) and calling it: the
// ABI checks both ways, and a merge call whose output is checked before
// anyone trusts it. The worker process runs this; so does blk itself for a
// plugin added --in-process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blk/block.hpp"
#include "blk/error.hpp"
#include "blk/store.hpp"

struct blk_merge_plugin;
struct blk_version;

namespace blk::plugins {

struct PluginInfo {
  std::string name;
  std::vector<PluginType> types;
};

// A merge's result, checked: `status` is one of the header's four (a reply
// outside them is turned into failed), a merged blob is at most
// kMaxBlobBytes, and `error` is set for anything but merged.
struct MergeReply {
  int status = 3;  // blk_merge_status
  std::string blob;
  std::uint32_t schema = 0;
  std::string error;
};

// The largest error text a plugin may write (the buffer it is given).
inline constexpr std::size_t kErrorBytes = 512;

// What a merge leaves behind until the next merge given the same scratch
// (or its end): the blocks the plugin allocated, one of them the output
// blob, and the error text. Reusing one saves the allocations of a new one.
struct MergeScratch {
  MergeScratch() = default;
  MergeScratch(const MergeScratch&) = delete;
  MergeScratch& operator=(const MergeScratch&) = delete;
  ~MergeScratch() { release(); }
  void release();  // frees the plugin's blocks

  std::vector<std::pair<void*, std::size_t>> blocks;
  std::string error;
};

// A MergeReply as views into a MergeScratch, checked the same way.
struct MergeView {
  int status = 3;  // blk_merge_status
  std::uint32_t schema = 0;
  std::string_view blob;
  std::string_view error;
};

class LoadedPlugin {
 public:
  // dlopen()s the file and runs the ABI handshake. Code::invalid_input with
  // what is wrong: not a shared object, no entry point, another ABI version,
  // a bad name or type list.
  static Result<LoadedPlugin> load(const std::string& path);

  LoadedPlugin(LoadedPlugin&& o) noexcept;
  LoadedPlugin& operator=(LoadedPlugin&&) = delete;
  LoadedPlugin(const LoadedPlugin&) = delete;
  ~LoadedPlugin();

  const PluginInfo& info() const { return info_; }

  // Merges live versions a (loses last-write-wins) and b, in that order.
  MergeReply merge(const Block& a, const Block& b) const;

  // The same for versions as the plugin sees them (strings NUL-terminated),
  // without copying the output: it stays in `scratch` (freed first).
  MergeView merge(const blk_version& a, const blk_version& b, MergeScratch& scratch) const;

 private:
  LoadedPlugin(void* handle, const blk_merge_plugin* p, PluginInfo info)
      : handle_(handle), plugin_(p), info_(std::move(info)) {}

  void* handle_ = nullptr;
  const blk_merge_plugin* plugin_ = nullptr;
  PluginInfo info_;
};

// The highest schema `info` understands for `type`; -1 if it does not merge
// that type.
std::int64_t max_schema(const PluginInfo& info, std::string_view type);

// Checks a reply against the plugin's promises: a merged blob's schema must
// be one it understands for the type. Turns a broken reply into failed.
void check_reply(const PluginInfo& info, std::string_view type, MergeReply& reply);

}  // namespace blk::plugins
