/* max_score: a blk merge plugin in plain C (man 3 blk-merge-plugin).
 *
 * A blob is a decimal integer in ASCII: an optional '-', then
 * digits, then at most one newline (as echo writes it), of any
 * length. The merge is the larger of the two, without leading zeros
 * or newline. Build and install:
 *
 *   cc -shared -fPIC -fvisibility=hidden -o max_score.so max_score.c
 *   blk merge-plugin add ./max_score.so
 */
#include <blk/merge_plugin.h>
#include <stdio.h>
#include <string.h>

/* The block types it merges, and the highest schema of each: schema
   0 (blk's default) and 1 are the format above. For other types,
   build with -D'BLK_PLUGIN_TYPES={"level", 1}, {"highscore", 1}'. */
static const blk_merge_type types[] = {
#ifdef BLK_PLUGIN_TYPES
    BLK_PLUGIN_TYPES
#else
    {"score", 1},
#endif
};
#define TYPE_COUNT (sizeof types / sizeof types[0])

/* A number: its sign, and its digits without leading zeros (none
   for 0). */
typedef struct number {
  int negative;
  const uint8_t* digits;
  size_t length;
} number;

/* Reads v's blob into n; 0 if it is not a decimal integer. */
static int parse(const blk_version* v, number* n) {
  const uint8_t* s = v->blob;
  size_t end = v->blob_size, i;
  if (end > 0 && s[end - 1] == '\n') --end;
  n->negative = end > 0 && s[0] == '-';
  i = n->negative ? 1 : 0;
  if (i == end) return 0;
  for (size_t j = i; j < end; ++j)
    if (s[j] < '0' || s[j] > '9') return 0;
  while (i < end && s[i] == '0') ++i;
  n->digits = s + i;
  n->length = end - i;
  if (n->length == 0) n->negative = 0; /* -0 is 0 */
  return 1;
}

/* Below, at or above zero as x < y, x == y or x > y. */
static int compare(const number* x, const number* y) {
  int c;
  if (x->negative != y->negative) return x->negative ? -1 : 1;
  if (x->length != y->length)
    c = x->length < y->length ? -1 : 1;
  else
    c = x->length ? memcmp(x->digits, y->digits, x->length) : 0;
  return x->negative ? -c : c;
}

static int handled(const blk_version* v) {
  for (size_t i = 0; i < TYPE_COUNT; ++i)
    if (strcmp(v->type, types[i].type) == 0)
      return v->schema <= types[i].max_schema;
  return 0;
}

static blk_merge_status merge(const blk_merge_input* in,
                              const blk_allocator* alloc,
                              blk_merge_output* out, char* err,
                              size_t err_size) {
  number a, b;
  const number* max;
  uint8_t* p;
  if (!handled(in->a) || !handled(in->b)) {
    snprintf(err, err_size,
             "max_score does not merge this type or schema");
    return BLK_MERGE_NOT_HANDLED;
  }
  if (!parse(in->a, &a) || !parse(in->b, &b)) {
    const blk_version* bad = parse(in->a, &a) ? in->b : in->a;
    snprintf(err, err_size,
             "the blob by machine %s is not an integer",
             bad->modified_by);
    return BLK_MERGE_CANNOT;
  }
  /* max(x, y) == max(y, x): the order of a and b does not matter. */
  max = compare(&a, &b) >= 0 ? &a : &b;
  out->blob_size =
      (size_t)max->negative + (max->length ? max->length : 1);
  out->blob = alloc->alloc(alloc->ctx, out->blob_size);
  if (!out->blob) {
    out->blob_size = 0;
    snprintf(err, err_size, "out of memory");
    return BLK_MERGE_FAILED;
  }
  p = out->blob;
  if (max->negative) *p++ = '-';
  if (max->length)
    memcpy(p, max->digits, max->length);
  else
    *p = '0';
  return BLK_MERGE_MERGED;
}

static const blk_merge_plugin plugin = {
    sizeof(blk_merge_plugin),
    BLK_MERGE_ABI_VERSION,
    "max_score",
    types,
    TYPE_COUNT,
    merge,
};

BLK_MERGE_PLUGIN(plugin)
