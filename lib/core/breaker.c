/*
 * breaker: see breaker.h.
 *
 * Every function is arithmetic on a struct breaker_state and the caller's
 * "now", so tests/unit/test_breaker.c can walk a breaker through its whole
 * life with made-up times.  Time sums saturate instead of overflowing: a
 * silly config (a cool-down of 100 years) gives a long wait, never a
 * negative one.
 */
#include "breaker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[] = {
	[BREAKER_CLOSED] = "CLOSED",
	[BREAKER_OPEN] = "OPEN",
	[BREAKER_HALF_OPEN] = "HALF_OPEN",
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

void
breaker_config_default(struct breaker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = 1;
	cfg->failures = 5;
	cfg->rate = 0.5;
	cfg->min_calls = 20;
	cfg->window_ms = 60 * 1000;
	cfg->cooldown_ms = 30 * 1000;
	cfg->max_cooldown_ms = 5 * 60 * 1000;
	cfg->probe_timeout_ms = 60 * 1000;
	cfg->cache_ms = 1000;
}

void
breaker_state_init(struct breaker_state *s)
{
	memset(s, 0, sizeof(*s));
	s->state = BREAKER_CLOSED;
}

const char *
breaker_state_name(enum breaker_st st)
{
	if ((unsigned)st >= NSTATES)
		return "";
	return state_names[st];
}

