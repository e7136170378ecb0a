/*
 * test/client/cmpreq.c - a CMP request crafter for negative integration
 * tests, built on cmpgw's own codec. The stock `openssl cmp` client cannot
 * send a kur without oldCertID, a wrong POP signature, or a chosen
 * transactionID; this tool can, and it decodes answers for the tests.
 *
 *   cmpreq ir|cr|kur --cert C --key K --newkey NK --out F [--extracerts F]...
 *          [--subject /CN=x] [--tid HEX] [--no-oldcertid] [--bad-pop]
 *          [--implicit] [--pvno N] [--time-offset SECONDS]
 *   cmpreq p10cr --cert C --key K --csr CSR.pem [--bad-csr-sig] --out F
 *   cmpreq error --cert C --key K --tid HEX --out F
 *   cmpreq nested --cert C --key K --in REQ.der [--in REQ2.der]... --out F
 *                      wraps the PKIMessage(s) unchanged in a nested
 *                      message (RFC 9483 5.2.2.1) signed by C/K (an RA)
 *   cmpreq ir|cr --ref REF --secret S [--iterations N] --newkey NK --out F ...
 *                      PasswordBasedMac protection with the token REF/S
 *                      (senderKID REF, iterationCount N, default 10000)
 *                      instead of a signature; --cert/--key then optional
 *   --extracerts F may be given up to 64 times (a file may repeat)
 *   cmpreq show F      prints: body=<name> tid=<hex> status=<n> failinfo=<bits>
 *                      text=<statusString>; for nested, then one line
 *                      "inner: ..." per inner message
 * Exit: 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cmp/asn1.h"
#include "cmp/build.h"
#include "cmp/prot.h"
#include "cmp/sig.h"

struct args {
	const char *cmd, *cert, *key, *newkey, *out, *subject, *tid, *csr;
	const char *in[20]; /* nested: the inner messages */
	int nin;
	const char *extra[64];
	int nextra, pvno;
	const char *ref, *secret; /* PBMAC protection instead of a signature */
	int iterations;
	long time_offset; /* messageTime = now + time_offset seconds */
	bool no_oldcertid, bad_pop, implicit, bad_csr_sig;
};

static X509_REQ *load_csr(const char *path, bool corrupt)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	X509_REQ *r = f ? PEM_read_X509_REQ(f, NULL, NULL, NULL) : NULL;
	const ASN1_BIT_STRING *sig = NULL;
	if (f)
		fclose(f);
	if (r && corrupt) {
		/* i2d caches the encoding; flip a signature bit in place */
		X509_REQ_get0_signature(r, &sig, NULL);
		if (sig && sig->length > 0)
			((ASN1_BIT_STRING *)sig)->data[sig->length / 2] ^= 0x01;
	}
	return r;
}

/* Body of the message for a->cmd; 0 or 1. */
static int set_body(const struct args *a, CMPGW_MSG *m, X509 *cert, EVP_PKEY *newkey);

static X509 *load_cert(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return k;
}

