/*
 * test/unit/cmp/helpers.h - keys, certificates, fixtures and a hand-built
 * ir for the cmp/ unit tests. Header-only; aborts on setup failure (a
 * broken fixture is not a test result).
 */
#ifndef CMPGW_TEST_CMP_HELPERS_H
#define CMPGW_TEST_CMP_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmp/asn1.h"
#include "cmp/sig.h"

#define MUST(x)                                                                                    \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "setup failed at %s:%d: %s\n", __FILE__, __LINE__, #x);    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* "P-256", "P-384", "P-521", "RSA", "ED25519", "ED448" */
static inline EVP_PKEY *t_key(const char *what)
{
	EVP_PKEY *k;

	if (strncmp(what, "P-", 2) == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", what);
	else if (strcmp(what, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, what);
	MUST(k != NULL);
	return k;
}

/* Certificate for subj_key named cn, signed by issuer_key (self-signed if
 * issuer is NULL) with md (NULL for EdDSA); carries an SKI. */
static inline X509 *t_cert(EVP_PKEY *subj_key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
			   const EVP_MD *md)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	MUST(c && n);
	MUST(X509_set_version(c, X509_VERSION_3));
	MUST(ASN1_INTEGER_set(X509_get_serialNumber(c), 4711));
	MUST(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0));
	MUST(X509_set_subject_name(c, n));
	MUST(X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n));
	MUST(X509_gmtime_adj(X509_getm_notBefore(c), -60));
	MUST(X509_gmtime_adj(X509_getm_notAfter(c), 86400));
	MUST(X509_set_pubkey(c, subj_key));
	X509V3_set_ctx(&v3, issuer ? issuer : c, c, NULL, NULL, 0);
	MUST((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash")) != NULL);
	MUST(X509_add_ext(c, ext, -1));
	X509_EXTENSION_free(ext);
	MUST(X509_sign(c, issuer_key ? issuer_key : subj_key, md) > 0);
	X509_NAME_free(n);
	return c;
}

static inline unsigned char *t_read(const char *name, size_t *len)
{
	char path[1024];
	unsigned char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", CMP_FIXTURES, name);
	MUST((f = fopen(path, "rb")) != NULL);
	MUST(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0);
	MUST((buf = malloc((size_t)n)) != NULL);
	MUST(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline X509 *t_read_cert(const char *name)
{
	char path[1024];
	X509 *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", CMP_FIXTURES, name);
	MUST((f = fopen(path, "r")) != NULL);
	MUST((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL);
	fclose(f);
	return c;
}

static inline CMPGW_MSG *t_decode(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	return d2i_CMPGW_MSG(NULL, &p, (long)len);
}

static inline ASN1_OCTET_STRING *t_octets(const char *s)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

	MUST(os && ASN1_OCTET_STRING_set(os, (const unsigned char *)s, (int)strlen(s)));
	return os;
}

/* Header from /CN=device to /CN=ca with transactionID and senderNonce */
static inline void t_header(CMPGW_HDR *h, long pvno)
{
	X509_NAME *s = X509_NAME_new(), *r = X509_NAME_new();

	MUST(s && r && ASN1_INTEGER_set(h->pvno, pvno));
	MUST(X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_ASC, (const unsigned char *)"device", -1,
					-1, 0));
	MUST(X509_NAME_add_entry_by_txt(r, "CN", MBSTRING_ASC, (const unsigned char *)"ca", -1, -1,
					0));
	GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME, s);
	GENERAL_NAME_set0_value(h->recipient, GEN_DIRNAME, r);
	MUST((h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, 1700000000)) != NULL);
	h->transactionID = t_octets("0123456789abcdef");
	h->senderNonce = t_octets("nonce-nonce-0001");
}

/* CertReqMsg {certReqId 0, template {subject cn, publicKey newkey}, signature POP} */
static inline CMPGW_CERTREQMSG *t_crm(EVP_PKEY *newkey, const char *cn)
{
	CMPGW_CERTREQMSG *crm = CMPGW_CERTREQMSG_new();
	CMPGW_CERTTEMPLATE *t;
	CMPGW_POPOSIGNINGKEY *sk;
	unsigned char *der = NULL;
	int n;

	MUST(crm != NULL);
	t = crm->certReq->certTemplate;
	MUST(ASN1_INTEGER_set(crm->certReq->certReqId, 0));
	MUST((t->subject = X509_NAME_new()) != NULL);
	MUST(X509_NAME_add_entry_by_txt(t->subject, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					-1, -1, 0));
	MUST(X509_PUBKEY_set(&t->publicKey, newkey));
	MUST((crm->popo = CMPGW_POPO_new()) && (sk = CMPGW_POPOSIGNINGKEY_new()));
	crm->popo->type = CMPGW_POPO_SIGNATURE;
	crm->popo->value.signature = sk;
	MUST(cmp_sig_algor_for_key(newkey, sk->algorithmIdentifier) == 0);
	MUST((n = i2d_CMPGW_CERTREQ(crm->certReq, &der)) > 0);
	MUST(cmp_sig_sign(newkey, sk->algorithmIdentifier, der, (size_t)n, sk->signature) == 0);
	OPENSSL_free(der);
	return crm;
}

/* Unprotected ir with one CertReqMsg for newkey */
static inline CMPGW_MSG *t_ir(EVP_PKEY *newkey)
{
	CMPGW_MSG *m = CMPGW_MSG_new();

	MUST(m != NULL);
	t_header(m->header, 2);
	m->body->type = CMP_BODY_IR;
	MUST((m->body->value.ir = sk_CMPGW_CERTREQMSG_new_null()) != NULL);
	MUST(sk_CMPGW_CERTREQMSG_push(m->body->value.ir, t_crm(newkey, "device-0001")));
	return m;
}

static inline int t_der(const CMPGW_MSG *m, unsigned char **der)
{
	*der = NULL;
	return i2d_CMPGW_MSG(m, der);
}

#endif
