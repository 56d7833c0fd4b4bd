/* paths.c: the data directory (sql/, templates/, www/) from TF_DATA_DIR or the compiled-in default. */
#include "config.h"

#include <stdio.h>

#include "paths.h"

#ifndef TF_PKGDATADIR
#define TF_PKGDATADIR "/usr/local/share/terminfinder-kalender"
#endif

const char *paths_data_dir(struct conf *c)
{
	return conf_get_default(c, "TF_DATA_DIR", TF_PKGDATADIR);
}

const char *paths_data_sub(struct conf *c, const char *sub, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", paths_data_dir(c), sub);
	return out;
}