static ASN1_OCTET_STRING *octets(const unsigned char *p, int n)
{
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
	if (o && !ASN1_OCTET_STRING_set(o, p, n)) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

static ASN1_OCTET_STRING *random_or_hex(const char *hex)
{
	unsigned char buf[64];
	long n = 16;
	if (hex) {
		unsigned char *b = OPENSSL_hexstr2buf(hex, &n);
		ASN1_OCTET_STRING *o = b ? octets(b, (int)n) : NULL;
		OPENSSL_free(b);
		return o;
	}
	RAND_bytes(buf, (int)n);
	return octets(buf, (int)n);
}

/* CertId of cert as an oldCertID control (RFC 4211 6.5). */
static CMPGW_ATAV *old_cert_id(X509 *cert)
{
	CMPGW_CERTID *cid = CMPGW_CERTID_new();
	CMPGW_ATAV *a = CMPGW_ATAV_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char *der = NULL;
	int len;

	GENERAL_NAME_free(cid->issuer);
	cid->issuer = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(cid->issuer, GEN_DIRNAME,
				X509_NAME_dup(X509_get_issuer_name(cert)));
	ASN1_INTEGER_free(cid->serialNumber);
	cid->serialNumber = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
	len = i2d_CMPGW_CERTID(cid, &der);
	ASN1_STRING_set0(seq, der, len);
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->type = OBJ_txt2obj("1.3.6.1.5.5.7.5.1.5", 1);
	a->value = ASN1_TYPE_new();
	ASN1_TYPE_set(a->value, V_ASN1_SEQUENCE, seq);
	CMPGW_CERTID_free(cid);
	return a;
}

static CMPGW_CERTREQMSG *certreqmsg(const struct args *a, X509 *cert, EVP_PKEY *newkey)
{
	CMPGW_CERTREQMSG *crm = CMPGW_CERTREQMSG_new();
	CMPGW_CERTTEMPLATE *t = crm->certReq->certTemplate;
	unsigned char *der = NULL;
	int len;

	ASN1_INTEGER_set(crm->certReq->certReqId, 0);
	if (a->subject) {
		t->subject = X509_NAME_new();
		X509_NAME_add_entry_by_txt(t->subject, "CN", MBSTRING_ASC,
					   (const unsigned char *)a->subject, -1, -1, 0);
	}
	X509_PUBKEY_set(&t->publicKey, newkey);
	if (strcmp(a->cmd, "kur") == 0 && !a->no_oldcertid) {
		crm->certReq->controls = sk_CMPGW_ATAV_new_null();
		sk_CMPGW_ATAV_push(crm->certReq->controls, old_cert_id(cert));
	}
	/* RFC 4211 4.1: POP signature over the DER of certReq */
	crm->popo = CMPGW_POPO_new();
	crm->popo->type = CMPGW_POPO_SIGNATURE;
	crm->popo->value.signature = CMPGW_POPOSIGNINGKEY_new();
	len = i2d_CMPGW_CERTREQ(crm->certReq, &der);
	if (a->bad_pop)
		der[len - 1] ^= 1;
	if (cmp_sig_algor_for_key(newkey, crm->popo->value.signature->algorithmIdentifier) != 0 ||
	    cmp_sig_sign(newkey, crm->popo->value.signature->algorithmIdentifier, der, (size_t)len,
			 crm->popo->value.signature->signature) != 0)
		fprintf(stderr, "cmpreq: POP signing failed\n");
	OPENSSL_free(der);
	return crm;
}

static int make(const struct args *a)
{
	X509 *cert = load_cert(a->cert);
	EVP_PKEY *key = load_key(a->key), *newkey = a->newkey ? load_key(a->newkey) : NULL;
	CMPGW_MSG *m = CMPGW_MSG_new();
	unsigned char *der = NULL;
	size_t len = 0;
	int rc = 1;

	if ((!a->ref && (!cert || !key)) || (a->newkey && !newkey)) {
		fprintf(stderr, "cmpreq: cannot load --cert/--key/--newkey\n");
		goto out;
	}
	CMPGW_HDR *h = m->header;
	ASN1_INTEGER_set(h->pvno, a->pvno);
	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	h->sender = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME,
				cert ? X509_NAME_dup(X509_get_subject_name(cert))
				     : X509_NAME_new());
	h->recipient = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(h->recipient, GEN_DIRNAME, X509_NAME_new());
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL) + a->time_offset);
	h->transactionID = random_or_hex(a->tid);
	h->senderNonce = random_or_hex(NULL);
	if (a->ref)
		h->senderKID = octets((const unsigned char *)a->ref, (int)strlen(a->ref));
	else if (X509_get0_subject_key_id(cert))
		h->senderKID = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(cert));
	if (a->implicit)
		if (cmp_build_implicit_confirm(m) != 0)
			fprintf(stderr, "cmpreq: implicitConfirm not added\n");
	if (set_body(a, m, cert, newkey) != 0)
		goto out;
	m->extraCerts = sk_X509_new_null();
	if (cert) {
		X509_up_ref(cert);
		sk_X509_push(m->extraCerts, cert);
	}
	for (int i = 0; i < a->nextra; i++) {
		X509 *x = load_cert(a->extra[i]);
		if (x)
			sk_X509_push(m->extraCerts, x);
	}
	if (sk_X509_num(m->extraCerts) == 0) {
		sk_X509_free(m->extraCerts);
		m->extraCerts = NULL;
	}
	if (a->ref)
		rc = cmp_prot_pbmac(m, (const unsigned char *)a->secret, strlen(a->secret),
				    a->iterations) != 0;
	else
		rc = cmp_prot_sign(m, key) != 0;
	if (rc != 0 || cmp_build_der(m, &der, &len) != 0) {
		rc = 1;
		fprintf(stderr, "cmpreq: protecting/encoding failed\n");
		goto out;
	}
	rc = 1;
	FILE *f = fopen(a->out, "wb");
	if (f && fwrite(der, 1, len, f) == len && fclose(f) == 0)
		rc = 0;
