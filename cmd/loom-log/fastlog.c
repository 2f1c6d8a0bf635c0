/*
 * fastlog: a good "log" line into a record without libjq.
 *
 * loom-log spends most of its time parsing lines, and nearly every line
 * is a flat object of strings and numbers that is right.  This scanner
 * takes exactly that: one JSON object whose values are strings, numbers,
 * true, false or null, with the fields of a "log" message all valid (the
 * same rules as proto.c).  Anything else -- another type of message, a
 * nested value, a field that is wrong, JSON it is not sure of -- is
 * refused, and ld_parse() parses the line with libjq, which says what is
 * wrong.  So this file decides nothing on its own: it may only say "this
 * line is a good record" where proto.c would say the same.  The caller
 * checked UTF-8 already (proto.c).
 */
#include "logd.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

enum { F_V, F_T, F_EXEC, F_TASK, F_ATT, F_LEVEL, F_STREAM, F_TS, F_MSG, F_N };
static const char *const names[F_N] = { "v", "t", "execution", "task",
	"attempt", "level", "stream", "ts", "msg" };

struct val {
	int kind; /* 0 absent, 's' string, 'n' number, 'z' null, 'b' bool */
	char *s;  /* 's': decoded, malloc'd */
	size_t len;
	double n;
};

struct scan {
	const char *p, *end;
};

static void
ws(struct scan *sc)
{
	while (sc->p < sc->end &&
	    (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' ||
		*sc->p == '\r'))
		sc->p++;
}

