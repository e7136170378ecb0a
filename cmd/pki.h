/*
 * cmd/pki.h - make keys and certificates with libcrypto: the demo PKI of
 * `cmpgw init`, test fixtures and the load generator's device certificates.
 * Not for production CAs (no policy, no persistence of serials).
 *
 * Any thread; no shared state.
 */
#ifndef CMPGW_CMD_PKI_H
#define CMPGW_CMD_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

struct cmd_pki_spec {
	const char *subject;   /* dn_parse() syntax (core/dn.h), "CN=x,O=y" */
	int days;	       /* notAfter = now + days */
	int backdate_s;	       /* notBefore = now - backdate_s */
	bool ca;	       /* basicConstraints critical CA:TRUE, else CA:FALSE */
	int pathlen;	       /* CA only; < 0: no pathLenConstraint */
	const char *key_usage; /* X509v3 config text, e.g. "critical,keyCertSign,cRLSign" */
	const char *eku;       /* e.g. "clientAuth" or "1.3.6.1.5.5.7.3.28"; NULL: none */
	const char *san; /* X509v3 config text, e.g. "IP:127.0.0.1,DNS:localhost"; NULL: none */
};

/* A fresh P-256 key (caller frees), NULL on failure. */
EVP_PKEY *cmd_pki_key_new(void);

/*
 * A new certificate (caller frees) for subject_key's public key, with a
 * random positive 127-bit serial, SKI, and AKI when issuer is given. With
 * issuer NULL it is self-signed (issuer_key must be subject_key). Signed
 * with SHA-256. NULL on failure.
 */
X509 *cmd_pki_cert_new(const struct cmd_pki_spec *spec, EVP_PKEY *subject_key, X509 *issuer,
		       EVP_PKEY *issuer_key);

/*
 * A device vendor certificate as a factory would issue it: subject
 * "CN=Acme Router, O=<org>, serialNumber=<serial>", 2 years,
 * digitalSignature, clientAuth, issued by ca/ca_key. Caller frees.
 */
X509 *cmd_pki_device_cert_new(const char *serial, const char *org, EVP_PKEY *key, X509 *ca,
			      EVP_PKEY *ca_key);

/*
 * Write data to path atomically enough: a temporary file in the same
 * directory, created O_EXCL with mode, written, fsync'd, renamed over path.
 * RC_IO on failure (errno kept).
 */
int cmd_pki_write_file(const char *path, const void *data, size_t len, mode_t mode) WUR;
/* PEM private key (PKCS#8, unencrypted), mode 0600. */
int cmd_pki_write_key(const char *path, EVP_PKEY *key) WUR;
/* PEM certificate, mode 0644. */
int cmd_pki_write_cert(const char *path, X509 *cert) WUR;

#endif