out:
	OPENSSL_free(der);
	CMPGW_MSG_free(m);
	X509_free(cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(newkey);
	return rc;
}

/* The DER PKIMessage in path, decoded; NULL if unreadable. */
static CMPGW_MSG *load_msg(const char *path)
{
	static unsigned char buf[1 << 16];
	FILE *f = path ? fopen(path, "rb") : NULL;
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	const unsigned char *p = buf;

	if (f)
		fclose(f);
	return n ? d2i_CMPGW_MSG(NULL, &p, (long)n) : NULL;
}

static int set_body(const struct args *a, CMPGW_MSG *m, X509 *cert, EVP_PKEY *newkey)
{
	if (strcmp(a->cmd, "nested") == 0) {
		m->body->type = CMP_BODY_NESTED;
		m->body->value.nested = sk_CMPGW_MSG_new_null();
		for (int i = 0; i < a->nin; i++) {
			CMPGW_MSG *in = load_msg(a->in[i]);
			if (!in || !sk_CMPGW_MSG_push(m->body->value.nested, in)) {
				CMPGW_MSG_free(in);
				fprintf(stderr, "cmpreq: --in %s: no DER PKIMessage\n", a->in[i]);
				return 1;
			}
		}
		return a->nin > 0 ? 0 : 1;
	}
	if (strcmp(a->cmd, "p10cr") == 0) {
		m->body->type = CMP_BODY_P10CR;
		m->body->value.p10cr = a->csr ? load_csr(a->csr, a->bad_csr_sig) : NULL;
		return m->body->value.p10cr ? 0 : 1;
	}
	if (strcmp(a->cmd, "error") == 0) {
		/* RFC 4210 5.3.21: the client gives up on the transaction */
		m->body->type = CMP_BODY_ERROR;
		m->body->value.error = CMPGW_ERRORMSG_new();
		CMPGW_STATUSINFO_free(m->body->value.error->pKIStatusInfo);
		m->body->value.error->pKIStatusInfo = cmp_build_statusinfo(
			CMP_STATUS_REJECTION, CMP_FAIL_BAD_REQUEST, "client gives up");
		return m->body->value.error->pKIStatusInfo ? 0 : 1;
	}
	if (!newkey)
		return 1;
	m->body->type = strcmp(a->cmd, "ir") == 0   ? CMP_BODY_IR
			: strcmp(a->cmd, "cr") == 0 ? CMP_BODY_CR
						    : CMP_BODY_KUR;
	m->body->value.ir = sk_CMPGW_CERTREQMSG_new_null();
	sk_CMPGW_CERTREQMSG_push(m->body->value.ir, certreqmsg(a, cert, newkey));
	return 0;
}

static const CMPGW_STATUSINFO *status_of(const CMPGW_MSG *m)
{
	switch (m->body->type) {
	case CMP_BODY_ERROR:
		return m->body->value.error->pKIStatusInfo;
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP: {
		STACK_OF(CMPGW_CERTRESPONSE) *r = m->body->value.ip->response;
		return sk_CMPGW_CERTRESPONSE_num(r) > 0 ? sk_CMPGW_CERTRESPONSE_value(r, 0)->status
							: NULL;
	}
	default:
		return NULL;
	}
}

