/* template.h: a mustache subset over jansson values; {{x}} is HTML-escaped, the raw forms are explicit. */
#ifndef TF_TEMPLATE_H
#define TF_TEMPLATE_H

#include <stddef.h>

#include <jansson.h>

#include "util.h"

/* Supported: {{name}} (escaped with esc_html), {{{name}}} and {{& name}} (raw), dotted names and
 * {{.}}, sections {{#x}}...{{/x}} (false/null/empty list/empty string skip; list iterates; object
 * pushes context; other truthy values render once), inverted {{^x}}...{{/x}}, comments {{! }},
 * partials {{> name}} (with standalone-line indentation), set delimiters {{=<% %>=}}, and the
 * spec's standalone-line whitespace rules. Not supported: lambdas, dynamic names ({{>*x}}).
 * Numbers render like the spec (integers without a point, reals with %.17g trimmed).
 *
 * Partials come from a loader: return a malloc'd NUL-terminated template or NULL when unknown
 * (an unknown partial renders as empty, as the spec says). Recursion depth is capped at 64. */
typedef char *(*tmpl_loader_fn)(const char *name, void *ud);

/* Render tmpl[len] with ctx into out (appended). Returns TF_OK, TF_ERR_INVALID (syntax: message
 * with position in err), or TF_ERR_TOOBIG when out's limit is reached. */
enum tf_err tmpl_render(const char *tmpl, size_t len, json_t *ctx, tmpl_loader_fn loader, void *ud,
			struct buf *out, char *err, size_t errlen);

/* Render the file DIR/NAME.mustache, partials from DIR/PARTIAL.mustache. Names are checked
 * against [a-z0-9_-] before they touch the file system. Files are read once and cached per process. */
enum tf_err tmpl_render_file(const char *dir, const char *name, json_t *ctx, struct buf *out,
			     char *err, size_t errlen);
/* Drop the file cache (tests, reload). */
void tmpl_cache_clear(void);

#endif
