/* crash: a merge plugin that crashes in merge(), for the host's failure tests
 * (README.md). Types: "crash" (and BLK_PLUGIN_TYPES). What it does is chosen
 * by the blobs: if either is "abort" it calls abort(); "exit", exit(0) (the
 * process ends quietly, as if all was well); anything else, SIGSEGV, as if
 * it wrote through a null pointer (with the default action, even under a
 * sanitizer). A trailing newline in the blob is ignored. */
#include <blk/merge_plugin.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const blk_merge_type types[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"crash", 1},
#endif
};

static int blob_is(const blk_version* v, const char* word) {
  size_t n = v->blob_size, len = strlen(word);
  if (n > 0 && v->blob[n - 1] == '\n') --n;
  return n == len && memcmp(v->blob, word, n) == 0;
}

static int either_is(const blk_merge_input* in, const char* word) {
  return blob_is(in->a, word) || blob_is(in->b, word);
}

static blk_merge_status merge(const blk_merge_input* in, const blk_allocator* alloc,
                              blk_merge_output* out, char* err, size_t err_size) {
  (void)alloc, (void)out, (void)err, (void)err_size;
  if (either_is(in, "abort")) abort();
  if (either_is(in, "exit")) exit(0);
  /* A plain SIGSEGV, even in a host built with sanitizers: their
     handlers (and checks of a real null pointer write) would report the
     crash as a bug of the host's. */
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
  return BLK_MERGE_FAILED;
}

static const blk_merge_plugin plugin = {
    sizeof(blk_merge_plugin),
    BLK_MERGE_ABI_VERSION,
    "crash",
    types,
    sizeof types / sizeof types[0],
    merge,
};

BLK_MERGE_PLUGIN(plugin)
