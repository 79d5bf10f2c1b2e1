/* short_struct: a plugin whose blk_merge_plugin says it is smaller than
 * ABI 1's (struct_size 8: only struct_size and abi_version), for the host's
 * failure tests (README.md): the host must not read fields the plugin says
 * it does not have, and refuses it. Types: "short_struct". */
#include <blk/merge_plugin.h>

static const blk_merge_type types[] = {{"short_struct", 1}};

static blk_merge_status merge(const blk_merge_input* in, const blk_allocator* alloc,
                              blk_merge_output* out, char* err, size_t err_size) {
  (void)in, (void)alloc, (void)out, (void)err, (void)err_size;
  return BLK_MERGE_FAILED;
}

static const blk_merge_plugin plugin = {
    8, BLK_MERGE_ABI_VERSION, "short_struct", types, sizeof types / sizeof types[0], merge,
};

BLK_MERGE_PLUGIN(plugin)
