/* no_entry: a shared object that is not a merge plugin (no
 * blk_merge_plugin_v1), for the host's failure tests (README.md). */
__attribute__((visibility("default"))) int blk_not_a_merge_plugin(void);

int blk_not_a_merge_plugin(void) {
  return 1;
}
