// FUSE_USE_VERSION must be set before the include, and Swift cannot set it any other way
// (see shared notes, fuse-from-swift.md). 312 = FUSE_MAKE_VERSION(3, 12).
#ifndef BERTH_CFUSE3_SHIM_H
#define BERTH_CFUSE3_SHIM_H
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse.h>
#endif
