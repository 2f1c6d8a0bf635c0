/*
 * t.h: a tiny TAP producer for Link Loom's unit tests.
 *
 *   ok(cond, "name %d", i);  is_int(got, want, "name");  is_str(got, want, ...)
 *   return t_done();   -- prints the plan and returns the exit status
 *
 * Output is TAP, so tests/run-tests.sh (and prove) can count it.
 */
#ifndef LOOM_T_H
#define LOOM_T_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_count, t_failed;

static void __attribute__((format(printf, 2, 3), unused))
t_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	t_count++;
	if (!cond)
		t_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define ok(cond, ...) t_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, ...) \
	do { \
		long long t_g = (long long)(got), t_w = (long long)(want); \
		t_ok(t_g == t_w, __VA_ARGS__); \
		if (t_g != t_w) \
			printf("#   got %lld, want %lld (%s:%d)\n", t_g, t_w, \
			    __FILE__, __LINE__); \
	} while (0)

#define is_str(got, want, ...) \
	do { \
		const char *t_g = (got), *t_w = (want); \
		int t_eq = (t_g == NULL && t_w == NULL) || \
		    (t_g && t_w && strcmp(t_g, t_w) == 0); \
		t_ok(t_eq, __VA_ARGS__); \
		if (!t_eq) \
			printf("#   got \"%s\", want \"%s\" (%s:%d)\n", \
			    t_g ? t_g : "(null)", t_w ? t_w : "(null)", \
			    __FILE__, __LINE__); \
	} while (0)

static int __attribute__((unused)) t_done(void)
{
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}

#endif
