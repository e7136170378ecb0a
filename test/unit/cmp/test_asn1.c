/*
 * test/unit/cmp/test_asn1.c - cmp/asn1.c: encode/decode round trips, wire
 * compatibility with OpenSSL's own CMP decoder and the stock `openssl cmp`
 * client's requests, and rejection of malformed input.
 */
#include <openssl/cmp.h>
#include <openssl/rand.h>

#include "cmp/asn1.h"
#include "helpers.h"
#include "tap.h"

/* Encode m, decode, encode again: the bytes must agree, and (if ossl)
 * OpenSSL's decoder must see the same body type. Returns the decoded copy. */
static CMPGW_MSG *roundtrip_ex(const CMPGW_MSG *m, const char *what, int ossl)
{
	unsigned char *d1 = NULL, *d2 = NULL;
	const unsigned char *p;
	int n1 = t_der(m, &d1), n2 = -1;
	CMPGW_MSG *back = n1 > 0 ? t_decode(d1, (size_t)n1) : NULL;
	OSSL_CMP_MSG *om;

	if (back != NULL)
		n2 = t_der(back, &d2);
	ok(back != NULL && n1 == n2 && memcmp(d1, d2, (size_t)n1) == 0, "%s: DER round trip", what);
	p = d1;
	om = n1 > 0 && ossl ? d2i_OSSL_CMP_MSG(NULL, &p, n1) : NULL;
	if (ossl)
		ok(om != NULL && OSSL_CMP_MSG_get_bodytype(om) == m->body->type,
		   "%s: OpenSSL decodes it as body %d", what, m->body->type);
	OSSL_CMP_MSG_free(om);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	return back;
}

static CMPGW_MSG *roundtrip(const CMPGW_MSG *m, const char *what)
{
	return roundtrip_ex(m, what, 1);
}

static CMPGW_MSG *msg_with_body(int type)
{
	CMPGW_MSG *m = CMPGW_MSG_new();

	MUST(m != NULL);
	t_header(m->header, 2);
	m->body->type = type;
	return m;
}

static CMPGW_STATUSINFO *status(int st, int bit, const char *text)
{
	CMPGW_STATUSINFO *si = CMPGW_STATUSINFO_new();
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();

	MUST(si && s && ASN1_INTEGER_set(si->status, st));
	if (bit >= 0) {
		MUST((si->failInfo = ASN1_BIT_STRING_new()) != NULL);
		MUST(ASN1_BIT_STRING_set_bit(si->failInfo, bit, 1));
	}
	MUST(ASN1_STRING_set(s, text, -1));
	MUST((si->statusString = sk_ASN1_UTF8STRING_new_null()) != NULL);
	MUST(sk_ASN1_UTF8STRING_push(si->statusString, s));
	return si;
}

static void test_ir(void)
{
	EVP_PKEY *k = t_key("P-256");
	CMPGW_MSG *m = t_ir(k), *back = roundtrip(m, "ir");
	CMPGW_CERTREQMSG *crm;
	EVP_PKEY *pk;

	MUST(back != NULL);
	is_int(back->body->type, CMP_BODY_IR, "ir: body type");
	crm = sk_CMPGW_CERTREQMSG_value(back->body->value.ir, 0);
	ok(crm != NULL && crm->popo->type == CMPGW_POPO_SIGNATURE, "ir: signature POP decoded");
	pk = crm ? X509_PUBKEY_get0(crm->certReq->certTemplate->publicKey) : NULL;
	ok(pk != NULL && EVP_PKEY_eq(pk, k) == 1, "ir: template public key survives");
	ok(crm && X509_NAME_cmp(crm->certReq->certTemplate->subject,
				sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0)
					->certReq->certTemplate->subject) == 0,
	   "ir: template subject survives");
	ok(ASN1_INTEGER_get(back->header->pvno) == 2 &&
		   ASN1_OCTET_STRING_cmp(back->header->transactionID, m->header->transactionID) ==
			   0,
	   "ir: header fields survive");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

