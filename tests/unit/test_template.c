/* test_template.c: the mustache spec (from $TF_TESTDATA/mustache-spec) plus our own cases, as plain TAP. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "template.h"
#include "util.h"

static int n_test, n_pass, n_fail, n_skip;

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (ok)
		n_pass++;
	else
		n_fail++;
	printf("%s %d - ", ok ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void tap_skip(const char *name, const char *why)
{
	n_test++;
	n_skip++;
	printf("ok %d - %s # SKIP %s\n", n_test, name, why);
}

/* Print s as one or more "# " diagnostic lines with visible control characters. */
static void diag_str(const char *label, const char *s)
{
	printf("#   %s: \"", label);
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", stdout);
		else if (*s == '\r')
			fputs("\\r", stdout);
		else if (*s == '\t')
			fputs("\\t", stdout);
		else
			putchar(*s);
	}
	puts("\"");
}

/* A TAP description may not contain '#' (it starts a directive). */
static void clean_name(char *s)
{
	for (; *s; s++) {
		if (*s == '#' || *s == '\n')
			*s = '_';
	}
}

/* ---------------------------------------------------------------- the spec */

static char *spec_loader(const char *name, void *ud)
{
	json_t *p = json_object_get(ud, name);

	if (!json_is_string(p))
		return NULL;
	return xstrdup(json_string_value(p));
}

static void run_spec_file(const char *dir, const char *file, int optional)
{
	char path[4096], name[512];
	json_error_t jerr;
	json_t *root, *tests, *t;
	size_t i;
	int pass = 0, fail = 0, skip = 0;

	snprintf(path, sizeof(path), "%s/%s.json", dir, file);
	root = json_load_file(path, 0, &jerr);
	tests = json_object_get(root, "tests");
	if (!json_is_array(tests)) {
		tap(0, "%s: cannot load %s: %s", file, path, jerr.text);
		json_decref(root);
		return;
	}
	json_array_foreach(tests, i, t) {
		const char *tmpl = json_string_value(json_object_get(t, "template"));
		const char *expected = json_string_value(json_object_get(t, "expected"));
		json_t *data = json_object_get(t, "data");
		json_t *partials = json_object_get(t, "partials");
		struct buf out;
		char err[256];
		enum tf_err rc;

		snprintf(name, sizeof(name), "%s: %s", file, json_string_value(json_object_get(t, "name")));
		clean_name(name);
		if (!tmpl || !expected) {
			tap(0, "%s (malformed spec case)", name);
			fail++;
			continue;
		}
		buf_init(&out, 1 << 20);
		rc = tmpl_render(tmpl, strlen(tmpl), data, spec_loader, partials, &out, err, sizeof(err));
		if (rc == TF_OK && strcmp(out.data, expected) == 0) {
			tap(1, "%s", name);
			pass++;
		} else if (optional && rc == TF_ERR_INVALID && strstr(err, "not supported")) {
			tap_skip(name, "dynamic partial names ({{>*x}}) are not supported");
			skip++;
		} else {
			tap(0, "%s", name);
			fail++;
			diag_str("template", tmpl);
			diag_str("expected", expected);
			if (rc == TF_OK)
				diag_str("got     ", out.data);
			else
				printf("#   error: %s (%s)\n", tf_strerror(rc), err);
		}
		buf_free(&out);
	}
	printf("# %s: %d/%zu passed%s", file, pass, json_array_size(tests), fail ? "" : "\n");
	if (fail)
		printf(", %d failed\n", fail);
	if (skip)
		printf("# %s: %d skipped (optional module not supported)\n", file, skip);
	json_decref(root);
}

static void run_spec(void)
{
	static const char *const files[] = { "interpolation", "sections", "inverted", "comments",
					     "partials", "delimiters" };
	const char *td = getenv("TF_TESTDATA");
	char dir[4096];
	struct stat sb;
	size_t i;

	if (!td || !*td) {
		tap_skip("mustache spec", "TF_TESTDATA is not set");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/mustache-spec", td);
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		tap_skip("mustache spec", "no mustache-spec folder in TF_TESTDATA");
		return;
	}
	for (i = 0; i < TF_ARRAY_LEN(files); i++)
		run_spec_file(dir, files[i], 0);
	run_spec_file(dir, "dynamic-names", 1);
}

/* ---------------------------------------------------------------- our own cases */

static char *map_loader(const char *name, void *ud)
{
	const char *const *kv;

	for (kv = ud; kv && kv[0]; kv += 2) {
		if (strcmp(kv[0], name) == 0)
			return xstrdup(kv[1]);
	}
	return NULL;
}

