/* wrong_abi: a plugin whose blk_merge_plugin claims ABI version 2, for the
 * host's failure tests (README.md): its entry point accepts a version 1 host
 * (the macro's check), so the host must check abi_version itself and refuse
 * the plugin. Types: "wrong_abi" (and BLK_PLUGIN_TYPES); merge() is never
 * meant to run (it would return b's blob). */
#include <blk/merge_plugin.h>

static const blk_merge_type types[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"wrong_abi", 1},
#endif
};

static blk_merge_status merge(const blk_merge_input* in, const blk_allocator* alloc,
                              blk_merge_output* out, char* err, size_t err_size) {
  (void)err, (void)err_size;
  out->blob = alloc->alloc(alloc->ctx, in->b->blob_size ? in->b->blob_size : 1);
  if (!out->blob) return BLK_MERGE_FAILED;
  for (size_t i = 0; i < in->b->blob_size; ++i) out->blob[i] = in->b->blob[i];
  out->blob_size = in->b->blob_size;
  return BLK_MERGE_MERGED;
}

static const blk_merge_plugin plugin = {
    sizeof(blk_merge_plugin), 2u, "wrong_abi", types, sizeof types / sizeof types[0], merge,
};

BLK_MERGE_PLUGIN(plugin)