static void test_kur_with_controls(void)
{
	EVP_PKEY *k = t_key("P-384");
	CMPGW_MSG *m = msg_with_body(CMP_BODY_KUR), *back;
	CMPGW_CERTREQMSG *crm = t_crm(k, "device-kur");
	CMPGW_CERTTEMPLATE *t = crm->certReq->certTemplate;
	CMPGW_ATAV *ctl = CMPGW_ATAV_new();
	ASN1_UTF8STRING *tok;

	MUST(ctl && (t->validity = CMPGW_OPTVALIDITY_new()) != NULL);
	MUST((t->validity->notAfter = ASN1_TIME_set(NULL, 1800000000)) != NULL);
	MUST((t->issuer = X509_NAME_new()) != NULL);
	ASN1_OBJECT_free(ctl->type);
	ctl->type = OBJ_txt2obj("1.3.6.1.5.5.7.5.1.1", 1); /* id-regCtrl-regToken */
	MUST((tok = ASN1_UTF8STRING_new()) && ASN1_STRING_set(tok, "token", -1));
	ASN1_TYPE_set(ctl->value, V_ASN1_UTF8STRING, tok);
	MUST((crm->certReq->controls = sk_CMPGW_ATAV_new_null()) != NULL);
	MUST(sk_CMPGW_ATAV_push(crm->certReq->controls, ctl));
	MUST((m->body->value.kur = sk_CMPGW_CERTREQMSG_new_null()) != NULL);
	MUST(sk_CMPGW_CERTREQMSG_push(m->body->value.kur, crm));
	back = roundtrip(m, "kur with validity and controls");
	ok(back && sk_CMPGW_CERTREQMSG_value(back->body->value.kur, 0)
				   ->certReq->certTemplate->validity->notBefore == NULL,
	   "kur: absent notBefore stays absent");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

static void test_certconf(void)
{
	CMPGW_MSG *m = msg_with_body(CMP_BODY_CERTCONF), *back;
	CMPGW_CERTSTATUS *cs = CMPGW_CERTSTATUS_new();

	MUST(cs &&
	     ASN1_OCTET_STRING_set(cs->certHash,
				   (const unsigned char *)"0123456789abcdef0123456789abcdef", 32));
	MUST(ASN1_INTEGER_set(cs->certReqId, 0));
	cs->statusInfo = status(CMP_STATUS_ACCEPTED, -1, "ok");
	MUST((m->body->value.certConf = sk_CMPGW_CERTSTATUS_new_null()) != NULL);
	MUST(sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs));
	CMPGW_MSG_free(roundtrip(m, "certConf v2"));
	MUST((cs->hashAlg = X509_ALGOR_new()) != NULL);
	MUST(X509_ALGOR_set0(cs->hashAlg, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF, NULL));
	/* OpenSSL 3.0 predates CMP v3's hashAlg: no OpenSSL cross-check */
	back = roundtrip_ex(m, "certConf v3 with hashAlg", 0);
	cs = back ? sk_CMPGW_CERTSTATUS_value(back->body->value.certConf, 0) : NULL;
	ok(cs && cs->hashAlg && OBJ_obj2nid(cs->hashAlg->algorithm) == NID_sha256,
	   "certConf: hashAlg [0] survives");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
}

static void test_error(void)
{
	CMPGW_MSG *m = msg_with_body(CMP_BODY_ERROR), *back;

	MUST((m->body->value.error = CMPGW_ERRORMSG_new()) != NULL);
	CMPGW_STATUSINFO_free(m->body->value.error->pKIStatusInfo);
	m->body->value.error->pKIStatusInfo = status(CMP_STATUS_REJECTION, CMP_FAIL_BAD_POP, "bad");
	MUST((m->body->value.error->errorCode = ASN1_INTEGER_new()) != NULL);
	MUST(ASN1_INTEGER_set(m->body->value.error->errorCode, 7));
	back = roundtrip(m, "error");
	ok(back && ASN1_BIT_STRING_get_bit(back->body->value.error->pKIStatusInfo->failInfo,
					   CMP_FAIL_BAD_POP),
	   "error: failInfo badPOP survives");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
}

