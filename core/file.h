/*
 * core/file.h - open the files the configuration names (certificates,
 * private keys, secrets), with the checks a private key or secret needs.
 *
 * Every refusal is one message "<path>: <reason>" in err, for the caller to
 * prefix with the config path ("ca.issuing_key: /etc/k.pem: ..."):
 *   - open/read errors:  "<path>: No such file or directory" (strerror)
 *   - not a regular file (directory, FIFO, device): "<path>: not a regular file"
 *   - FILE_PRIVATE and mode & 077: "<path>: permissions 0644 allow
 *     group/other access (need 0600 or stricter)"
 * Symbolic links are followed (docs/CONFIG.md promises it; Kubernetes
 * secret volumes are links): the checks apply to the file reached, on the
 * opened descriptor (fstat), so nothing can swap the file between check
 * and read. The open is O_NONBLOCK so a FIFO is refused rather than
 * waited on, and O_CLOEXEC.
 *
 * Any thread; the functions keep no state.
 */
#ifndef CMPGW_CORE_FILE_H
#define CMPGW_CORE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/rc.h"

/* flags */
#define FILE_PRIVATE 1u /* group/other must have no access (keys, secrets) */

/* Open path read-only after the checks above. Returns a descriptor (the
 * caller closes it), or RC_IO (cannot open or stat), RC_INVAL (not a
 * regular file), RC_PERM (FILE_PRIVATE and group/other access). */
int file_open(const char *path, unsigned flags, char *err, size_t errlen) WUR;

/* file_open as a stdio stream for reading (the caller fcloses it); NULL with
 * the reason in err. */
FILE *file_fopen(const char *path, unsigned flags, char *err, size_t errlen);

/* Read up to max bytes of a FILE_PRIVATE file into buf; *n gets the count
 * (fewer at end of file). 0, or file_open's codes (RC_IO also on a read
 * error). buf may hold part of a secret on failure: the caller cleanses it. */
int file_read_private(const char *path, void *buf, size_t max, size_t *n, char *err,
		      size_t errlen) WUR;

/* The first line of a FILE_PRIVATE file, without its line end, as a
 * NUL-terminated string in buf. 0, file_read_private's codes, RC_INVAL
 * "<path>: empty" (empty first line), RC_TOOBIG "<path>: first line longer
 * than <len - 1> bytes". The caller cleanses buf. */
int file_read_private_line(const char *path, char *buf, size_t len, char *err, size_t errlen) WUR;

#endif
