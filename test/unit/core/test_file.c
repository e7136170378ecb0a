/*
 * test/unit/core/test_file.c - file_open and its readers: the exact code
 * and message of every refusal (missing, directory, FIFO, group/other
 * access on a private file), symbolic links followed, and the line and
 * byte readers' bounds.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "test/unit/tap.h"

static char dir[] = "/tmp/cmpgw-test-file-XXXXXX";

/* dir/name with mode, holding data; returns the path (static buffer) */
static const char *put(const char *name, const char *data, size_t len, mode_t mode)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w"))) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
	chmod(path, mode);
	return path;
}

/* file_open(path, flags) gives code want and message "<path>: <reason>" */
static void refused(const char *path, unsigned flags, int want, const char *reason,
		    const char *what)
{
	char err[PATH_MAX + 128] = "", exp[PATH_MAX + 128];
	int fd = file_open(path, flags, err, sizeof(err));

	snprintf(exp, sizeof(exp), "%s: %s", path, reason);
	ok(fd == want && strcmp(err, exp) == 0, "%s", what);
	if (fd != want || strcmp(err, exp) != 0)
		printf("#   got %d \"%s\", want %d \"%s\"\n", fd, err, want, exp);
	if (fd >= 0)
		close(fd);
}

static void test_open(void)
{
	char path[PATH_MAX], err[PATH_MAX + 128] = "";
	const char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/missing", dir);
	refused(path, 0, RC_IO, "No such file or directory", "missing file");
	refused(dir, 0, RC_INVAL, "not a regular file", "directory");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ok(mkfifo(path, 0600) == 0, "made a FIFO");
	refused(path, FILE_PRIVATE, RC_INVAL, "not a regular file",
		"FIFO refused at once (no writer needed)");

	p = put("world.key", "k", 1, 0644);
	refused(p, FILE_PRIVATE, RC_PERM,
		"permissions 0644 allow group/other access (need 0600 or stricter)",
		"world-readable private file");
	p = put("group.key", "k", 1, 0640);
	refused(p, FILE_PRIVATE, RC_PERM,
		"permissions 0640 allow group/other access (need 0600 or stricter)",
		"group-readable private file");
	p = put("other.key", "k", 1, 0604);
	refused(p, FILE_PRIVATE, RC_PERM,
		"permissions 0604 allow group/other access (need 0600 or stricter)",
		"other-readable private file");
	p = put("public.crt", "c", 1, 0644);
	fd = file_open(p, 0, err, sizeof(err));
	ok(fd >= 0, "a 0644 file opens when not private");
	if (fd >= 0)
		close(fd);
	p = put("private.key", "k", 1, 0600);
	fd = file_open(p, FILE_PRIVATE, err, sizeof(err));
	ok(fd >= 0, "a 0600 private file opens");
	if (fd >= 0)
		close(fd);
	p = put("owner-ro.key", "k", 1, 0400);
	fd = file_open(p, FILE_PRIVATE, err, sizeof(err));
	ok(fd >= 0, "a 0400 private file opens");
	if (fd >= 0)
		close(fd);
}

static void test_links(void)
{
	char link[PATH_MAX], target[PATH_MAX], err[PATH_MAX + 128] = "", buf[8] = "";
	size_t n = 0;

	snprintf(target, sizeof(target), "%s/private.key", dir);
	snprintf(link, sizeof(link), "%s/link.key", dir);
	ok(symlink(target, link) == 0, "made a link to the 0600 file");
	ok(file_read_private(link, buf, sizeof(buf), &n, err, sizeof(err)) == 0 && n == 1 &&
		   buf[0] == 'k',
	   "links are followed (docs/CONFIG.md)");
	snprintf(target, sizeof(target), "%s/world.key", dir);
	snprintf(link, sizeof(link), "%s/link-world.key", dir);
	ok(symlink(target, link) == 0, "made a link to the 0644 file");
	refused(link, FILE_PRIVATE, RC_PERM,
		"permissions 0644 allow group/other access (need 0600 or stricter)",
		"a link is judged by the file it reaches");
}

static void test_read(void)
{
	char err[PATH_MAX + 128] = "", line[8], exp[PATH_MAX + 128];
	unsigned char buf[33];
	const char *p;
	size_t n = 0;
	FILE *f;

	p = put("token.key", "0123456789abcdef0123456789abcdef", 32, 0600);
	ok(file_read_private(p, buf, sizeof(buf), &n, err, sizeof(err)) == 0 && n == 32,
	   "32 bytes read with room for 33");
	p = put("long.key", "0123456789abcdef0123456789abcdefXX", 34, 0600);
	ok(file_read_private(p, buf, sizeof(buf), &n, err, sizeof(err)) == 0 && n == 33,
	   "reading stops at max");
	p = put("world.key", "k", 1, 0644);
	ok(file_read_private(p, buf, sizeof(buf), &n, err, sizeof(err)) == RC_PERM && n == 0,
	   "file_read_private refuses a 0644 file");

	p = put("url", "abc\r\ndef\n", 9, 0600);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == 0 &&
		   strcmp(line, "abc") == 0,
	   "first line without CR LF");
	p = put("seven", "abcdefg", 7, 0600);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == 0 &&
		   strcmp(line, "abcdefg") == 0,
	   "a line that just fits, no line end");
	p = put("eight", "abcdefgh\n", 9, 0600);
	snprintf(exp, sizeof(exp), "%s: first line longer than 7 bytes", p);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == RC_TOOBIG &&
		   strcmp(err, exp) == 0,
	   "a longer line is refused, not cut: %s", err);
	p = put("empty", "", 0, 0600);
	snprintf(exp, sizeof(exp), "%s: empty", p);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == RC_INVAL &&
		   strcmp(err, exp) == 0,
	   "empty file");
	p = put("blank", "\nsecond\n", 8, 0600);
	snprintf(exp, sizeof(exp), "%s: empty", p);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == RC_INVAL &&
		   strcmp(err, exp) == 0,
	   "empty first line");
	p = put("open", "abc\n", 4, 0644);
	ok(file_read_private_line(p, line, sizeof(line), err, sizeof(err)) == RC_PERM,
	   "file_read_private_line refuses a 0644 file");

	p = put("cert.pem", "PEM\n", 4, 0644);
	f = file_fopen(p, 0, err, sizeof(err));
	ok(f && fgets(line, sizeof(line), f) && strcmp(line, "PEM\n") == 0, "file_fopen reads");
	if (f)
		fclose(f);
	ok(file_fopen(dir, 0, err, sizeof(err)) == NULL && strstr(err, "not a regular file"),
	   "file_fopen refuses a directory");
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

int main(void)
{
	ok(mkdtemp(dir) != NULL, "temporary directory %s", dir);
	test_open();
	test_links();
	test_read();
	cleanup();
	return tap_done();
}
