// Force-included into lib/blk/manifest.cpp by the fuzz build (see
// CMakeLists.txt): toml++'s asserts compile to nothing, as in blk's NDEBUG
// builds with GCC, where TOML_ASSERT_ASSUME is a no-op too.
#pragma once
#define TOML_ASSERT(expr) static_cast<void>(0)
