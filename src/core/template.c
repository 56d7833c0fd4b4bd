/* template.c: a mustache renderer over jansson values: parse to a flat node list, then render it. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "template.h"

#define TMPL_MAX_DEPTH 64            /* sections + partials nested while rendering */
#define TMPL_MAX_STEPS 4000000UL     /* node visits + context frames searched per render */
#define TMPL_MAX_DELIM 16            /* bytes in one custom delimiter */
#define TMPL_MAX_NAME 256            /* bytes in one tag name */
#define TMPL_MAX_INDENT 4096         /* bytes of accumulated partial indentation */
#define TMPL_FILE_MAX (256 * 1024)   /* one template file */
#define TMPL_CACHE_ENTRIES 128       /* files kept by tmpl_render_file */
#define TMPL_CACHE_BYTES (8 * 1024 * 1024)
#define TMPL_NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"
#define TMPL_NAME_MAX 64

enum ntype { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

/* One node. Strings point into the template source, which outlives the node list.
 * A section's children are the nodes (i, end) right after it. */
struct node {
	enum ntype type;
	const char *s;       /* text or name */
	size_t n;
	const char *ind;     /* partial: indentation of a standalone tag (NULL when inline) */
	size_t indn;
	size_t end;          /* sections: index one past the last child */
};

struct tmpl {
	struct node *v;
	size_t len, cap;
};

/* A partial parsed once per render; src NULL when the loader did not know the name. */
struct partial {
	char *name;
	char *src;
	struct tmpl t;
	struct partial *next;
};

struct rstate {
	struct buf *out;
	json_t *stack[TMPL_MAX_DEPTH + 2];
	size_t sp;
	int depth;
	unsigned long steps;
	tmpl_loader_fn loader;
	void *ud;
	struct partial *partials;
	const char *pending;         /* indentation owed before the next output byte */
	size_t pendn;
	char *err;
	size_t errlen;
};

/* 1-based line and column of src[off]. */
static void position(const char *src, size_t off, unsigned long *line, unsigned long *col)
{
	size_t i, ls = 0;

	*line = 1;
	for (i = 0; i < off; i++) {
		if (src[i] == '\n') {
			(*line)++;
			ls = i + 1;
		}
	}
	*col = off - ls + 1;
}

static enum tf_err syntax_err(const char *what, const char *src, size_t off, char *err, size_t errlen,
			      const char *msg)
{
	unsigned long line, col;

	position(src, off, &line, &col);
	err_set(err, errlen, "%s%s%sline %lu, column %lu: %s", what ? "partial \"" : "", what ? what : "",
	       what ? "\": " : "", line, col, msg);
	return TF_ERR_INVALID;
}

static void tmpl_free(struct tmpl *t)
{
	free(t->v);
	t->v = NULL;
	t->len = t->cap = 0;
}

static struct node *tmpl_add(struct tmpl *t, enum ntype type, const char *s, size_t n)
{
	struct node *v;
	size_t cap;

	if (t->len == t->cap) {
		cap = t->cap ? t->cap * 2 : 32;
		v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	v = &t->v[t->len++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->s = s;
	v->n = n;
	return v;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int all_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	}
	return 1;
}

/* "." or dot-separated non-empty parts without whitespace or braces. */
static int name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > TMPL_MAX_NAME)
		return 0;
	if (n == 1 && s[0] == '.')
		return 1;
	if (s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (is_ws(s[i]) || s[i] == '\0' || (s[i] == '.' && s[i + 1] == '.'))
			return 0;
	}
	return 1;
}

/* Parse "{{=<% %>=}}" contents into the two delimiters. */
static int set_delims(const char *s, size_t n, char *otag, size_t *otn, char *ctag, size_t *ctn)
{
	size_t i = 0, a, b, c, d;

	while (i < n && !is_ws(s[i]))
		i++;
	a = i;
	while (i < n && is_ws(s[i]))
		i++;
	b = i;
	while (i < n && !is_ws(s[i]))
		i++;
	c = i;
	d = n - c;
	if (a == 0 || b == a || c == b || d != 0 || a > TMPL_MAX_DELIM || c - b > TMPL_MAX_DELIM)
		return -1;
	if (memchr(s, '=', a) || memchr(s + b, '=', c - b) || memchr(s, '\0', n))
		return -1;
	memcpy(otag, s, a);
	*otn = a;
	memcpy(ctag, s + b, c - b);
	*ctn = c - b;
	return 0;
}