/* Render tmpl with ctx given as JSON text; returns the result code, output in *res (caller frees). */
static enum tf_err render_str(const char *tmpl, const char *ctx_json, const char *const *partials,
			      size_t max, char **res, char *err, size_t errlen)
{
	json_t *ctx = json_loads(ctx_json, JSON_DECODE_ANY, NULL);
	struct buf out;
	enum tf_err rc;

	if (!ctx) {
		fprintf(stderr, "bad test JSON: %s\n", ctx_json);
		abort();
	}
	buf_init(&out, max);
	rc = tmpl_render(tmpl, strlen(tmpl), ctx, map_loader, (void *)partials, &out, err, errlen);
	*res = buf_detach(&out);
	json_decref(ctx);
	return rc;
}

static void expect(const char *what, const char *tmpl, const char *ctx, const char *const *partials,
		   const char *expected)
{
	char err[256] = "", *res;
	enum tf_err rc = render_str(tmpl, ctx, partials, 1 << 20, &res, err, sizeof(err));
	int ok = rc == TF_OK && strcmp(res, expected) == 0;

	tap(ok, "%s", what);
	if (!ok) {
		diag_str("expected", expected);
		diag_str("got     ", res);
		printf("#   rc %s, err \"%s\"\n", tf_strerror(rc), err);
	}
	free(res);
}

static void expect_err(const char *what, const char *tmpl, const char *ctx, const char *const *partials,
		       enum tf_err want, const char *errpart)
{
	char err[256] = "", *res;
	enum tf_err rc = render_str(tmpl, ctx, partials, 1 << 20, &res, err, sizeof(err));
	int ok = rc == want && strstr(err, errpart) != NULL && res[0] == '\0';

	tap(ok, "%s", what);
	if (!ok)
		printf("#   rc %s (want %s), err \"%s\" (want \"%s\"), output \"%s\"\n", tf_strerror(rc),
		       tf_strerror(want), err, errpart, res);
	free(res);
}

static void own_escaping(void)
{
	expect("{{x}} escapes <script>, quotes, ampersand, backtick and =",
	       "<p title=\"{{x}}\">{{x}}</p>", "{\"x\": \"<script>alert('1')</script> & \\\"q\\\" `=`\"}", NULL,
	       "<p title=\"&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;q&quot; &#96;&#61;&#96;\">"
	       "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;q&quot; &#96;&#61;&#96;</p>");
	expect("{{{x}}} and {{&x}} are the only raw forms", "{{{x}}}|{{& x}}|{{x}}|{{ x }}",
	       "{\"x\": \"<b>\"}", NULL, "<b>|<b>|&lt;b&gt;|&lt;b&gt;");
	expect("values from a partial are escaped too", "{{>p}}", "{\"x\": \"<i>\"}",
	       (const char *const[]){ "p", "[{{x}}]", NULL }, "[&lt;i&gt;]");
	expect("dotted names and {{.}} are escaped", "{{a.b}} {{#l}}{{.}}{{/l}}",
	       "{\"a\": {\"b\": \"<\"}, \"l\": [\"&\", \">\"]}", NULL, "&lt; &amp;&gt;");
	expect("a template's own text is never escaped", "<a href=\"/x?a=1&b=2\">", "{}", NULL,
	       "<a href=\"/x?a=1&b=2\">");
}

static void own_values(void)
{
	expect("numbers: integer, negative, real, shortest form", "{{a}} {{b}} {{c}} {{d}} {{e}}",
	       "{\"a\": 85, \"b\": -3, \"c\": 1.21, \"d\": 0.1, \"e\": 2.5e-7}", NULL, "85 -3 1.21 0.1 2.5e-07");
	expect("booleans render as words, null/objects/arrays as nothing", "[{{t}}|{{f}}|{{n}}|{{o}}|{{l}}]",
	       "{\"t\": true, \"f\": false, \"n\": null, \"o\": {\"a\": 1}, \"l\": [1]}", NULL, "[true|false|||]");
	expect("empty string and empty list are falsy, 0 is truthy",
	       "{{#s}}S{{/s}}{{^s}}s{{/s}}{{#l}}L{{/l}}{{^l}}l{{/l}}{{#z}}Z{{/z}}", "{\"s\": \"\", \"l\": [], \"z\": 0}",
	       NULL, "slZ");
	expect("string value of a section is pushed for {{.}}", "{{#s}}<{{.}}>{{/s}}", "{\"s\": \"v\"}", NULL, "<v>");
	expect("a top-level string context", "{{.}}", "\"a&b\"", NULL, "a&amp;b");
	expect("missing names render empty", "[{{nope}}{{a.nope}}{{nope.a}}]", "{\"a\": {}}", NULL, "[]");
}

