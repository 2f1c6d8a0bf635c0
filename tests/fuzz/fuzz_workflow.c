/*
 * fuzz_workflow: a libFuzzer target for the workflow loader, the code
 * every workflow file meets first (`loom validate`, `loom workflow
 * apply`, POST /api/v1/workflows, `loom run`).
 *
 * An input is a workflow file, YAML or JSON (YAML is a superset of
 * JSON, and the loader takes both).  It goes through loom-api's order:
 * UTF-8, the nesting check, then workflow_load_buf().  Properties, each
 * checked with abort(), which libFuzzer reports as a crash:
 *
 *   - a file refused is refused with at least one diagnostic;
 *   - a file that loads has a canonical JSON form (workflow_to_jv) that
 *     loads again, both with workflow_load_buf() (as `loom workflow get
 *     -o json | loom workflow apply` does) and workflow_load_json() (as
 *     every run reads the stored spec back), to the same canonical JSON.
 *
 * Seeds: tests/fuzz/corpus/workflow/ (from tests/data and the examples).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cmd/loom-api/api.h"
#include "core/diag.h"
#include "core/jsoncheck.h"
#include "core/workflow.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loads the canonical text again with load(); returns its canonical text. */
static jv
reload(const char *text, size_t len, int json)
{
	struct workflow *wf;
	struct diags d;
	jv back;

	diags_init(&d);
	wf = json ? workflow_load_json("<stored>", text, len, &d) :
		    workflow_load_buf("<applied>", text, len, &d);
	if (wf == NULL) {
		fprintf(stderr, "canonical form refused (%s):\n%s\n",
		    json ? "json" : "buf", text);
		diags_print(&d, stderr);
		abort(); /* stored, but cannot run */
	}
	diags_clear(&d);
	back = jv_dump_string(workflow_to_jv(wf), 0);
	workflow_free(wf);
	return back;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct workflow *wf;
	struct diags d;
	int line, col;
	jv spec, a, b;

	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (utf8_check(buf, size, NULL) < 0 ||
	    api_yaml_depth_check(buf, size, API_MAX_DEPTH, &line, &col) < 0) {
		free(buf);
		return 0;
	}
	diags_init(&d);
	wf = workflow_load_buf("<fuzz>", buf, size, &d);
	if (wf == NULL && d.n == 0)
		abort(); /* refused without saying why */
	diags_clear(&d);
	if (wf != NULL) {
		spec = jv_dump_string(workflow_to_jv(wf), 0);
		/* loom-api refuses a spec with a NUL before storing it */
		if (!json_has_nul(jv_string_value(spec))) {
			size_t n =
			    (size_t)jv_string_length_bytes(jv_copy(spec));

			a = reload(jv_string_value(spec), n, 0);
			b = reload(jv_string_value(spec), n, 1);
			if (strcmp(jv_string_value(a), jv_string_value(spec)) ||
			    strcmp(jv_string_value(b), jv_string_value(spec))) {
				fprintf(stderr,
				    "canonical form changed:\n%s\n%s\n%s\n",
				    jv_string_value(spec), jv_string_value(a),
				    jv_string_value(b));
				abort(); /* two loads, two workflows */
			}
			jv_free(a);
			jv_free(b);
		}
		jv_free(spec);
		workflow_free(wf);
	}
	free(buf);
	return 0;
}
