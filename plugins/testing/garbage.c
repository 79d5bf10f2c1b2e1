/* garbage: a merge plugin that returns nonsense, for the host's failure
 * tests (README.md). Types: "garbage" (and BLK_PLUGIN_TYPES), max_schema 1.
 * What it returns is chosen by the blobs (a trailing newline is ignored):
 * if either is
 *   "schema"       BLK_MERGE_MERGED, a good blob, and schema 2 (above its max)
 *   "status"       the status 42, which is none of blk_merge_status
 *   "unterminated" BLK_MERGE_FAILED with all err_size bytes of err 'x' (no NUL)
 *   "foreign"      BLK_MERGE_MERGED with a blob the allocator did not return
 *   "oversize"     BLK_MERGE_MERGED, 8 bytes allocated, blob_size 4096
 *                  (under blk's limit: only a host that knows what it
 *                  allocated can tell)
 *   "toolarge"     BLK_MERGE_MERGED, a blob of 16 MiB + 1 bytes (over blk's
 *                  limit), from the allocator
 * and otherwise BLK_MERGE_MERGED with blob NULL and blob_size 100. */
#include <blk/merge_plugin.h>
#include <string.h>

static const blk_merge_type types[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"garbage", 1},
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

static uint8_t foreign[16] = "not yours";

static blk_merge_status merge(const blk_merge_input* in, const blk_allocator* alloc,
                              blk_merge_output* out, char* err, size_t err_size) {
  if (either_is(in, "schema")) {
    out->blob = alloc->alloc(alloc->ctx, 6);
    if (!out->blob) return BLK_MERGE_FAILED;
    memcpy(out->blob, "schema", 6);
    out->blob_size = 6;
    out->schema = 2;
    return BLK_MERGE_MERGED;
  }
  if (either_is(in, "status")) return (blk_merge_status)42;
  if (either_is(in, "unterminated")) {
    if (err) memset(err, 'x', err_size);
    return BLK_MERGE_FAILED;
  }
  if (either_is(in, "foreign")) {
    out->blob = foreign;
    out->blob_size = 9;
    return BLK_MERGE_MERGED;
  }
  if (either_is(in, "oversize")) {
    out->blob = alloc->alloc(alloc->ctx, 8);
    if (!out->blob) return BLK_MERGE_FAILED;
    memset(out->blob, 'x', 8);
    out->blob_size = 4096;
    return BLK_MERGE_MERGED;
  }
  if (either_is(in, "toolarge")) {
    size_t size = ((size_t)16 << 20) + 1;
    out->blob = alloc->alloc(alloc->ctx, size);
    if (!out->blob) return BLK_MERGE_FAILED;
    memset(out->blob, 'x', size);
    out->blob_size = size;
    return BLK_MERGE_MERGED;
  }
  out->blob = NULL;
  out->blob_size = 100;
  return BLK_MERGE_MERGED;
}

static const blk_merge_plugin plugin = {
    sizeof(blk_merge_plugin),
    BLK_MERGE_ABI_VERSION,
    "garbage",
    types,
    sizeof types / sizeof types[0],
    merge,
};

BLK_MERGE_PLUGIN(plugin)