static void own_partials(void)
{
	expect("unknown partial renders empty", "[{{>nope}}]", "{}", NULL, "[]");
	{
		char err[64], *res;
		json_t *ctx = json_object();
		struct buf out;
		enum tf_err rc;

		buf_init(&out, 64);
		rc = tmpl_render("[{{>x}}]", 8, ctx, NULL, NULL, &out, err, sizeof(err));
		tap(rc == TF_OK && strcmp(out.data, "[]") == 0, "no loader: partials render empty");
		buf_free(&out);
		json_decref(ctx);
		(void)res;
	}
	expect("nested standalone partial keeps the outer indentation after it",
	       "  {{>outer}}\nend\n", "{}",
	       (const char *const[]){ "outer", "{{>inner}}\nx\n", "inner", "a\nb\n", NULL },
	       "  a\n  b\n  x\nend\n");
	expect("inline partial inside an indented one is not re-indented",
	       "  {{>outer}}\n", "{}",
	       (const char *const[]){ "outer", "<{{>inner}}>\n", "inner", "a\nb", NULL }, "  <a\nb>\n");
	expect_err("self-recursive partial stops at depth 64", "{{>r}}", "{}",
		   (const char *const[]){ "r", "x{{>r}}", NULL }, TF_ERR_TOOBIG, "deeper than 64");
	expect("recursion through data within the cap works", "{{>n}}",
	       "{\"v\": 1, \"c\": {\"v\": 2, \"c\": {\"v\": 3, \"c\": false}}}",
	       (const char *const[]){ "n", "{{v}}{{#c}}({{>n}}){{/c}}", NULL }, "1(2(3))");
	expect_err("syntax error in a partial names the partial", "{{>p}}", "{}",
		   (const char *const[]){ "p", "ok\n{{#a}}", NULL }, TF_ERR_INVALID,
		   "partial \"p\": line 2, column 1: section \"a\" is not closed");
	expect_err("dynamic partial names are refused", "{{>*x}}", "{}", NULL, TF_ERR_INVALID, "not supported");
}

static void own_syntax(void)
{
	char deep[65 * 10 + 1], *p = deep;
	int i;

	expect_err("unclosed section, with position", "a\n  {{#x}}b", "{}", NULL, TF_ERR_INVALID,
		   "line 2, column 3: section \"x\" is not closed");
	expect_err("mismatched closing tag, with position", "{{#a}}\n{{#b}}{{/a}}", "{}", NULL, TF_ERR_INVALID,
		   "line 2, column 7: closing tag \"a\" does not match \"b\" opened at line 2, column 1");
	expect_err("closing tag without a section", "x{{/a}}", "{}", NULL, TF_ERR_INVALID,
		   "line 1, column 2: closing tag without an open section");
	expect_err("unclosed tag, with position", "ab\ncd {{name", "{}", NULL, TF_ERR_INVALID,
		   "line 2, column 4: unclosed tag");
	expect_err("unclosed triple mustache", "{{{x}}", "{}", NULL, TF_ERR_INVALID, "line 1, column 1: unclosed tag");
	expect_err("bad delimiter: one part", "{{=<% =}}", "{}", NULL, TF_ERR_INVALID, "bad delimiter");
	expect_err("bad delimiter: three parts", "x\n{{=< % >=}}", "{}", NULL, TF_ERR_INVALID,
		   "line 2, column 1: bad delimiter");
	expect_err("bad delimiter: contains =", "{{=a= b=}}", "{}", NULL, TF_ERR_INVALID, "bad delimiter");
	expect_err("empty tag", "{{}}", "{}", NULL, TF_ERR_INVALID, "bad variable name");
	expect_err("name with inner space", "{{a b}}", "{}", NULL, TF_ERR_INVALID, "bad variable name");
	for (i = 0; i < 65; i++)
		p += snprintf(p, sizeof(deep) - (size_t)(p - deep), "{{#a}}");
	expect_err("sections nested deeper than 64 are refused", deep, "{}", NULL, TF_ERR_INVALID,
		   "nested deeper than 64");
}