static void test_genm(void)
{
	CMPGW_MSG *m = msg_with_body(CMP_BODY_GENM), *back;
	CMPGW_ITAV *itav = CMPGW_ITAV_new();

	MUST(itav != NULL);
	ASN1_OBJECT_free(itav->type);
	itav->type = OBJ_txt2obj("1.3.6.1.5.5.7.4.17", 1); /* id-it-caCerts, no value */
	MUST((m->body->value.genm = sk_CMPGW_ITAV_new_null()) != NULL);
	MUST(sk_CMPGW_ITAV_push(m->body->value.genm, itav));
	back = roundtrip(m, "genm");
	ok(back && sk_CMPGW_ITAV_value(back->body->value.genm, 0)->value == NULL,
	   "genm: absent infoValue stays absent");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
}

static void test_rr(void)
{
	CMPGW_MSG *m = msg_with_body(CMP_BODY_RR), *back;
	CMPGW_REVDETAILS *rd = CMPGW_REVDETAILS_new();
	CMPGW_CERTTEMPLATE *t = rd ? rd->certDetails : NULL;
	ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();

	MUST(rd && reason && ASN1_ENUMERATED_set(reason, 1));
	MUST((t->issuer = X509_NAME_new()) && (t->serialNumber = ASN1_INTEGER_new()));
	MUST(ASN1_INTEGER_set(t->serialNumber, 4711));
	MUST(X509V3_add1_i2d(&rd->crlEntryDetails, NID_crl_reason, reason, 0, 0) == 1);
	MUST((m->body->value.rr = sk_CMPGW_REVDETAILS_new_null()) != NULL);
	MUST(sk_CMPGW_REVDETAILS_push(m->body->value.rr, rd));
	back = roundtrip(m, "rr");
	ok(back && ASN1_INTEGER_get(sk_CMPGW_REVDETAILS_value(back->body->value.rr, 0)
					    ->certDetails->serialNumber) == 4711,
	   "rr: serialNumber [1] survives");
	ASN1_ENUMERATED_free(reason);
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
}

