#include "blk/plugins/loader.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "blk/merge_plugin.h"

namespace blk::plugins {
namespace {

Error bad_plugin(const std::string& path, std::string_view why) {
  return make_error(Code::invalid_input,
                    fmt::format("{} is not a usable merge plugin: {}", path, why));
}

bool plugin_name_ok(const char* name) {
  if (!name || !*name || std::strlen(name) > 64) return false;
  for (const char* c = name; *c; ++c)
    if (!(std::isalnum(static_cast<unsigned char>(*c)) || *c == '-' || *c == '_')) return false;
  return true;
}

blk_version view(const Block& b) {
  blk_version v{};
  v.id = b.id.c_str();
  v.type = b.type.c_str();
  v.created_at = b.created_at;
  v.modified_at = b.modified_at;
  v.modified_by = b.modified_by.c_str();
  v.schema = b.schema;
  v.blob = reinterpret_cast<const std::uint8_t*>(b.blob.data());
  v.blob_size = b.blob.size();
  return v;
}

// The host's allocator for one call: it remembers what it handed out (in
// the MergeScratch), so the output blob can be checked to be one of its
// blocks, and no bigger.
std::size_t size_of(const MergeScratch& s, const void* p) {
  for (const auto& b : s.blocks)
    if (b.first == p) return b.second;
  return SIZE_MAX;  // not ours
}

void* host_alloc(void* ctx, size_t size) {
  if (size > kMaxBlobBytes) return nullptr;
  auto* s = static_cast<MergeScratch*>(ctx);
  try {
    s->blocks.reserve(s->blocks.size() + 1);  // so that nothing throws into the plugin's C
  } catch (...) {
    return nullptr;
  }
  void* p = std::malloc(size ? size : 1);
  if (p) s->blocks.emplace_back(p, size);
  return p;
}

}  // namespace

Result<LoadedPlugin> LoadedPlugin::load(const std::string& path) {
  // RTLD_LOCAL: two plugins' symbols never meet. A path without a slash
  // would be searched for; ours always name the file.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return bad_plugin(path, why ? why : "dlopen failed");
  }
  auto fail = [&](std::string_view why) {
    dlclose(handle);
    return bad_plugin(path, why);
  };
  auto entry = reinterpret_cast<blk_merge_plugin_entry_fn>(dlsym(handle, BLK_MERGE_PLUGIN_ENTRY));
  if (!entry) return fail("it has no " BLK_MERGE_PLUGIN_ENTRY " function");
  char err[kErrorBytes] = {};
  const blk_merge_plugin* p = entry(BLK_MERGE_ABI_VERSION, sizeof(blk_merge_input),
                                    sizeof(blk_merge_output), err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (!p) return fail(*err ? err : "it refused this blk's ABI");
  if (p->abi_version != BLK_MERGE_ABI_VERSION)
    return fail(fmt::format("it was built for merge ABI version {}; this blk speaks {}",
                            p->abi_version, BLK_MERGE_ABI_VERSION));
  if (p->struct_size < sizeof(blk_merge_plugin))
    return fail(fmt::format("its plugin struct is {} bytes; ABI version {} needs {}",
                            p->struct_size, BLK_MERGE_ABI_VERSION, sizeof(blk_merge_plugin)));
  if (!plugin_name_ok(p->name)) return fail("its name must be 1 to 64 letters, digits, '-' or '_'");
  if (!p->merge) return fail("it has no merge function");
  if (p->type_count == 0 || !p->types) return fail("it names no block types");
  if (p->type_count > 1000) return fail("it names more than 1000 block types");
  PluginInfo info;
  info.name = p->name;
  for (std::size_t i = 0; i < p->type_count; ++i) {
    const char* type = p->types[i].type;
    if (!type || !validate_name("type", type))
      return fail(fmt::format("its type #{} is not a valid block type", i + 1));
    if (max_schema(info, type) >= 0) return fail(fmt::format("it names type '{}' twice", type));
    info.types.push_back(PluginType{type, p->types[i].max_schema});
  }
  return LoadedPlugin(handle, p, std::move(info));
}

LoadedPlugin::LoadedPlugin(LoadedPlugin&& o) noexcept
    : handle_(o.handle_), plugin_(o.plugin_), info_(std::move(o.info_)) {
  o.handle_ = nullptr;
  o.plugin_ = nullptr;
}

LoadedPlugin::~LoadedPlugin() {
  if (handle_) dlclose(handle_);
}

void MergeScratch::release() {
  for (auto& b : blocks) std::free(b.first);
  blocks.clear();
  error.clear();
}

MergeReply LoadedPlugin::merge(const Block& a, const Block& b) const {
  MergeScratch scratch;
  blk_version va = view(a), vb = view(b);
  MergeView v = merge(va, vb, scratch);
  MergeReply r;
  r.status = v.status;
  r.schema = v.schema;
  r.blob.assign(v.blob);
  r.error.assign(v.error);
  return r;  // `scratch` frees what the plugin got
}

MergeView LoadedPlugin::merge(const blk_version& a, const blk_version& b,
                              MergeScratch& scratch) const {
  scratch.release();
  blk_merge_input in{};
  in.struct_size = sizeof in;
  in.a = &a;
  in.b = &b;
  in.base = nullptr;
  blk_allocator alloc{host_alloc, &scratch};
  blk_merge_output out{};
  out.struct_size = sizeof out;
  out.schema = std::max(a.schema, b.schema);
  char err[kErrorBytes] = {};
  blk_merge_status status = plugin_->merge(&in, &alloc, &out, err, sizeof err);
  err[sizeof err - 1] = '\0';

  MergeView r;
  r.status = static_cast<int>(status);
  r.schema = out.schema;
  auto fail = [&](std::string why) {
    r.status = BLK_MERGE_FAILED;
    scratch.error = std::move(why);
  };
  if (status == BLK_MERGE_MERGED) {
    if (!out.blob && out.blob_size > 0) {
      fail("it returned a blob of size " + std::to_string(out.blob_size) + " at NULL");
    } else if (out.blob && size_of(scratch, out.blob) == SIZE_MAX) {
      fail("it returned a blob that blk's allocator did not give it");
    } else if (out.blob && out.blob_size > size_of(scratch, out.blob)) {
      fail(fmt::format("it returned a blob of {} bytes in a block of {}", out.blob_size,
                       size_of(scratch, out.blob)));
    } else if (out.blob_size > kMaxBlobBytes) {
      fail(fmt::format("it returned a blob of {} bytes; the limit is {}", out.blob_size,
                       kMaxBlobBytes));
    } else if (out.blob) {
      r.blob = std::string_view(reinterpret_cast<const char*>(out.blob), out.blob_size);
    }
  } else if (status != BLK_MERGE_CANNOT && status != BLK_MERGE_NOT_HANDLED &&
             status != BLK_MERGE_FAILED) {
    fail(fmt::format("it returned status {}, which is none of the four", r.status));
  } else {
    scratch.error = *err ? err : "(no reason given)";
  }
  r.error = scratch.error;
  return r;
}

std::int64_t max_schema(const PluginInfo& info, std::string_view type) {
  for (const auto& t : info.types)
    if (t.type == type) return t.max_schema;
  return -1;
}

void check_reply(const PluginInfo& info, std::string_view type, MergeReply& r) {
  if (r.status == BLK_MERGE_MERGED && r.schema > max_schema(info, type)) {
    r.status = BLK_MERGE_FAILED;
    r.error = fmt::format("it returned schema {} for type '{}', above the {} it understands",
                          r.schema, type, max_schema(info, type));
  }
  if (r.status != BLK_MERGE_MERGED) r.blob.clear();
}

}  // namespace blk::plugins