/* Parse src[len] into t (emptied first). what names the partial for error messages (NULL: main). */
static enum tf_err parse(const char *src, size_t len, const char *what, struct tmpl *t, char *err,
			 size_t errlen)
{
	char otag[TMPL_MAX_DELIM] = "{{", ctag[TMPL_MAX_DELIM] = "}}", close[TMPL_MAX_DELIM + 1];
	size_t otn = 2, ctn = 2, closen;
	size_t open[TMPL_MAX_DEPTH], open_at[TMPL_MAX_DEPTH], nopen = 0;
	size_t pos = 0, line_start = 0, ts, p, ce, te, after, q, cs, cn;
	const char *hit, *nl, *c;
	int dirty = 0, standalone;
	char sigil;
	struct node *nd;
	enum tf_err rc = TF_OK;

	t->len = 0;
	while (pos < len) {
		hit = memmem(src + pos, len - pos, otag, otn);
		ts = hit ? (size_t)(hit - src) : len;
		nl = ts > pos ? memrchr(src + pos, '\n', ts - pos) : NULL;
		if (nl) {
			line_start = (size_t)(nl - src) + 1;
			dirty = 0;
		}
		if (!hit) {
			if (!tmpl_add(t, N_TEXT, src + pos, len - pos))
				goto nomem;
			break;
		}
		p = ts + otn;
		sigil = p < len ? src[p] : '\0';
		if (strchr("#^/!>=&{<$", sigil) && sigil != '\0')
			p++;
		else
			sigil = '\0';
		closen = 0;
		if (sigil == '{' || sigil == '=')
			close[closen++] = sigil == '{' ? '}' : '=';
		memcpy(close + closen, ctag, ctn);
		closen += ctn;
		hit = memmem(src + p, len - p, close, closen);
		if (!hit) {
			rc = syntax_err(what, src, ts, err, errlen, "unclosed tag");
			goto out;
		}
		ce = (size_t)(hit - src);
		te = ce + closen;
		cs = p;
		cn = ce - p;
		while (cn && is_ws(src[cs])) {
			cs++;
			cn--;
		}
		while (cn && is_ws(src[cs + cn - 1]))
			cn--;
		c = src + cs;

		standalone = 0;
		after = te;
		if (sigil && sigil != '&' && sigil != '{' && !dirty && all_blank(src + line_start, ts - line_start)) {
			q = te;
			while (q < len && (src[q] == ' ' || src[q] == '\t'))
				q++;
			if (q == len) {
				standalone = 1;
				after = len;
			} else if (src[q] == '\n') {
				standalone = 1;
				after = q + 1;
			} else if (src[q] == '\r' && q + 1 < len && src[q + 1] == '\n') {
				standalone = 1;
				after = q + 2;
			}
		}
		if (standalone ? line_start > pos : ts > pos) {
			if (!tmpl_add(t, N_TEXT, src + pos, (standalone ? line_start : ts) - pos))
				goto nomem;
		}

		switch (sigil) {
		case '!':
			break;
		case '=':
			if (set_delims(c, cn, otag, &otn, ctag, &ctn) < 0) {
				rc = syntax_err(what, src, ts, err, errlen, "bad delimiter");
				goto out;
			}
			break;
		case '<':
		case '$':
			rc = syntax_err(what, src, ts, err, errlen, "template inheritance is not supported");
			goto out;
		case '>':
			if (cn && c[0] == '*') {
				rc = syntax_err(what, src, ts, err, errlen, "dynamic partial names are not supported");
				goto out;
			}
			if (!name_ok(c, cn) || (cn == 1 && c[0] == '.')) {
				rc = syntax_err(what, src, ts, err, errlen, "bad partial name");
				goto out;
			}
			nd = tmpl_add(t, N_PARTIAL, c, cn);
			if (!nd)
				goto nomem;
			if (standalone) {
				nd->ind = src + line_start;
				nd->indn = ts - line_start;
			}
			break;
		case '#':
		case '^':
			if (!name_ok(c, cn)) {
				rc = syntax_err(what, src, ts, err, errlen, "bad section name");
				goto out;
			}
			if (nopen == TMPL_MAX_DEPTH) {
				rc = syntax_err(what, src, ts, err, errlen, "sections nested deeper than 64");
				goto out;
			}
			if (!tmpl_add(t, sigil == '#' ? N_SECTION : N_INVERTED, c, cn))
				goto nomem;
			open_at[nopen] = ts;
			open[nopen++] = t->len - 1;
			break;
		case '/':
			if (!nopen) {
				rc = syntax_err(what, src, ts, err, errlen, "closing tag without an open section");
				goto out;
			}
			nd = &t->v[open[nopen - 1]];
			if (nd->n != cn || memcmp(nd->s, c, cn) != 0) {
				unsigned long l, k;
				char msg[TMPL_MAX_NAME * 2 + 96];

				position(src, open_at[nopen - 1], &l, &k);
				snprintf(msg, sizeof(msg), "closing tag \"%.*s\" does not match \"%.*s\" opened at line %lu, column %lu",
					 (int)cn, c, (int)nd->n, nd->s, l, k);
				rc = syntax_err(what, src, ts, err, errlen, msg);
				goto out;
			}
			nd->end = t->len;
			nopen--;
			break;
		default:
			if (!name_ok(c, cn)) {
				rc = syntax_err(what, src, ts, err, errlen, "bad variable name");
				goto out;
			}
			if (!tmpl_add(t, sigil ? N_RAW : N_VAR, c, cn))
				goto nomem;
			break;
		}
		pos = after;
		if (standalone) {
			line_start = pos;
			dirty = 0;
		} else {
			dirty = 1;
		}
	}
	if (nopen) {
		char msg[TMPL_MAX_NAME + 64];

		nd = &t->v[open[nopen - 1]];
		snprintf(msg, sizeof(msg), "section \"%.*s\" is not closed", (int)nd->n, nd->s);
		rc = syntax_err(what, src, open_at[nopen - 1], err, errlen, msg);
		goto out;
	}
	return TF_OK;
nomem:
	err_set(err, errlen, "out of memory");
	rc = TF_ERR_NOMEM;
out:
	tmpl_free(t);
	return rc;
}

