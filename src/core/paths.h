/* paths.h: where installed data lives (sql/, templates/, www/): TF_DATA_DIR or the configured pkgdatadir. */
#ifndef TF_PATHS_H
#define TF_PATHS_H

#include "conf.h"

/* The data directory: setting TF_DATA_DIR, else the compiled-in $(pkgdatadir). */
const char *paths_data_dir(struct conf *c);
/* DATA/sub into out; returns out. */
const char *paths_data_sub(struct conf *c, const char *sub, char *out, size_t outlen);

#endif
