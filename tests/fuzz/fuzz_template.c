/* fuzz_template.c: tmpl_render on arbitrary bytes against a fixed context; values must stay escaped. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ctx_json[] =
	"{\"name\": \"<b>Dr. M\\u00fcller</b>\", \"html\": \"<script>alert('x')</script>\","
	" \"n\": 42, \"neg\": -7, \"pi\": 3.14, \"t\": true, \"f\": false, \"nil\": null, \"empty\": \"\","
	" \"list\": [\"a<\", \"b&\", \"c\\\"\"], \"nums\": [1, 2, 3], \"none\": [],"
	" \"items\": [{\"label\": \"x<y\", \"sub\": {\"deep\": \"'q'\"}}, {\"label\": \"z\", \"t\": false}],"
	" \"obj\": {\"a\": {\"b\": {\"c\": \"<deep>\"}}, \"name\": \"inner\"}}";

/* Any name gives the same small partial, which includes "leaf"; "self" includes itself (so
 * recursion meets the depth cap) and "none" is unknown. */
static char *loader(const char *name, void *ud)
{
	(void)ud;
	if (strcmp(name, "none") == 0)
		return NULL;
	if (strcmp(name, "self") == 0)
		return strdup("[{{n}}\n {{>self}}\n]");
	if (strcmp(name, "leaf") == 0)
		return strdup("{{#list}}{{.}}\n{{/list}}");
	return strdup("({{name}}:{{#items}}{{label}};{{/items}}\n  {{>leaf}}\n)");
}

static json_t *context(void)
{
	static json_t *ctx;

	if (!ctx) {
		ctx = json_loads(ctx_json, 0, NULL);
		if (!ctx)
			abort();
	}
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	char err[256];
	enum tf_err rc;
	int raw_possible;

	buf_init(&out, 1 << 20);
	rc = tmpl_render((const char *)data, size, context(), loader, NULL, &out, err, sizeof(err));
	if (rc != TF_OK && rc != TF_ERR_INVALID && rc != TF_ERR_TOOBIG)
		abort();
	if (out.len > out.max || (out.data && out.data[out.len] != '\0'))
		abort();
	if (rc != TF_OK) {
		/* a failed render leaves nothing behind and always says why */
		if (out.len != 0 || !err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
	} else {
		/* Without '<' in the template and without any raw form ({{{ }}}, {{& }}, or a delimiter
		 * change that could make one), no '<' may reach the output: every value is escaped. */
		raw_possible = memchr(data, '<', size) || memchr(data, '&', size) || memchr(data, '=', size) ||
			       memmem(data, size, "{{{", 3);
		if (!raw_possible && memchr(out.data, '<', out.len))
			abort();
	}
	buf_free(&out);
	return 0;
}