/* ---------------------------------------------------------------- rendering */

/* buf appends fail at the limit (or when memory runs out, which we report alike). */
static enum tf_err out_fail(struct rstate *st)
{
	err_set(st->err, st->errlen, "output larger than %zu bytes", st->out->max);
	return TF_ERR_TOOBIG;
}

static enum tf_err flush_indent(struct rstate *st)
{
	const char *p = st->pending;

	if (!p)
		return TF_OK;
	st->pending = NULL;
	if (buf_append(st->out, p, st->pendn) < 0)
		return out_fail(st);
	return TF_OK;
}

/* Template text: after each newline the current partial's indentation is owed. */
static enum tf_err emit_text(struct rstate *st, const char *s, size_t n, const char *ind, size_t indn)
{
	const char *nl;
	size_t k;
	enum tf_err rc;

	while (n) {
		if ((rc = flush_indent(st)) != TF_OK)
			return rc;
		nl = memchr(s, '\n', n);
		k = nl ? (size_t)(nl - s) + 1 : n;
		if (buf_append(st->out, s, k) < 0)
			return out_fail(st);
		s += k;
		n -= k;
		if (nl && indn) {
			st->pending = ind;
			st->pendn = indn;
		}
	}
	return TF_OK;
}

static enum tf_err emit_value(struct rstate *st, const char *s, size_t n, int raw)
{
	enum tf_err rc;

	if (!n)
		return TF_OK;
	if ((rc = flush_indent(st)) != TF_OK)
		return rc;
	if ((raw ? buf_append(st->out, s, n) : esc_html(st->out, s, n)) < 0)
		return out_fail(st);
	return TF_OK;
}

