/* blk merge plugins: the C interface (ABI version 1). man 3 blk-merge-plugin.
 *
 * A merge plugin is a shared object that merges two concurrent versions of
 * a block into one, for the block types it names. blk calls it when two
 * machines changed the same block without seeing each other's change; with
 * no plugin for a type, blk keeps the last write (last-write-wins).
 *
 * The contract, in short:
 *  - The plugin exports one function, blk_merge_plugin_v1 (the
 *    BLK_MERGE_PLUGIN macro below writes it), returning a static
 *    blk_merge_plugin that names its types and its merge function.
 *  - Both sides check the ABI: the host passes its ABI version and struct
 *    sizes, the plugin says which it was built with; a mismatch is refused
 *    with a message, never guessed at.
 *  - merge() gets two live versions (never a tombstone: blk settles a delete
 *    against an edit itself) in a canonical order: `a` is the one that would
 *    lose last-write-wins, `b` the one that would win. Every machine passes
 *    the same two in the same order, so a merge that is a function of its
 *    inputs gives the same result everywhere (blk checks this: `blk
 *    merge-plugin test` also merges in swapped order). `base`, when not
 *    NULL, is a common ancestor; blk 0.1 never has one, so plugins must
 *    work without it.
 *  - Inputs are borrowed for the call. The merged blob is allocated with the
 *    host's allocator (blk frees it). Error text goes into `err` (always
 *    NUL-terminated, at most err_size bytes including the NUL).
 *  - A plugin must be deterministic and must not keep pointers to inputs.
 *    It may be called from a worker process (the default) or in blk's own
 *    process (--in-process); it must not assume either.
 */
#ifndef BLK_MERGE_PLUGIN_H
#define BLK_MERGE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BLK_MERGE_ABI_VERSION 1u

/* The symbol blk looks up in a plugin. */
#define BLK_MERGE_PLUGIN_ENTRY "blk_merge_plugin_v1"

typedef enum blk_merge_status {
  BLK_MERGE_MERGED = 0,      /* out->blob holds the merged blob */
  BLK_MERGE_CANNOT = 1,      /* these two cannot be merged (say why in err):
                                blk keeps both, nothing is lost */
  BLK_MERGE_NOT_HANDLED = 2, /* not a type or schema this plugin merges */
  BLK_MERGE_FAILED = 3,      /* an error (say what in err) */
  /* Not a status: makes the enum an int, so that a host can read any value
     a broken plugin returns without undefined behaviour. */
  BLK_MERGE_STATUS_MAX_ = 0x7fffffff
} blk_merge_status;

/* One version of a block, as blk stores it. Strings are NUL-terminated.
   Frozen for ABI version 1: a field added later means ABI version 2. */
typedef struct blk_version {
  const char* id;
  const char* type;
  int64_t created_at;      /* milliseconds since the Unix epoch, UTC */
  int64_t modified_at;     /* the same; a hybrid logical clock */
  const char* modified_by; /* machine id of the writer: 32 hex digits */
  uint32_t schema;         /* the app's version tag for the blob's format */
  const uint8_t* blob;     /* blob_size bytes; not NUL-terminated */
  size_t blob_size;
} blk_version;

typedef struct blk_merge_input {
  uint32_t struct_size;    /* sizeof(blk_merge_input) in the host */
  const blk_version* a;    /* loses last-write-wins to b */
  const blk_version* b;    /* wins last-write-wins over a */
  const blk_version* base; /* a common ancestor, or NULL */
} blk_merge_input;

/* How a plugin gets memory for its output: alloc(ctx, size) returns size
   bytes (or NULL), which blk owns and frees. */
typedef struct blk_allocator {
  void* (*alloc)(void* ctx, size_t size);
  void* ctx;
} blk_allocator;

typedef struct blk_merge_output {
  uint32_t struct_size; /* sizeof(blk_merge_output) in the host */
  uint8_t* blob;        /* from the allocator; NULL with blob_size 0 is empty */
  size_t blob_size;
  uint32_t schema;      /* the merged blob's schema; blk presets the larger
                           of a's and b's */
} blk_merge_output;

/* A type the plugin merges, and the highest schema it understands: a
   version with a higher schema is held (kept, not merged) until a plugin
   that understands it is added. */
typedef struct blk_merge_type {
  const char* type;
  uint32_t max_schema;
} blk_merge_type;

