/*
 * core/file.c - the one permission-checked opener for configured files.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/file.h"

int file_open(const char *path, unsigned flags, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int rc = RC_IO, fl;

	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		rc = RC_INVAL;
		goto fail;
	}
	if ((flags & FILE_PRIVATE) && (st.st_mode & 077)) {
		snprintf(err, errlen,
			 "%s: permissions %04o allow group/other access (need 0600 or stricter)",
			 path, (unsigned)(st.st_mode & 07777));
		rc = RC_PERM;
		goto fail;
	}
	/* O_NONBLOCK was for the open only (a FIFO); reads of a regular file
	 * ignore it, clear it anyway so that the stream behaves as usual */
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

FILE *file_fopen(const char *path, unsigned flags, char *err, size_t errlen)
{
	int fd = file_open(path, flags, err, errlen);
	FILE *fp;

	if (fd < 0)
		return NULL;
	if (!(fp = fdopen(fd, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return fp;
}

int file_read_private(const char *path, void *buf, size_t max, size_t *n, char *err, size_t errlen)
{
	int fd = file_open(path, FILE_PRIVATE, err, errlen);
	int rc = 0;

	*n = 0;
	if (fd < 0)
		return fd;
	while (*n < max) {
		ssize_t got = read(fd, (char *)buf + *n, max - *n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = RC_IO;
			break;
		}
		if (got == 0)
			break;
		*n += (size_t)got;
	}
	close(fd);
	return rc;
}

int file_read_private_line(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
	size_t n = 0, end = 0;
	int rc;

	if (len < 2) {
		snprintf(err, errlen, "%s: no room for a line", path);
		return RC_INVAL;
	}
	/* one byte more than fits tells a line that is too long */
	if ((rc = file_read_private(path, buf, len, &n, err, errlen)) != 0)
		return rc;
	while (end < n && buf[end] != '\n' && buf[end] != '\r' && buf[end] != '\0')
		end++;
	if (end == len) {
		snprintf(err, errlen, "%s: first line longer than %zu bytes", path, len - 1);
		return RC_TOOBIG;
	}
	buf[end] = '\0';
	if (end == 0) {
		snprintf(err, errlen, "%s: empty", path);
		return RC_INVAL;
	}
	return 0;
}