static int steps(struct rstate *st, unsigned long k)
{
	st->steps += k;
	if (st->steps > TMPL_MAX_STEPS) {
		err_set(st->err, st->errlen, "template needs more than %lu steps", TMPL_MAX_STEPS);
		return -1;
	}
	return 0;
}

/* Resolve a name against the context stack as the spec says: the first part in the nearest
 * object that has it, the other parts inside that value only. Returns NULL on a miss. */
static json_t *lookup(struct rstate *st, const char *s, size_t n)
{
	const char *dot;
	size_t k, i;
	json_t *v = NULL;

	if (n == 1 && s[0] == '.')
		return st->stack[st->sp - 1];
	dot = memchr(s, '.', n);
	k = dot ? (size_t)(dot - s) : n;
	for (i = st->sp; i-- > 0;) {
		st->steps++;
		if (json_is_object(st->stack[i]) && (v = json_object_getn(st->stack[i], s, k)) != NULL)
			break;
	}
	while (v && k < n) {
		s += k + 1;
		n -= k + 1;
		dot = memchr(s, '.', n);
		k = dot ? (size_t)(dot - s) : n;
		v = json_is_object(v) ? json_object_getn(v, s, k) : NULL;
	}
	return v;
}

static int truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return 1;
}

/* The shortest %g form that reads back as the same double (1.21 → "1.21"). */
static void fmt_real(double d, char *s, size_t n)
{
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, n, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			return;
	}
}

static enum tf_err emit_json(struct rstate *st, const json_t *v, int raw)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return emit_value(st, json_string_value(v), json_string_length(v), raw);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_value(st, num, strlen(num), raw);
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof(num));
		return emit_value(st, num, strlen(num), raw);
	case JSON_TRUE:
		return emit_value(st, "true", 4, raw);
	case JSON_FALSE:
		return emit_value(st, "false", 5, raw);
	default:
		return TF_OK;  /* null, objects and arrays render as nothing */
	}
}

static enum tf_err render(struct rstate *st, const struct tmpl *t, size_t b, size_t e, const char *ind,
			  size_t indn);

static enum tf_err get_partial(struct rstate *st, const char *name, size_t n, struct partial **res)
{
	struct partial *p;
	enum tf_err rc;

