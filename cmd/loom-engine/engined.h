/* engined: the loom-engine daemon around lib/enginedb (see engined.c). */
#ifndef LOOM_ENGINED_H
#define LOOM_ENGINED_H

#include "net/otlp.h"
#include "util/config.h"

struct engined_opts {
	const char *db_url;
	int64_t sweep_ms;	  /* safety sweep for missed doorbells */
	struct otlp_config trace; /* trace.*: the run spans (see otlp.h) */
	const char *ctl_opt;	  /* -C: the control socket, or NULL */
	char *ctl_path;		  /* the control socket (owned), NULL: none */
};

int engined_opts_load(struct engined_opts *o, const struct config *cfg);
void engined_opts_free(struct engined_opts *o);
/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int engined_run(const struct engined_opts *o);

#endif
