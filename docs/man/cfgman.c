/*
 * docs/man/cfgman.c - build-time generator of cmpgw.json(5): copies the
 * template (argv[1]) to argv[2], replacing the marker line KEYS_LINE with one
 * roff entry per configuration key from the code's own table
 * (cfg_doc_key, core/cfg.h), so the page cannot list other keys than the
 * gateway accepts. Markdown `code` in the key docs becomes bold.
 * Exit 0, or 1 with a message on stderr (also when the template does not
 * have the marker line exactly once).
 */
#include <stdio.h>
#include <string.h>

#include "core/cfg.h"

/* A roff comment, so a template that skipped this generator still renders;
 * not @KEYS@, which meson's configure_file would replace. */
#define KEYS_LINE ".\\\" cfgman: the key list goes here\n"

/* roff-escape s: backslashes, a leading control character, `code` */
static void put_text(FILE *out, const char *s)
{
	bool bold = false;

	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '`')
			fputs((bold = !bold) ? "\\fB" : "\\fR", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
	if (bold)
		fputs("\\fR", out);
}

/* The top-level section of a key path: "listen[].port" -> "listen" */
static size_t section_len(const char *path)
{
	return strcspn(path, ".[");
}

static void put_keys(FILE *out)
{
	struct cfg_doc d;
	char section[64] = "";

	for (size_t i = 0; cfg_doc_key(i, &d); i++) {
		size_t n = section_len(d.path);
		if (n >= sizeof(section))
			n = sizeof(section) - 1;
		if (strncmp(section, d.path, n) != 0 || section[n] != '\0') {
			snprintf(section, sizeof(section), "%.*s", (int)n, d.path);
			fprintf(out, ".SS %s\n", section);
		}
		fputs(".TP\n.B ", out);
		put_text(out, d.path);
		fputs("\n", out);
		put_text(out, d.type);
		fputs(d.def ? "; default \\fB" : "; \\fIrequired\\fR.", out);
		if (d.def) {
			put_text(out, d.def);
			fputs("\\fR.", out);
		}
		fputs("\n.br\n", out);
		put_text(out, d.doc);
		fputc('\n', out);
	}
}

int main(int argc, char **argv)
{
	char line[4096];
	FILE *in = NULL, *out = NULL;
	int rc = 1, keys = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: cfgman TEMPLATE OUTPUT\n");
		return 1;
	}
	if (!(in = fopen(argv[1], "r")) || !(out = fopen(argv[2], "w"))) {
		perror(in ? argv[2] : argv[1]);
		goto out;
	}
	while (fgets(line, sizeof(line), in)) {
		if (strcmp(line, KEYS_LINE) == 0) {
			put_keys(out);
			keys++;
		} else {
			fputs(line, out);
		}
	}
	rc = ferror(in) ? 1 : 0;
	if (keys != 1) {
		fprintf(stderr, "cfgman: %s: %d marker lines %s", argv[1], keys, KEYS_LINE);
		rc = 1;
	}
out:
	if (out && fclose(out) != 0)
		rc = 1;
	if (in)
		fclose(in);
	return rc;
}
