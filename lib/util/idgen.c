/*
 * idgen: see idgen.h.  getrandom() without flags blocks only until the
 * kernel's pool is initialised at boot, then never; EINTR is retried and a
 * short read continues where it stopped.
 */
#include "idgen.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int
idgen_bytes(void *out, size_t n)
{
	unsigned char *p = out;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
idgen_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t done = 0;

	while (done < nbytes) {
		size_t n =
		    nbytes - done < sizeof(raw) ? nbytes - done : sizeof(raw);

		if (idgen_bytes(raw, n) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			out[2 * (done + i)] = hex[raw[i] >> 4];
			out[2 * (done + i) + 1] = hex[raw[i] & 0xf];
		}
		done += n;
	}
	out[2 * nbytes] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
idgen_execution_id(char *out)
{
	size_t plen = sizeof(IDGEN_EXEC_PREFIX) - 1;

	memcpy(out, IDGEN_EXEC_PREFIX, plen);
	return idgen_hex(out + plen, IDGEN_EXEC_HEX / 2);
}

int
idgen_callback_token(char *out)
{
	return idgen_hex(out, IDGEN_TOKEN_HEX / 2);
}

int
idgen_is_execution_id(const char *s)
{
	size_t plen = sizeof(IDGEN_EXEC_PREFIX) - 1;

	if (strncmp(s, IDGEN_EXEC_PREFIX, plen) != 0 ||
	    strlen(s) != IDGEN_EXEC_LEN)
		return 0;
	for (s += plen; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}