	for (p = st->partials; p; p = p->next) {
		if (strlen(p->name) == n && memcmp(p->name, name, n) == 0) {
			*res = p;
			return TF_OK;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strndup(name, n))) {
		free(p);
		err_set(st->err, st->errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	p->next = st->partials;
	st->partials = p;
	p->src = st->loader ? st->loader(p->name, st->ud) : NULL;
	*res = p;
	if (!p->src)
		return TF_OK;
	if (steps(st, strlen(p->src) / 16) < 0)
		return TF_ERR_TOOBIG;
	rc = parse(p->src, strlen(p->src), p->name, &p->t, st->err, st->errlen);
	if (rc != TF_OK) {
		free(p->src);
		p->src = NULL;
	}
	return rc;
}

static enum tf_err render_partial(struct rstate *st, const struct node *nd, const char *ind, size_t indn)
{
	struct partial *p;
	char *nind = NULL;
	size_t nindn = 0;
	enum tf_err rc;

	if ((rc = get_partial(st, nd->s, nd->n, &p)) != TF_OK)
		return rc;
	if (!p->src)
		return TF_OK;  /* unknown partial: empty, as the spec says */
	if (nd->ind) {
		nindn = indn + nd->indn;
		if (nindn > TMPL_MAX_INDENT) {
			err_set(st->err, st->errlen, "partial indentation over %d bytes", TMPL_MAX_INDENT);
			return TF_ERR_TOOBIG;
		}
		if (nindn) {
			nind = malloc(nindn);
			if (!nind) {
				err_set(st->err, st->errlen, "out of memory");
				return TF_ERR_NOMEM;
			}
			if (indn)
				memcpy(nind, ind, indn);
			memcpy(nind + indn, nd->ind, nd->indn);
			st->pending = nind;
			st->pendn = nindn;
		}
	}
	rc = render(st, &p->t, 0, p->t.len, nind, nindn);
	if (nind && st->pending == nind) {
		/* the partial ended a line: the enclosing template's indentation is owed next */
		st->pending = indn ? ind : NULL;
		st->pendn = indn;
	}
	free(nind);
	return rc;
}

static enum tf_err render_section(struct rstate *st, const struct tmpl *t, size_t i, const char *ind,
				  size_t indn)
{
	const struct node *nd = &t->v[i];
	json_t *v = lookup(st, nd->s, nd->n);
	size_t k;
	enum tf_err rc = TF_OK;

	if (nd->type == N_INVERTED) {
		if (!truthy(v))
			rc = render(st, t, i + 1, nd->end, ind, indn);
		return rc;
	}
	if (!truthy(v))
		return TF_OK;
	if (json_is_array(v)) {
		for (k = 0; k < json_array_size(v) && rc == TF_OK; k++) {
			st->stack[st->sp++] = json_array_get(v, k);
			rc = render(st, t, i + 1, nd->end, ind, indn);
			st->sp--;
		}
		return rc;
	}
	st->stack[st->sp++] = v;
	rc = render(st, t, i + 1, nd->end, ind, indn);
	st->sp--;
	return rc;
}

/* Render nodes [b, e) of t; ind is the indentation of the partial being rendered. */
static enum tf_err render(struct rstate *st, const struct tmpl *t, size_t b, size_t e, const char *ind,
			  size_t indn)
{
	const struct node *nd;
	size_t i = b;
	json_t *v;
	enum tf_err rc = TF_OK;

	if (st->depth >= TMPL_MAX_DEPTH) {
		err_set(st->err, st->errlen, "sections and partials nested deeper than %d", TMPL_MAX_DEPTH);
		return TF_ERR_TOOBIG;
	}
	st->depth++;
	while (i < e && rc == TF_OK) {
		nd = &t->v[i];
		if (steps(st, 1) < 0) {
			rc = TF_ERR_TOOBIG;
			break;
		}
		switch (nd->type) {
		case N_TEXT:
			rc = emit_text(st, nd->s, nd->n, ind, indn);
			i++;
			break;
		case N_VAR:
		case N_RAW:
			v = lookup(st, nd->s, nd->n);
			if (v)
				rc = emit_json(st, v, nd->type == N_RAW);
			i++;
			break;
		case N_SECTION:
		case N_INVERTED:
			rc = render_section(st, t, i, ind, indn);
			i = nd->end;
			break;
		case N_PARTIAL:
			rc = render_partial(st, nd, ind, indn);
			i++;
			break;
		}
	}
	st->depth--;
	return rc;
}

enum tf_err tmpl_render(const char *tmpl, size_t len, json_t *ctx, tmpl_loader_fn loader, void *ud,
			struct buf *out, char *err, size_t errlen)
{
	struct rstate st;
	struct tmpl t = { 0 };
	struct partial *p, *next;
	size_t start = out->len;
	enum tf_err rc;

	if (err && errlen)
		err[0] = '\0';
	memset(&st, 0, sizeof(st));
	st.out = out;
	st.loader = loader;
	st.ud = ud;
	st.err = err;
	st.errlen = errlen;
	st.stack[st.sp++] = ctx;
	rc = parse(tmpl, len, NULL, &t, err, errlen);
	if (rc == TF_OK)
		rc = render(&st, &t, 0, t.len, NULL, 0);
	if (rc == TF_OK && !out->data && buf_append(out, "", 0) < 0)
		rc = out_fail(&st);
	tmpl_free(&t);
	for (p = st.partials; p; p = next) {
		next = p->next;
		tmpl_free(&p->t);
		free(p->src);
		free(p->name);
		free(p);
	}
	if (rc != TF_OK) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

/* ---------------------------------------------------------------- files */

struct cache_entry {
	char *path;
	char *data;
	size_t len;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[TMPL_CACHE_ENTRIES];
static size_t cache_n, cache_bytes;

static void cache_drop_oldest(void)
{
	free(cache[0].path);
	free(cache[0].data);
	cache_bytes -= cache[0].len;
	memmove(cache, cache + 1, (cache_n - 1) * sizeof(cache[0]));
	cache_n--;
}

void tmpl_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	while (cache_n)
		cache_drop_oldest();
	pthread_mutex_unlock(&cache_lock);
}

/* A malloc'd copy of DIR/NAME.mustache from the cache or the disk. NULL with *rc set otherwise. */
static char *load_file(const char *dir, const char *name, size_t *lenp, enum tf_err *rc, char *err,
		       size_t errlen)
{
	char path[PATH_MAX];
	struct buf b;
	char *copy = NULL, *keep, *kpath;
	size_t i;
	int n;

	if (!str_only_chars(name, TMPL_NAME_MAX, TMPL_NAME_CHARS)) {
		err_set(err, errlen, "template name \"%.64s\" refused (allowed: a-z 0-9 _ -, at most %d)", name,
		       TMPL_NAME_MAX);
		*rc = TF_ERR_INVALID;
		return NULL;
	}
	n = snprintf(path, sizeof(path), "%s/%s.mustache", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		err_set(err, errlen, "template path too long");
		*rc = TF_ERR_INVALID;
		return NULL;
	}
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < cache_n; i++) {
		if (strcmp(cache[i].path, path) == 0) {
			copy = malloc(cache[i].len + 1);
			if (copy) {
				memcpy(copy, cache[i].data, cache[i].len + 1);
				*lenp = cache[i].len;
			}
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (i < cache_n || copy) {
		*rc = copy ? TF_OK : TF_ERR_NOMEM;
		if (!copy)
			err_set(err, errlen, "out of memory");
		return copy;
	}

	*rc = file_read_all(path, TMPL_FILE_MAX, &b);
	if (*rc != TF_OK) {
		if (*rc == TF_ERR_IO && errno == ENOENT)
			*rc = TF_ERR_NOTFOUND;
		err_set(err, errlen, "template %s: %s", path, *rc == TF_ERR_TOOBIG ? "larger than 256 KiB" :
		       tf_strerror(*rc));
		return NULL;
	}
	if (memchr(b.data, '\0', b.len)) {
		buf_free(&b);
		err_set(err, errlen, "template %s contains a NUL byte", path);
		*rc = TF_ERR_INVALID;
		return NULL;
	}
	*lenp = b.len;
	copy = malloc(b.len + 1);
	kpath = strdup(path);
	keep = buf_detach(&b);
	if (!copy || !kpath) {
		free(copy);
		free(kpath);
		free(keep);
		err_set(err, errlen, "out of memory");
		*rc = TF_ERR_NOMEM;
		return NULL;
	}
	memcpy(copy, keep, *lenp + 1);
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < cache_n; i++) {
		if (strcmp(cache[i].path, path) == 0)
			break;
	}
	if (i < cache_n) {
		free(kpath);  /* another thread cached it meanwhile */
		free(keep);
	} else {
		while (cache_n && (cache_n == TMPL_CACHE_ENTRIES || cache_bytes + *lenp > TMPL_CACHE_BYTES))
			cache_drop_oldest();
		cache[cache_n].path = kpath;
		cache[cache_n].data = keep;
		cache[cache_n].len = *lenp;
		cache_n++;
		cache_bytes += *lenp;
	}
	pthread_mutex_unlock(&cache_lock);
	return copy;
}

static char *file_loader(const char *name, void *ud)
{
	size_t len;
	enum tf_err rc;

	return load_file(ud, name, &len, &rc, NULL, 0);
}

enum tf_err tmpl_render_file(const char *dir, const char *name, json_t *ctx, struct buf *out, char *err,
			     size_t errlen)
{
	char *src;
	size_t len = 0;
	enum tf_err rc;

	if (err && errlen)
		err[0] = '\0';
	src = load_file(dir, name, &len, &rc, err, errlen);
	if (!src)
		return rc;
	rc = tmpl_render(src, len, ctx, file_loader, (void *)dir, out, err, errlen);
	free(src);
	return rc;
}
