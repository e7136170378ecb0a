/*
 * core/rc.h - the one error enum of cmpgw.
 *
 * Fallible functions return int: 0 (RC_OK) or one of the negative codes
 * below. rc_str() names a code for logs; it never returns NULL.
 */
#ifndef CMPGW_CORE_RC_H
#define CMPGW_CORE_RC_H

#define WUR __attribute__((warn_unused_result))

enum rc {
	RC_OK = 0,
	RC_ERR = -1,	      /* unspecified internal failure */
	RC_NOMEM = -2,	      /* allocation failed */
	RC_INVAL = -3,	      /* bad argument or bad input */
	RC_IO = -4,	      /* file or socket error */
	RC_CONFIG = -5,	      /* configuration invalid */
	RC_CRYPTO = -6,	      /* libcrypto reported an error */
	RC_DECODE = -7,	      /* input could not be decoded */
	RC_DB = -8,	      /* database error */
	RC_NOTFOUND = -9,     /* lookup found nothing */
	RC_EXISTS = -10,      /* unique thing already present */
	RC_TOOBIG = -11,      /* input beyond a configured bound */
	RC_PERM = -12,	      /* permission/ownership check failed */
	RC_TIMEOUT = -13,     /* bounded wait ran out */
	RC_CANCELLED = -14,   /* caller went away */
	RC_UNSUPPORTED = -15, /* valid but not implemented/allowed */
	RC_UNAVAIL = -16,     /* a needed resource (a key's token) is unavailable */
	RC_MIN = -16
};

const char *rc_str(int rc);

#endif