static void test_p10cr(void)
{
	EVP_PKEY *k = t_key("P-256");
	CMPGW_MSG *m = msg_with_body(CMP_BODY_P10CR), *back;
	X509_REQ *req = X509_REQ_new();

	MUST(req && X509_REQ_set_pubkey(req, k) && X509_REQ_sign(req, k, EVP_sha256()) > 0);
	m->body->value.p10cr = req;
	back = roundtrip(m, "p10cr");
	ok(back && X509_REQ_verify(back->body->value.p10cr, k) == 1, "p10cr: CSR still verifies");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

static void test_pollreq_nested_other(void)
{
	CMPGW_MSG *m = msg_with_body(CMP_BODY_POLLREQ), *back, *n;
	CMPGW_POLLREQ *pr = CMPGW_POLLREQ_new();
	EVP_PKEY *k = t_key("ED25519");

	MUST(pr && ASN1_INTEGER_set(pr->certReqId, 3));
	MUST((m->body->value.pollReq = sk_CMPGW_POLLREQ_new_null()) != NULL);
	MUST(sk_CMPGW_POLLREQ_push(m->body->value.pollReq, pr));
	back = roundtrip(m, "pollReq");
	CMPGW_MSG_free(back);

	n = msg_with_body(CMP_BODY_NESTED);
	MUST((n->body->value.nested = sk_CMPGW_MSG_new_null()) != NULL);
	MUST(sk_CMPGW_MSG_push(n->body->value.nested, t_ir(k)));
	MUST(sk_CMPGW_MSG_push(n->body->value.nested, m));
	back = roundtrip(n, "nested");
	ok(back && sk_CMPGW_MSG_num(back->body->value.nested) == 2 &&
		   sk_CMPGW_MSG_value(back->body->value.nested, 1)->body->type == CMP_BODY_POLLREQ,
	   "nested: inner messages decoded recursively");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(n);

	/* krp [10] is not processed: it must still decode, into value.other */
	m = msg_with_body(CMP_BODY_KRP);
	MUST((m->body->value.other = ASN1_TYPE_new()) != NULL);
	ASN1_TYPE_set(m->body->value.other, V_ASN1_NULL, NULL);
	back = roundtrip_ex(m, "krp kept opaque", 0);
	ok(back && back->body->type == CMP_BODY_KRP && back->body->value.other != NULL,
	   "krp: decodes as opaque value.other");
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

/* Requests of the stock openssl cmp client decode and re-encode byte-exactly */
static void test_fixtures(void)
{
	static const struct {
		const char *file;
		int type;
	} fx[] = {
		{ "ir_sig.der", CMP_BODY_IR },	 { "ir_rsa_ed25519.der", CMP_BODY_IR },
		{ "ir_pbm.der", CMP_BODY_IR },	 { "cr_sig.der", CMP_BODY_CR },
		{ "kur_sig.der", CMP_BODY_KUR }, { "p10cr_sig.der", CMP_BODY_P10CR },
		{ "rr_sig.der", CMP_BODY_RR },	 { "genm_sig.der", CMP_BODY_GENM },
	};

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		size_t len;
		unsigned char *der = t_read(fx[i].file, &len), *re = NULL;
		CMPGW_MSG *m = t_decode(der, len);
		int n = m ? t_der(m, &re) : -1;

		ok(m != NULL && m->body->type == fx[i].type, "%s decodes as %s", fx[i].file,
		   cmp_asn1_body_name(fx[i].type));
		ok(n == (int)len && memcmp(re, der, len) == 0, "%s re-encodes byte-exactly",
		   fx[i].file);
		OPENSSL_free(re);
		CMPGW_MSG_free(m);
		free(der);
	}
}

/* Truncations, bit flips and garbage: NULL or a valid decode, never a crash
 * or a leak (the ASan build checks the latter). */
static void test_malformed(void)
{
	size_t len;
	unsigned char *der = t_read("ir_sig.der", &len), *buf = malloc(len);
	unsigned char garbage[512];
	int truncated_ok = 1;

	MUST(buf != NULL);
	for (size_t cut = 0; cut < len; cut++) {
		CMPGW_MSG *m = t_decode(der, cut);

		if (m != NULL)
			truncated_ok = 0;
		CMPGW_MSG_free(m);
	}
	ok(truncated_ok, "every truncation of an ir is rejected");
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, der, len);
		buf[i] ^= 0x5a;
		CMPGW_MSG_free(t_decode(buf, len));
	}
	ok(1, "byte flips at every position handled");
	for (int i = 0; i < 200; i++) {
		MUST(RAND_bytes(garbage, sizeof(garbage)) == 1);
		garbage[0] = 0x30;
		CMPGW_MSG_free(t_decode(garbage, sizeof(garbage)));
	}
	ok(1, "random garbage handled");
	ok(t_decode((const unsigned char *)"\x30\x80\x00\x00", 4) == NULL,
	   "indefinite empty SEQUENCE rejected");
	free(buf);
	free(der);
}

static void test_names(void)
{
	ok(strcmp(cmp_asn1_body_name(CMP_BODY_IR), "ir") == 0, "body name ir");
	ok(strcmp(cmp_asn1_body_name(CMP_BODY_CERTCONF), "certConf") == 0, "body name certConf");
	ok(strcmp(cmp_asn1_body_name(CMP_BODY_POLLREP), "pollRep") == 0, "body name pollRep");
	ok(strcmp(cmp_asn1_body_name(27), "unknown") == 0, "body name out of range");
	ok(strcmp(cmp_asn1_body_name(-1), "unknown") == 0, "body name negative");
}

int main(void)
{
	test_ir();
	test_kur_with_controls();
	test_certconf();
	test_error();
	test_genm();
	test_rr();
	test_p10cr();
	test_pollreq_nested_other();
	test_fixtures();
	test_malformed();
	test_names();
	return tap_done();
}
