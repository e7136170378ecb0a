/*
 * cmd/pki.c - keys, certificates and their files for `cmpgw init` and tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "core/dn.h"

EVP_PKEY *cmd_pki_key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets; 127 random bits. */
static int set_serial(X509 *x)
{
	unsigned char buf[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(buf, sizeof(buf)) != 1)
		return 0;
	buf[0] &= 0x7f;
	buf[0] |= 0x40; /* always 16 octets, never zero */
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok;
}

static int add_exts(X509 *x, const struct cmd_pki_spec *spec, X509 *issuer)
{
	X509V3_CTX ctx;
	char bc[64];

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (spec->ca && spec->pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", spec->pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:%s", spec->ca ? "TRUE" : "FALSE");
	if (!add_ext(x, &ctx, NID_basic_constraints, bc) ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		return 0;
	if (issuer && !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		return 0;
	if (spec->key_usage && !add_ext(x, &ctx, NID_key_usage, spec->key_usage))
		return 0;
	if (spec->eku && !add_ext(x, &ctx, NID_ext_key_usage, spec->eku))
		return 0;
	if (spec->san && !add_ext(x, &ctx, NID_subject_alt_name, spec->san))
		return 0;
	return 1;
}

X509 *cmd_pki_cert_new(const struct cmd_pki_spec *spec, EVP_PKEY *subject_key, X509 *issuer,
		       EVP_PKEY *issuer_key)
{
	X509_NAME *name = dn_parse(spec->subject);
	X509 *x = X509_new();

	if (!name || !x || !X509_set_version(x, X509_VERSION_3) || !set_serial(x) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(x, subject_key) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -(long)spec->backdate_s) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), spec->days, 0, NULL) ||
	    !add_exts(x, spec, issuer) || X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(name);
	return x;
}

X509 *cmd_pki_device_cert_new(const char *serial, const char *org, EVP_PKEY *key, X509 *ca,
			      EVP_PKEY *ca_key)
{
	char subject[512];
	struct cmd_pki_spec spec = {
		.subject = subject,
		.days = 730,
		.backdate_s = 3600,
		.key_usage = "critical,digitalSignature",
		.eku = "clientAuth",
	};

	/* serial and org come from our own callers; escape nothing */
	if (snprintf(subject, sizeof(subject), "CN=Acme Router, O=%s, serialNumber=%s", org,
		     serial) >= (int)sizeof(subject))
		return NULL;
	return cmd_pki_cert_new(&spec, key, ca, ca_key);
}

int cmd_pki_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL;
	const char *p = data;
	int fd = -1, rc = RC_IO, saved = 0;

	if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0)
		return RC_NOMEM;
	unlink(tmp); /* a leftover of ours from a crash */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		goto out;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == 0)
		rc = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return rc;
}

/* Write what a PEM writer put into a memory BIO. */
static int write_bio(const char *path, BIO *b, mode_t mode)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);

	if (len <= 0)
		return RC_CRYPTO;
	return cmd_pki_write_file(path, data, (size_t)len, mode);
}

int cmd_pki_write_key(const char *path, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int rc = RC_CRYPTO;

	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		rc = write_bio(path, b, 0600);
	BIO_free(b); /* secure memory: cleared on free */
	return rc;
}

int cmd_pki_write_cert(const char *path, X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc = RC_CRYPTO;

	if (b && PEM_write_bio_X509(b, cert))
		rc = write_bio(path, b, 0644);
	BIO_free(b);
	return rc;
}