static void own_limits(void)
{
	char err[128], *res;
	struct buf out;
	json_t *ctx;
	enum tf_err rc;
	char big[2048];
	int i;

	rc = render_str("0123456789{{x}}", "{\"x\": \"abc\"}", NULL, 12, &res, err, sizeof(err));
	tap(rc == TF_ERR_TOOBIG && res[0] == '\0' && strstr(err, "larger than 12"), "output over the limit: TOOBIG");
	free(res);
	rc = render_str("{{x}}", "{\"x\": \"<<<<\"}", NULL, 12, &res, err, sizeof(err));
	tap(rc == TF_ERR_TOOBIG, "escaping that grows past the limit: TOOBIG");
	free(res);

	/* on failure the buffer keeps what it had before */
	ctx = json_pack("{s:s}", "x", "0123456789");
	buf_init(&out, 16);
	buf_puts(&out, "keep");
	rc = tmpl_render("{{x}}{{x}}", 10, ctx, NULL, NULL, &out, err, sizeof(err));
	tap(rc == TF_ERR_TOOBIG && strcmp(out.data, "keep") == 0, "failed render leaves the buffer as it was");
	rc = tmpl_render("+{{x}}", 6, ctx, NULL, NULL, &out, err, sizeof(err));
	tap(rc == TF_OK && strcmp(out.data, "keep+0123456789") == 0, "render appends to the buffer");
	buf_free(&out);
	json_decref(ctx);

	/* an exponential template with no output is stopped by the step budget */
	for (i = 0; i < 80; i++)
		memcpy(big + 6 * i, i < 40 ? "{{#l}}" : "{{/l}}", 6);
	big[6 * 80] = '\0';
	rc = render_str(big, "{\"l\": [1, 2, 3]}", NULL, 1 << 20, &res, err, sizeof(err));
	tap(rc == TF_ERR_TOOBIG && strstr(err, "steps"), "exponential nesting stops at the step budget");
	free(res);
}

/* ---------------------------------------------------------------- files */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void own_files(void)
{
	char dir[] = "/tmp/tf-tmpl-XXXXXX", sub[4096], path[4096], err[256];
	struct buf out;
	json_t *ctx;
	enum tf_err rc;
	FILE *f;
	int i;

	if (!mkdtemp(dir)) {
		tap(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	write_file(dir, "page.mustache", "<h1>{{title}}</h1>\n{{#items}}\n  {{>row}}\n{{/items}}\n[{{>x-y_1}}][{{>sub/evil}}]\n");
	write_file(dir, "row.mustache", "<li>{{.}}</li>\n");
	write_file(dir, "x-y_1.mustache", "ok");
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	mkdir(sub, 0700);
	write_file(sub, "evil.mustache", "EVIL");
	write_file(dir, "Upper.mustache", "nope");

	ctx = json_pack("{s:s,s:[s,s]}", "title", "Kalender & Co", "items", "a<b", "c");
	buf_init(&out, 1 << 16);
	tmpl_cache_clear();
	rc = tmpl_render_file(dir, "page", ctx, &out, err, sizeof(err));
	tap(rc == TF_OK && strcmp(out.data, "<h1>Kalender &amp; Co</h1>\n  <li>a&lt;b</li>\n  <li>c</li>\n[ok][]\n") == 0,
	    "tmpl_render_file renders DIR/NAME.mustache with partials from DIR, a partial name with / loads nothing");
	if (rc != TF_OK)
		printf("#   %s\n", err);
	else if (strstr(out.data, "EVIL"))
		diag_str("got", out.data);

	/* the cache serves the old text until cleared */
	write_file(dir, "row.mustache", "<p>{{.}}</p>\n");
	buf_reset(&out);
	rc = tmpl_render_file(dir, "page", ctx, &out, err, sizeof(err));
	tap(rc == TF_OK && strstr(out.data, "<li>c</li>"), "file contents are cached per process");
	tmpl_cache_clear();
	buf_reset(&out);
	rc = tmpl_render_file(dir, "page", ctx, &out, err, sizeof(err));
	tap(rc == TF_OK && strstr(out.data, "<p>c</p>"), "tmpl_cache_clear drops the cache");

	buf_reset(&out);
	rc = tmpl_render_file(dir, "../tmp/page", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_INVALID && out.len == 0 && strstr(err, "refused"), "a name with ../ is refused");
	rc = tmpl_render_file(dir, "sub/evil", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_INVALID && out.len == 0, "a name with / is refused");
	rc = tmpl_render_file(dir, "Upper", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_INVALID && out.len == 0, "upper-case names are refused");
	rc = tmpl_render_file(dir, "", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_INVALID, "an empty name is refused");
	rc = tmpl_render_file(dir, "missing", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_NOTFOUND && strstr(err, "missing.mustache"), "a missing template is NOTFOUND");

	snprintf(path, sizeof(path), "%s/huge.mustache", dir);
	f = fopen(path, "w");
	for (i = 0; f && i < 256 * 1024 + 1; i++)
		fputc('x', f);
	if (f)
		fclose(f);
	rc = tmpl_render_file(dir, "huge", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_TOOBIG, "a template over 256 KiB is TOOBIG");

	write_file(dir, "bad.mustache", "line1\n{{#open}}\n");
	rc = tmpl_render_file(dir, "bad", ctx, &out, err, sizeof(err));
	tap(rc == TF_ERR_INVALID && strstr(err, "line 2, column 1"), "syntax error in a file has its position");

	buf_free(&out);
	json_decref(ctx);
	tmpl_cache_clear();
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_spec();
	own_escaping();
	own_values();
	own_partials();
	own_syntax();
	own_limits();
	own_files();
	printf("1..%d\n", n_test);
	printf("# template: %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}