typedef blk_merge_status (*blk_merge_fn)(const blk_merge_input* in, const blk_allocator* alloc,
                                         blk_merge_output* out, char* err, size_t err_size);

typedef struct blk_merge_plugin {
  uint32_t struct_size; /* sizeof(blk_merge_plugin) in the plugin */
  uint32_t abi_version; /* BLK_MERGE_ABI_VERSION the plugin was built with */
  const char* name;     /* a short name: letters, digits, '-', '_' */
  const blk_merge_type* types;
  size_t type_count;
  blk_merge_fn merge;
} blk_merge_plugin;

/* The entry point's type. The host passes its ABI version and its struct
   sizes; the plugin returns NULL (and says why in err) if it cannot work
   with that host. */
typedef const blk_merge_plugin* (*blk_merge_plugin_entry_fn)(uint32_t host_abi_version,
                                                             uint32_t host_input_size,
                                                             uint32_t host_output_size, char* err,
                                                             size_t err_size);

/* Writes the entry point for `plugin` (a static blk_merge_plugin), with the
   ABI check on the host's side:
       static const blk_merge_plugin my_plugin = { ... };
       BLK_MERGE_PLUGIN(my_plugin)                                          */
#ifdef __cplusplus
#define BLK_MERGE_EXTERN_C extern "C"
#else
#define BLK_MERGE_EXTERN_C
#endif
#define BLK_MERGE_PLUGIN(plugin)                                                             \
  BLK_MERGE_EXTERN_C __attribute__((visibility("default"))) const blk_merge_plugin*         \
  blk_merge_plugin_v1(uint32_t, uint32_t, uint32_t, char*, size_t);                          \
  BLK_MERGE_EXTERN_C __attribute__((visibility("default"))) const blk_merge_plugin*         \
  blk_merge_plugin_v1(                                                                       \
      uint32_t host_abi_version, uint32_t host_input_size, uint32_t host_output_size,         \
      char* err, size_t err_size) {                                                          \
    if (host_abi_version != BLK_MERGE_ABI_VERSION || host_input_size < sizeof(blk_merge_input) || \
        host_output_size < sizeof(blk_merge_output)) {                                       \
      if (err && err_size) {                                                                 \
        static const char msg[] = "built for blk merge ABI version 1; the host speaks another version or has smaller structs"; \
        size_t n = sizeof msg < err_size ? sizeof msg : err_size;                            \
        for (size_t i = 0; i + 1 < n; ++i) err[i] = msg[i];                                  \
        err[n - 1] = '\0';                                                                   \
      }                                                                                      \
      return NULL;                                                                           \
    }                                                                                        \
    return &(plugin);                                                                        \
  }

#ifdef __cplusplus
} /* extern "C" */

/* For plugins written in C++: blk::plugin::guard runs the merge and turns an
   exception into BLK_MERGE_FAILED with its what() in err (an exception must
   never cross the C interface), and blk::plugin::output copies a result
   into host memory. */
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

namespace blk::plugin {

template <class F>
blk_merge_status guard(char* err, size_t err_size, F&& merge) noexcept {
  try {
    return merge();
  } catch (const std::exception& e) {
    if (err && err_size) std::snprintf(err, err_size, "%s", e.what());
  } catch (...) {
    if (err && err_size) std::snprintf(err, err_size, "%s", "an unknown exception");
  }
  return BLK_MERGE_FAILED;
}

inline blk_merge_status output(const blk_allocator* alloc, blk_merge_output* out,
                               std::string_view blob, char* err, size_t err_size) noexcept {
  out->blob = nullptr;
  out->blob_size = 0;
  if (!blob.empty()) {
    out->blob = static_cast<uint8_t*>(alloc->alloc(alloc->ctx, blob.size()));
    if (!out->blob) {
      if (err && err_size) std::snprintf(err, err_size, "out of memory");
      return BLK_MERGE_FAILED;
    }
    std::memcpy(out->blob, blob.data(), blob.size());
    out->blob_size = blob.size();
  }
  return BLK_MERGE_MERGED;
}

inline std::string_view blob_of(const blk_version* v) {
  return {reinterpret_cast<const char*>(v->blob), v->blob_size};
}

}  // namespace blk::plugin
#endif /* __cplusplus */

#endif /* BLK_MERGE_PLUGIN_H */