static void show_msg(const CMPGW_MSG *m, const char *prefix)
{
	printf("%sbody=%s tid=", prefix, cmp_asn1_body_name(m->body->type));
	for (int i = 0; m->header->transactionID && i < m->header->transactionID->length; i++)
		printf("%02x", m->header->transactionID->data[i]);
	const CMPGW_STATUSINFO *si = status_of(m);
	if (si) {
		printf(" status=%ld failinfo=", ASN1_INTEGER_get(si->status));
		for (int b = 0; b <= CMP_FAIL_MAX; b++)
			if (si->failInfo && ASN1_BIT_STRING_get_bit(si->failInfo, b))
				printf("%d,", b);
		printf(" text=");
		for (int i = 0; i < sk_ASN1_UTF8STRING_num(si->statusString); i++) {
			ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(si->statusString, i);
			printf("%.*s", s->length, s->data);
		}
	}
	printf("\n");
	for (int i = 0;
	     m->body->type == CMP_BODY_NESTED && i < sk_CMPGW_MSG_num(m->body->value.nested); i++)
		show_msg(sk_CMPGW_MSG_value(m->body->value.nested, i), "inner: ");
}

static int show(const char *path)
{
	CMPGW_MSG *m = load_msg(path);

	if (!m) {
		printf("body=undecodable\n");
		return 1;
	}
	show_msg(m, "");
	CMPGW_MSG_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .pvno = 2, .iterations = 10000 };

	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return show(argv[2]);
	if (argc < 2 ||
	    (strcmp(argv[1], "ir") && strcmp(argv[1], "cr") && strcmp(argv[1], "kur") &&
	     strcmp(argv[1], "p10cr") && strcmp(argv[1], "error") && strcmp(argv[1], "nested")))
		goto usage;
	a.cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--no-oldcertid") == 0)
			a.no_oldcertid = true;
		else if (strcmp(o, "--bad-pop") == 0)
			a.bad_pop = true;
		else if (strcmp(o, "--implicit") == 0)
			a.implicit = true;
		else if (strcmp(o, "--bad-csr-sig") == 0)
			a.bad_csr_sig = true;
		else if (!v)
			goto usage;
		else if (strcmp(o, "--cert") == 0)
			a.cert = v, i++;
		else if (strcmp(o, "--key") == 0)
			a.key = v, i++;
		else if (strcmp(o, "--newkey") == 0)
			a.newkey = v, i++;
		else if (strcmp(o, "--out") == 0)
			a.out = v, i++;
		else if (strcmp(o, "--subject") == 0)
			a.subject = v, i++;
		else if (strcmp(o, "--csr") == 0)
			a.csr = v, i++;
		else if (strcmp(o, "--in") == 0 && a.nin < 20)
			a.in[a.nin++] = v, i++;
		else if (strcmp(o, "--tid") == 0)
			a.tid = v, i++;
		else if (strcmp(o, "--pvno") == 0)
			a.pvno = atoi(v), i++;
		else if (strcmp(o, "--time-offset") == 0)
			a.time_offset = atol(v), i++;
		else if (strcmp(o, "--extracerts") == 0 && a.nextra < 64)
			a.extra[a.nextra++] = v, i++;
		else if (strcmp(o, "--ref") == 0)
			a.ref = v, i++;
		else if (strcmp(o, "--secret") == 0)
			a.secret = v, i++;
		else if (strcmp(o, "--iterations") == 0)
			a.iterations = atoi(v), i++;
		else
			goto usage;
	}
	if (!a.out || (a.ref ? !a.secret || !a.newkey : !a.cert || !a.key))
		goto usage;
	return make(&a);
usage:
	fprintf(stderr, "usage: cmpreq ir|cr|kur|p10cr|error|nested --cert C --key K [--newkey NK] "
			"--out F [--csr CSR] [--bad-csr-sig] [--in REQ.der] "
			"[--extracerts F] [--subject CN] [--tid HEX] [--no-oldcertid] [--bad-pop] "
			"[--implicit] [--pvno N] [--ref REF --secret S [--iterations N]] "
			"| cmpreq show F\n");
	return 2;
}