int
breaker_state_parse(const char *name, enum breaker_st *out)
{
	for (size_t i = 0; name != NULL && i < NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum breaker_st)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

int
breaker_is_failure(enum errclass c)
{
	return c == ERR_TIMEOUT || c == ERR_CONNECTION || c == ERR_HTTP_SERVER;
}

/* a + b for b >= 0, stopping at INT64_MAX. */
static int64_t
add_sat(int64_t a, int64_t b)
{
	if (b < 0)
		b = 0;
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t
bucket_width(const struct breaker_config *cfg)
{
	int64_t w = cfg->window_ms / BREAKER_BUCKETS;

	return w > 0 ? w : 1;
}

/* The start of the bucket holding t: floor(t / w) * w, also for t < 0. */
static int64_t
bucket_start(int64_t t, int64_t w)
{
	int64_t q = t / w;

	if (t % w != 0 && t < 0)
		q--;
	return q * w;
}

static size_t
bucket_slot(int64_t start, int64_t w)
{
	int64_t i = (start / w) % BREAKER_BUCKETS;

	return (size_t)(i < 0 ? i + BREAKER_BUCKETS : i);
}

void
breaker_window(const struct breaker_state *s, const struct breaker_config *cfg,
    int64_t now_ms, long *calls, long *fails)
{
	int64_t w = bucket_width(cfg), cur = bucket_start(now_ms, w);
	int64_t lo = cur - (BREAKER_BUCKETS - 1) * w;
	long c = 0, f = 0;

	for (size_t i = 0; i < BREAKER_BUCKETS; i++) {
		const struct breaker_bucket *b = &s->win[i];

		/* Aged out, or from a future the clock stepped back from. */
		if (b->start_ms < lo || b->start_ms > cur)
			continue;
		c += (long)b->ok + b->fail;
		f += b->fail;
	}
	if (calls)
		*calls = c;
	if (fails)
		*fails = f;
}

static void
window_count(struct breaker_state *s, const struct breaker_config *cfg,
    int64_t now_ms, int failed)
{
	int64_t w = bucket_width(cfg), start = bucket_start(now_ms, w);
	struct breaker_bucket *b = &s->win[bucket_slot(start, w)];

	if (b->start_ms != start) {
		/* The slot still holds a bucket one lap old: recycle it. */
		b->start_ms = start;
		b->ok = b->fail = 0;
	}
	if (failed) {
		if (b->fail < INT32_MAX)
			b->fail++;
	} else if (b->ok < INT32_MAX)
		b->ok++;
}

static void
open_breaker(struct breaker_state *s, int64_t now_ms, int64_t cooldown_ms)
{
	s->state = BREAKER_OPEN;
	s->opened_at_ms = now_ms;
	s->cooldown_ms = cooldown_ms > 0 ? cooldown_ms : 0;
	s->probe_in_flight = 0;
	s->probe_until_ms = 0;
}

static void
close_breaker(struct breaker_state *s)
{
	/* A fresh start: what happened before the outage is history. */
	breaker_state_init(s);
}

static int
claim_probe(
    struct breaker_state *s, const struct breaker_config *cfg, int64_t now_ms)
{
	s->state = BREAKER_HALF_OPEN;
	s->probe_in_flight = 1;
	s->probe_until_ms = add_sat(now_ms, cfg->probe_timeout_ms);
	return 1;
}

/* The cool-down after a failed probe: doubled, capped. */
static int64_t
next_cooldown(const struct breaker_state *s, const struct breaker_config *cfg)
{
	int64_t cap = cfg->max_cooldown_ms > cfg->cooldown_ms ?
	    cfg->max_cooldown_ms :
	    cfg->cooldown_ms;
	int64_t cur = s->cooldown_ms > 0 ? s->cooldown_ms : cfg->cooldown_ms;

	/* 2 * cur >= cap, written so that it cannot overflow */
	return cur >= cap - cur ? cap : cur * 2;
}

int
breaker_allow(
    struct breaker_state *s, const struct breaker_config *cfg, int64_t now_ms)
{
	if (!cfg->enabled)
		return 1;
	switch (s->state) {
	case BREAKER_CLOSED:
		return 1;
	case BREAKER_OPEN:
		/* Clock stepped back: restart the cool-down from now. */
		if (s->opened_at_ms > now_ms)
			s->opened_at_ms = now_ms;
		if (now_ms < add_sat(s->opened_at_ms, s->cooldown_ms))
			return 0;
		return claim_probe(s, cfg, now_ms);
	case BREAKER_HALF_OPEN:
		if (s->probe_in_flight && now_ms < s->probe_until_ms) {
			if (s->probe_until_ms >
			    add_sat(now_ms, cfg->probe_timeout_ms))
				s->probe_until_ms =
				    add_sat(now_ms, cfg->probe_timeout_ms);
			return 0;
		}
		/* No probe, or the last one was lost: this caller probes. */
		return claim_probe(s, cfg, now_ms);
	}
	/* An unknown state (a corrupt row): behave as CLOSED. */
	return 1;
}

void
breaker_record(struct breaker_state *s, const struct breaker_config *cfg,
    int64_t now_ms, enum errclass outcome)
{
	int failed = breaker_is_failure(outcome);
	long calls, fails;

	if (!cfg->enabled)
		return;
	switch (s->state) {
	case BREAKER_OPEN:
		/* Sent before it opened: says nothing the opening did not. */
		return;
	case BREAKER_HALF_OPEN:
		if (!failed) {
			close_breaker(s);
			return;
		}
		if (s->consecutive < INT32_MAX)
			s->consecutive++;
		open_breaker(s, now_ms, next_cooldown(s, cfg));
		return;
	case BREAKER_CLOSED:
	default:
		break;
	}
	s->state = BREAKER_CLOSED;
	window_count(s, cfg, now_ms, failed);
	if (!failed) {
		s->consecutive = 0;
		return;
	}
	if (s->consecutive < INT32_MAX)
		s->consecutive++;
	if (cfg->failures > 0 && s->consecutive >= cfg->failures) {
		open_breaker(s, now_ms, cfg->cooldown_ms);
		return;
	}
	if (cfg->rate <= 0)
		return;
	breaker_window(s, cfg, now_ms, &calls, &fails);
	if (calls >= (cfg->min_calls > 1 ? cfg->min_calls : 1) &&
	    (double)fails >= cfg->rate * (double)calls)
		open_breaker(s, now_ms, cfg->cooldown_ms);
}

void
breaker_release_probe(struct breaker_state *s)
{
	if (s->state != BREAKER_HALF_OPEN)
		return;
	s->probe_in_flight = 0;
	s->probe_until_ms = 0;
}

int64_t
breaker_retry_at(
    const struct breaker_state *s, const struct breaker_config *cfg)
{
	if (!cfg->enabled)
		return 0;
	switch (s->state) {
	case BREAKER_OPEN:
		return add_sat(s->opened_at_ms, s->cooldown_ms);
	case BREAKER_HALF_OPEN:
		return s->probe_in_flight ? s->probe_until_ms : 0;
	case BREAKER_CLOSED:
	default:
		return 0;
	}
}

/* ASCII only: a host name in UTF-8 keeps its other bytes as they are. */
static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int
host_char_ok(unsigned char c, int bracketed)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	if (c == '[' || c == ']' || c == '@' || c == '\\')
		return 0;
	return bracketed || c != ':';
}

int
breaker_target_of(const char *url, char *buf, size_t len)
{
	const char *sep, *auth, *end, *at, *host, *hend, *p, *scheme;
	char portbuf[24];
	size_t slen, hlen, n;
	long port = 0;
	int https;

	if (url == NULL || (sep = strstr(url, "://")) == NULL)
		goto inval;
	slen = (size_t)(sep - url);
	if (slen == 4 && strncasecmp(url, "http", 4) == 0)
		https = 0;
	else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
		https = 1;
	else
		goto inval;
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	/* User information (maybe a password) never becomes a target name. */
	host = auth;
	for (at = auth; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (host < end && *host == '[') {
		hend = memchr(host, ']', (size_t)(end - host));
		if (hend == NULL)
			goto inval;
		hend++;
		for (p = host + 1; p < hend - 1; p++)
			if (!host_char_ok((unsigned char)*p, 1))
				goto inval;
		if (hend - host < 3)
			goto inval;
	} else {
		for (hend = host; hend < end && *hend != ':'; hend++)
			if (!host_char_ok((unsigned char)*hend, 0))
				goto inval;
		if (hend == host)
			goto inval;
	}
	hlen = (size_t)(hend - host);
	if (hend < end) {
		if (*hend != ':')
			goto inval;
		/* Digits only; "host:" (empty) means the default port. */
		for (p = hend + 1; p < end; p++) {
			if (*p < '0' || *p > '9')
				goto inval;
			port = port * 10 + (*p - '0');
			if (port > 65535)
				goto inval;
		}
		if (p > hend + 1 && port == 0)
			goto inval;
	}
	if (port == 0)
		port = https ? 443 : 80;
	scheme = https ? "https://" : "http://";
	snprintf(portbuf, sizeof(portbuf), ":%ld", port);
	if (strlen(scheme) + hlen + strlen(portbuf) >= len)
		goto range;
	n = strlen(scheme);
	memcpy(buf, scheme, n);
	for (size_t i = 0; i < hlen; i++)
		buf[n + i] = lower(host[i]);
	strcpy(buf + n + hlen, portbuf);
	return 0;
range:
	if (len > 0)
		buf[0] = '\0';
	errno = ERANGE;
	return -1;
inval:
	if (len > 0)
		buf[0] = '\0';
	errno = EINVAL;
	return -1;
}
