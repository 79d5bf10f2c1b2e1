/* hang: a merge plugin whose merge() never returns, for the host's failure
 * tests (README.md). Types: "hang" (and BLK_PLUGIN_TYPES). It spins on the
 * CPU; if either blob is "ignore-term" it first ignores SIGTERM, so only
 * SIGKILL stops it. A trailing newline in the blob is ignored. */
#include <blk/merge_plugin.h>
#include <signal.h>
#include <string.h>

static const blk_merge_type types[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"hang", 1},
#endif
};

static int blob_is(const blk_version* v, const char* word) {
  size_t n = v->blob_size, len = strlen(word);
  if (n > 0 && v->blob[n - 1] == '\n') --n;
  return n == len && memcmp(v->blob, word, n) == 0;
}

static blk_merge_status merge(const blk_merge_input* in, const blk_allocator* alloc,
                              blk_merge_output* out, char* err, size_t err_size) {
  volatile unsigned long spins = 0;
  (void)alloc, (void)out, (void)err, (void)err_size;
  if (blob_is(in->a, "ignore-term") || blob_is(in->b, "ignore-term")) signal(SIGTERM, SIG_IGN);
  for (;;) ++spins;
  return BLK_MERGE_FAILED; /* never */
}

static const blk_merge_plugin plugin = {
    sizeof(blk_merge_plugin),
    BLK_MERGE_ABI_VERSION,
    "hang",
    types,
    sizeof types / sizeof types[0],
    merge,
};

BLK_MERGE_PLUGIN(plugin)
