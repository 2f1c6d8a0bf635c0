/*
 * replay: runs a fuzz target's LLVMFuzzerTestOneInput() once on each file
 * named (a directory: on each file in it), with no libFuzzer, so that the
 * seed corpora and the inputs that once crashed (tests/fuzz/corpus/,
 * tests/fuzz/regress/) are replayed by every `make check` with the
 * normal compiler (tests/fuzz.bats).  A broken property aborts, as under
 * libFuzzer.  Prints "N inputs" at the end.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long n_inputs;

static void
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, got;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((data = realloc(data, cap)) == NULL)
				abort();
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	fprintf(stderr, "%s\n", path);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	n_inputs++;
}

static void
run_path(const char *path)
{
	struct stat st;
	struct dirent **ents;
	char *sub;
	int n;

	if (stat(path, &st) < 0) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0) {
		perror(path);
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    asprintf(&sub, "%s/%s", path, ents[i]->d_name) >= 0) {
			run_path(sub);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("%ld inputs\n", n_inputs);
	return 0;
}