static int
hex4(const char *p, unsigned *u)
{
	*u = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*u <<= 4;
		if (c >= '0' && c <= '9')
			*u |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*u |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*u |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* One \uXXXX (or a surrogate pair) as UTF-8 into b; -1 when odd. */
static int
unicode(struct scan *sc, struct buf *b)
{
	unsigned u, lo;
	char o[4];
	int n;

	if (sc->end - sc->p < 5 || hex4(sc->p + 1, &u) < 0)
		return -1;
	sc->p += 5;
	if (u >= 0xd800 && u < 0xdc00) { /* a pair, or refuse */
		if (sc->end - sc->p < 6 || sc->p[0] != '\\' ||
		    sc->p[1] != 'u' || hex4(sc->p + 2, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -1;
		sc->p += 6;
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	} else if ((u >= 0xdc00 && u < 0xe000) || u == 0)
		return -1; /* a lone low half; NUL */
	if (u < 0x80) {
		o[0] = (char)u;
		n = 1;
	} else if (u < 0x800) {
		o[0] = (char)(0xc0 | u >> 6);
		n = 2;
	} else if (u < 0x10000) {
		o[0] = (char)(0xe0 | u >> 12);
		n = 3;
	} else {
		o[0] = (char)(0xf0 | u >> 18);
		n = 4;
	}
	for (int i = 1; i < n; i++) /* the continuation bytes */
		o[i] = (char)(0x80 | ((u >> (6 * (n - 1 - i))) & 0x3f));
	buf_put(b, o, (size_t)n);
	return 0;
}

/* A string at sc->p (its opening quote) into v. */
static int
string(struct scan *sc, struct val *v)
{
	struct buf b = BUF_INIT;
	const char *run;

	sc->p++;
	buf_put(&b, "", 0);
	for (run = sc->p; sc->p < sc->end; sc->p++) {
		unsigned char c = (unsigned char)*sc->p;

		if (c == '"' || c == '\\') {
			buf_put(&b, run, (size_t)(sc->p - run));
			if (c == '"')
				break;
			if (sc->end - sc->p < 2)
				goto bad;
			switch (sc->p[1]) {
			case '"':
			case '\\':
			case '/':
				buf_putc(&b, sc->p[1]);
				break;
			case 'b':
				buf_putc(&b, '\b');
				break;
			case 'f':
				buf_putc(&b, '\f');
				break;
			case 'n':
				buf_putc(&b, '\n');
				break;
			case 'r':
				buf_putc(&b, '\r');
				break;
			case 't':
				buf_putc(&b, '\t');
				break;
			case 'u':
				sc->p++;
				if (unicode(sc, &b) < 0)
					goto bad;
				run = sc->p;
				sc->p--;
				continue;
			default:
				goto bad;
			}
			sc->p++;
			run = sc->p + 1;
		} else if (c < 0x20)
			goto bad;
	}
	if (sc->p >= sc->end)
		goto bad;
	sc->p++;
	v->kind = 's';
	v->s = b.p ? b.p : xstrdup("");
	v->len = b.len;
	return 0;
bad:
	buf_free(&b);
	return -1;
}

/* A JSON number (its grammar, strictly) into v. */
static int
number(struct scan *sc, struct val *v)
{
	const char *p = sc->p, *start = p;
	char tmp[64];

	if (p < sc->end && *p == '-')
		p++;
	if (p >= sc->end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0')
		p++;
	else
		while (p < sc->end && *p >= '0' && *p <= '9')
			p++;
	if (p < sc->end && *p == '.') {
		if (++p >= sc->end || *p < '0' || *p > '9')
			return -1;
		while (p < sc->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < sc->end && (*p == 'e' || *p == 'E'))
		return -1; /* rare: the thorough way */
	if ((size_t)(p - start) >= sizeof(tmp))
		return -1;
	memcpy(tmp, start, (size_t)(p - start));
	tmp[p - start] = '\0';
	v->kind = 'n';
	v->n = strtod(tmp, NULL);
	sc->p = p;
	return 0;
}

static int
word(struct scan *sc, const char *w, struct val *v, int kind)
{
	size_t n = strlen(w);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, w, n) != 0)
		return -1;
	sc->p += n;
	v->kind = kind;
	return 0;
}

static int
value(struct scan *sc, struct val *v)
{
	if (sc->p >= sc->end)
		return -1;
	switch (*sc->p) {
	case '"':
		return string(sc, v);
	case 't':
		return word(sc, "true", v, 'b');
	case 'f':
		return word(sc, "false", v, 'b');
	case 'n':
		return word(sc, "null", v, 'z');
	default:
		return number(sc, v);
	}
}

/* Whether k..q is a key that needs no decoding: no escape, and no control
 * character (which JSON refuses in a string, so string() refuses it). */
static int
plain_key(const char *k, const char *q)
{
	for (; k < q; k++)
		if (*k == '\\' || (unsigned char)*k < 0x20)
			return 0;
	return 1;
}

/* The object's members; the ones of names[] into f (the last wins). */
static int
object(struct scan *sc, struct val *f)
{
	ws(sc);
	if (sc->p >= sc->end || *sc->p++ != '{')
		return -1;
	ws(sc);
	if (sc->p < sc->end && *sc->p == '}')
		return -1; /* {} is no message */
	for (;;) {
		struct val v = { 0 }, key = { 0 };
		const char *k, *q;
		size_t kn;
		int i;

		ws(sc);
		if (sc->p >= sc->end || *sc->p != '"')
			return -1;
		/* A key without escapes is matched where it is. */
		k = sc->p + 1;
		q = memchr(k, '"', (size_t)(sc->end - k));
		if (q != NULL && plain_key(k, q)) {
			kn = (size_t)(q - k);
			sc->p = q + 1;
		} else if (string(sc, &key) < 0)
			return -1;
		else {
			k = key.s;
			kn = key.len;
		}
		ws(sc);
		if (sc->p >= sc->end || *sc->p++ != ':') {
			free(key.s);
			return -1;
		}
		ws(sc);
		if (value(sc, &v) < 0) {
			free(key.s);
			return -1;
		}
		for (i = 0; i < F_N &&
		     (strlen(names[i]) != kn || memcmp(k, names[i], kn) != 0);
		     i++)
			;
		free(key.s);
		if (i < F_N) {
			free(f[i].s);
			f[i] = v;
		} else
			free(v.s);
		ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			continue;
		}
		if (sc->p < sc->end && *sc->p == '}') {
			sc->p++;
			ws(sc);
			return sc->p == sc->end ? 0 : -1;
		}
		return -1;
	}
}

static int
id_ok(const struct val *v)
{
	return v->kind == 's' && v->len >= 1 && v->len <= 200 &&
	    strlen(v->s) == v->len;
}

/* The rules of proto.c's parse_log(), on the members found. */
static int
valid(struct val *f, int64_t now_ms, struct ld_rec *r)
{
	if (f[F_V].kind != 'n' || f[F_V].n != 1 || f[F_T].kind != 's' ||
	    strcmp(f[F_T].s, "log") != 0 || !id_ok(&f[F_EXEC]) ||
	    !id_ok(&f[F_TASK]) || f[F_MSG].kind != 's' ||
	    strlen(f[F_MSG].s) != f[F_MSG].len)
		return -1;
	r->attempt = 1;
	if (f[F_ATT].kind == 'n') {
		if (f[F_ATT].n < 0 || f[F_ATT].n > 1000000 ||
		    f[F_ATT].n != (int)f[F_ATT].n)
			return -1;
		r->attempt = (int)f[F_ATT].n;
	} else if (f[F_ATT].kind != 0 && f[F_ATT].kind != 'z')
		return -1;
	if (f[F_LEVEL].kind == 's' ?
		ld_level_rank(f[F_LEVEL].s) < 0 :
		f[F_LEVEL].kind != 0 && f[F_LEVEL].kind != 'z')
		return -1;
	if (f[F_STREAM].kind == 's' ?
		!ld_stream_ok(f[F_STREAM].s) :
		f[F_STREAM].kind != 0 && f[F_STREAM].kind != 'z')
		return -1;
	r->ts_ms = now_ms;
	if (f[F_TS].kind == 's'	    ? ld_ts_string(f[F_TS].s, &r->ts_ms) < 0 :
		f[F_TS].kind == 'n' ? ld_ts_number(f[F_TS].n, &r->ts_ms) < 0 :
				      f[F_TS].kind != 0 && f[F_TS].kind != 'z')
		return -1;
	return 0;
}

/* Takes v's string, or makes def's. */
static char *
take(struct val *v, const char *def)
{
	char *s = v->kind == 's' ? v->s : xstrdup(def);

	if (v->kind == 's')
		v->s = NULL;
	return s;
}

int
ld_fast_log(const char *p, size_t len, int64_t now_ms, struct ld_rec *r)
{
	struct scan sc = { p, p + len };
	struct val f[F_N];
	struct ld_rec x;
	int rc = -1;

	memset(f, 0, sizeof(f));
	memset(&x, 0, sizeof(x));
	if (object(&sc, f) == 0 && valid(f, now_ms, &x) == 0) {
		x.execution = take(&f[F_EXEC], "");
		x.task = take(&f[F_TASK], "");
		x.msg = take(&f[F_MSG], "");
		x.level = take(&f[F_LEVEL], "info");
		x.stream = take(&f[F_STREAM], "app");
		*r = x;
		rc = 0;
	}
	for (int i = 0; i < F_N; i++)
		free(f[i].s);
	return rc;
}
