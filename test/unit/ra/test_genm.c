/*
 * test/unit/ra/test_genm.c - ra/genm (general message, RFC 9483 4.3) on
 * the in-memory store: the genp carries the supported infoTypes asked for,
 * in order (caCerts: the issuing CA and its chain; signKeyPairTypes: the
 * profile's key types), unknown ones omitted; who may ask (a vendor or an
 * operator certificate; anyone else signerNotTrusted); the bound on
 * infoTypes; and that a genm never touches the store.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

#define OID_CA_CERTS		"1.3.6.1.5.5.7.4.17"
#define OID_SIGN_KEY_PAIR_TYPES "1.3.6.1.5.5.7.4.2"
#define OID_UNKNOWN		"1.3.6.1.5.5.7.4.99"

static struct fake_env env;

static void *load_pem(const char *file, bool key)
{
	char path[4096];
	FILE *f;
	void *x = NULL;

	snprintf(path, sizeof(path), "%s/%s", RA_DATA_DIR, file);
	if ((f = fopen(path, "r"))) {
		x = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
			: (void *)PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!x) {
		printf("Bail out! %s\n", path);
		exit(1);
	}
	return x;
}

static CMPGW_MSG *genm(const char *const *oids, int n)
{
	char path[4096];
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	CMPGW_MSG *m;

	snprintf(path, sizeof(path), "%s/genm_openssl.der", RA_CORPUS_DIR);
	if (fake_read_file(path, &der, &len) != 0) {
		printf("Bail out! %s\n", path);
		exit(1);
	}
	p = der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)len);
	free(der);
	sk_CMPGW_ITAV_pop_free(m->body->value.genm, CMPGW_ITAV_free);
	m->body->value.genm = sk_CMPGW_ITAV_new_null();
	for (int i = 0; i < n; i++) {
		CMPGW_ITAV *it = CMPGW_ITAV_new();
		it->type = OBJ_txt2obj(oids[i], 1);
		sk_CMPGW_ITAV_push(m->body->value.genm, it);
	}
	return m;
}

/* Sign m as the holder of cert/key (sender and extraCerts follow), send. */
static void send_as(CMPGW_MSG *m, const char *cert_file, const char *key_file,
		    struct fake_answer *a, struct fake_reply *r)
{
	X509 *cert = load_pem(cert_file, false);
	EVP_PKEY *key = load_pem(key_file, true);
	unsigned char *der = NULL;
	int n;

	sk_X509_pop_free(m->extraCerts, X509_free);
	m->extraCerts = sk_X509_new_null();
	sk_X509_push(m->extraCerts, cert);
	if (strcmp(cert_file, "dev-1.pem") == 0 && X509_up_ref(env.vendor_ca))
		sk_X509_push(m->extraCerts, env.vendor_ca);
	GENERAL_NAME_free(m->header->sender);
	m->header->sender = GENERAL_NAME_new();
	m->header->sender->type = GEN_DIRNAME;
	m->header->sender->d.directoryName = X509_NAME_dup(X509_get_subject_name(cert));
	ASN1_OCTET_STRING_free(m->header->senderKID);
	m->header->senderKID = NULL;
	if (cmp_prot_sign(m, key) != 0)
		printf("# signing failed\n");
	n = i2d_CMPGW_MSG(m, &der);
	if (fake_env_reset(&env, false) != 0)
		printf("Bail out! reset\n");
	fake_env_submit(&env, "3gpp", der, n > 0 ? (size_t)n : 0, a);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	CMPGW_MSG_free(m);
}

static const char *itav_oid(const CMPGW_MSG *m, int i, char *buf, size_t len)
{
	const CMPGW_ITAV *it = sk_CMPGW_ITAV_value(m->body->value.genp, i);
	buf[0] = '\0';
	if (it)
		OBJ_obj2txt(buf, (int)len, it->type, 1);
	return buf;
}

static void test_genp(void)
{
	static const char *const asked[] = { OID_UNKNOWN, OID_SIGN_KEY_PAIR_TYPES, OID_CA_CERTS };
	struct fake_answer a = { 0 };
	struct fake_reply r;
	char oid[64];
	CMPGW_MSG *m;

	send_as(genm(asked, 3), "dev-1.pem", "dev-1.key", &a, &r);
	m = r.msg;
	is_int(r.body, CMP_BODY_GENP, "genm from a device: genp");
	ok(m && sk_CMPGW_ITAV_num(m->body->value.genp) == 2,
	   "genp: the two supported infoTypes, the unknown one omitted");
	ok(m && strcmp(itav_oid(m, 0, oid, sizeof(oid)), OID_SIGN_KEY_PAIR_TYPES) == 0,
	   "genp: signKeyPairTypes first, as asked");
	ok(m && strcmp(itav_oid(m, 1, oid, sizeof(oid)), OID_CA_CERTS) == 0, "genp: then caCerts");
	if (m && sk_CMPGW_ITAV_num(m->body->value.genp) == 2) {
		const ASN1_TYPE *v = sk_CMPGW_ITAV_value(m->body->value.genp, 1)->value;
		const unsigned char *p = NULL, *end = NULL;
		long clen = 0;
		int tag, cls;
		X509 *ca = load_pem("ca.pem", false);
		bool found = false;
		/* SEQUENCE OF CMPCertificate, the whole encoding in value.sequence */
		if (v && v->type == V_ASN1_SEQUENCE) {
			p = v->value.sequence->data;
			if (!(ASN1_get_object(&p, &clen, &tag, &cls, v->value.sequence->length) &
			      0x80) &&
			    tag == V_ASN1_SEQUENCE)
				end = p + clen;
		}
		while (end && p < end) {
			X509 *x = d2i_X509(NULL, &p, (long)(end - p));
			if (!x)
				break;
			found |= X509_cmp(x, ca) == 0;
			X509_free(x);
		}
		ok(found, "caCerts: holds the issuing CA");
		X509_free(ca);
	}
	ok(m && cmp_prot_verify_sig(a.der, a.len, m, env.cmp) == 0, "genp: signed");
	is_int(fake_store_calls_total(env.fs), 0, "genm: no store call");
	is_int(fake_store_n_audit(env.fs), 0, "genm: no audit row");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	send_as(genm(asked, 1), "op-dev.pem", "op-dev.key", &a, &r);
	is_int(r.body, CMP_BODY_GENP, "genm with an operator certificate: genp");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refused(void)
{
	const char *many[17];
	struct fake_answer a = { 0 };
	struct fake_reply r;

	send_as(genm(NULL, 0), "rogue.pem", "rogue.key", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SIGNER_NOT_TRUSTED &&
		   strcmp(r.text, "sender certificate not trusted") == 0,
	   "genm from an untrusted signer: signerNotTrusted \"sender certificate not trusted\"");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	for (int i = 0; i < 17; i++)
		many[i] = OID_UNKNOWN;
	send_as(genm(many, 17), "dev-1.pem", "dev-1.key", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_REQUEST &&
		   strcmp(r.text, "too many infoTypes (at most 16)") == 0,
	   "17 infoTypes: badRequest \"too many infoTypes (at most 16)\"");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_genp();
	test_refused();
	fake_env_close(&env);
	return tap_done();
}
