/*
 * test/unit/cmp/test_build.c - cmp/build.c: every builder's output decodes
 * with OpenSSL's d2i_OSSL_CMP_MSG and passes OSSL_CMP_validate_msg; a full
 * ir/ip/certConf/pkiConf session is run against OpenSSL's CMP client, with
 * our decoder, POP check, builders, signer and certHash as the server.
 */
#include <openssl/cmp.h>

#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/pop.h"
#include "cmp/prot.h"
#include "helpers.h"
#include "tap.h"

struct srv {
	EVP_PKEY *key, *rootkey;
	X509 *cert, *root, *issued;
	int certconf_seen, certconf_hash_ok;
};

static OSSL_CMP_MSG *to_ossl(const CMPGW_MSG *m)
{
	unsigned char *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	OSSL_CMP_MSG *om = NULL;

	if (cmp_build_der(m, &der, &len) == 0) {
		p = der;
		om = d2i_OSSL_CMP_MSG(NULL, &p, (long)len);
	}
	OPENSSL_free(der);
	return om;
}

static CMPGW_MSG *from_ossl(const OSSL_CMP_MSG *om)
{
	unsigned char *der = NULL;
	int n = i2d_OSSL_CMP_MSG(om, &der);
	CMPGW_MSG *m = n > 0 ? t_decode(der, (size_t)n) : NULL;

	OPENSSL_free(der);
	return m;
}

static int ossl_validates(OSSL_CMP_MSG *om, X509 *srv)
{
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	int r = ctx && OSSL_CMP_CTX_set1_srvCert(ctx, srv) && OSSL_CMP_validate_msg(ctx, om) == 1;

	OSSL_CMP_CTX_free(ctx);
	return r;
}

/* Sign rsp, hand it to OpenSSL, check body type, IDs, nonces and signature */
static void check_with_openssl(CMPGW_MSG *rsp, const CMPGW_MSG *req, struct srv *s, int type,
			       const char *what)
{
	OSSL_CMP_MSG *om;
	const OSSL_CMP_PKIHEADER *h;

	MUST(rsp != NULL);
	MUST(cmp_prot_sign(rsp, s->key) == 0);
	om = to_ossl(rsp);
	ok(om != NULL, "%s: d2i_OSSL_CMP_MSG accepts it", what);
	if (om == NULL)
		return;
	is_int(OSSL_CMP_MSG_get_bodytype(om), type, "%s: OpenSSL body type", what);
	h = OSSL_CMP_MSG_get0_header(om);
	ok(ASN1_OCTET_STRING_cmp(OSSL_CMP_HDR_get0_transactionID(h), req->header->transactionID) ==
		   0,
	   "%s: transactionID echoed", what);
	ok(ASN1_OCTET_STRING_cmp(OSSL_CMP_HDR_get0_recipNonce(h), req->header->senderNonce) == 0,
	   "%s: recipNonce = request senderNonce", what);
	ok(ossl_validates(om, s->cert), "%s: OpenSSL validates the signature", what);
	OSSL_CMP_MSG_free(om);
}

/* Issue a certificate for pubkey, named by the template subject, under root */
static X509 *issue(struct srv *s, EVP_PKEY *pubkey)
{
	return t_cert(pubkey, "issued-device", s->root, s->rootkey, EVP_sha256());
}

static void test_builders(struct srv *s)
{
	EVP_PKEY *k = t_key("P-256");
	CMPGW_MSG *req = t_ir(k), *rsp;
	X509 *cert = issue(s, k);
	STACK_OF(X509) *chain = sk_X509_new_null();
	CMPGW_STATUSINFO *si;
	static const int empty_types[] = { CMP_BODY_PKICONF, CMP_BODY_GENP, CMP_BODY_POLLREP };

	MUST(chain && sk_X509_push(chain, s->cert) && sk_X509_push(chain, s->root));
	rsp = cmp_build_response(req, s->cert, CMP_BODY_IP);
	MUST(rsp != NULL);
	is_int(ASN1_INTEGER_get(rsp->header->pvno), 2, "ip: pvno 2");
	ok(rsp->header->senderKID != NULL &&
		   ASN1_OCTET_STRING_cmp(rsp->header->senderKID,
					 X509_get0_subject_key_id(s->cert)) == 0,
	   "ip: senderKID = SKI");
	ok(rsp->header->senderNonce && rsp->header->senderNonce->length == 16, "ip: 16-byte nonce");
	ok(GENERAL_NAME_cmp(rsp->header->recipient, req->header->sender) == 0,
	   "ip: recipient = request sender");
	MUST((si = cmp_build_statusinfo(CMP_STATUS_ACCEPTED, -1, NULL)) != NULL);
	is_int(cmp_build_certrep_add(rsp, 0, si, cert), 0, "ip: certrep_add");
	is_int(cmp_build_capubs_push1(rsp, s->root), 0, "ip: caPubs push1");
	is_int(cmp_build_extracerts_push1(rsp, chain), 0, "ip: extraCerts push1");
	is_int(cmp_build_implicit_confirm(rsp), 0, "ip: implicitConfirm");
	is_int(cmp_build_implicit_confirm(rsp), 0, "ip: implicitConfirm again");
	is_int(sk_CMPGW_ITAV_num(rsp->header->generalInfo), 1, "ip: implicitConfirm added once");
	ok(cmp_build_has_implicit_confirm(rsp), "ip: has implicitConfirm");
	ok(!cmp_build_has_implicit_confirm(req), "ir without implicitConfirm");
	is_int(sk_X509_num(rsp->extraCerts), 2, "ip: two extraCerts");
	check_with_openssl(rsp, req, s, CMP_BODY_IP, "ip");
	CMPGW_MSG_free(rsp);

	/* a rejection without certificate, in cp and kup */
	for (int t = CMP_BODY_CP; t <= CMP_BODY_KUP; t += CMP_BODY_KUP - CMP_BODY_CP) {
		MUST((rsp = cmp_build_response(req, s->cert, t)) != NULL);
		si = cmp_build_statusinfo(CMP_STATUS_REJECTION, CMP_FAIL_BAD_POP, "bad POP");
		is_int(cmp_build_certrep_add(rsp, 0, si, NULL), 0, "%s: rejection added",
		       cmp_asn1_body_name(t));
		check_with_openssl(rsp, req, s, t, cmp_asn1_body_name(t));
		CMPGW_MSG_free(rsp);
	}
	for (size_t i = 0; i < sizeof(empty_types) / sizeof(empty_types[0]); i++) {
		int t = empty_types[i];

		rsp = cmp_build_response(req, s->cert, t);
		check_with_openssl(rsp, req, s, t, cmp_asn1_body_name(t));
		CMPGW_MSG_free(rsp);
	}
	/* rp with one status */
	MUST((rsp = cmp_build_response(req, s->cert, CMP_BODY_RP)) != NULL);
	MUST((si = cmp_build_statusinfo(CMP_STATUS_ACCEPTED, -1, NULL)) != NULL);
	MUST(sk_CMPGW_STATUSINFO_push(rsp->body->value.rp->status, si));
	check_with_openssl(rsp, req, s, CMP_BODY_RP, "rp");
	is_int(cmp_build_certrep_add(rsp, 0, NULL, NULL), RC_INVAL, "certrep_add on rp: RC_INVAL");
	CMPGW_MSG_free(rsp);

	/* error to a known request */
	rsp = cmp_build_error(req, s->cert, CMP_FAIL_BAD_POP, "POP failed");
	check_with_openssl(rsp, req, s, CMP_BODY_ERROR, "error");
	ok(ASN1_BIT_STRING_get_bit(rsp->body->value.error->pKIStatusInfo->failInfo,
				   CMP_FAIL_BAD_POP) &&
		   ASN1_INTEGER_get(rsp->body->value.error->pKIStatusInfo->status) ==
			   CMP_STATUS_REJECTION,
	   "error: rejection with badPOP");
	CMPGW_MSG_free(rsp);

	ok(cmp_build_response(req, s->cert, CMP_BODY_KRP) == NULL, "krp is never built");
	sk_X509_free(chain);
	X509_free(cert);
	CMPGW_MSG_free(req);
	EVP_PKEY_free(k);
}

static void test_error_without_request(struct srv *s)
{
	CMPGW_MSG *rsp = cmp_build_error(NULL, NULL, CMP_FAIL_BAD_DATA_FORMAT, "undecodable");
	CMPGW_STATUSINFO *si;
	OSSL_CMP_MSG *om;

	MUST(rsp != NULL);
	ok(rsp->header->transactionID && rsp->header->transactionID->length == 16,
	   "error(NULL): random transactionID");
	ok(rsp->header->recipNonce == NULL, "error(NULL): no recipNonce");
	ok(rsp->header->recipient->type == GEN_DIRNAME &&
		   X509_NAME_entry_count(rsp->header->recipient->d.directoryName) == 0,
	   "error(NULL): empty directoryName recipient");
	ok(rsp->header->senderKID == NULL, "error(NULL): no senderKID without cert");
	MUST(cmp_prot_sign(rsp, s->key) == 0);
	om = to_ossl(rsp);
	ok(om != NULL && OSSL_CMP_MSG_get_bodytype(om) == CMP_BODY_ERROR,
	   "error(NULL): OpenSSL decodes it");
	OSSL_CMP_MSG_free(om);
	CMPGW_MSG_free(rsp);

	ok(cmp_build_statusinfo(CMP_STATUS_REJECTION, CMP_FAIL_MAX + 1, NULL) == NULL,
	   "statusinfo: fail bit beyond duplicateCertReq refused");
	si = cmp_build_statusinfo(CMP_STATUS_WAITING, -1, NULL);
	ok(si && si->failInfo == NULL && si->statusString == NULL, "statusinfo: minimal");
	CMPGW_STATUSINFO_free(si);
}

static void test_pvno3(struct srv *s)
{
	EVP_PKEY *k = t_key("P-256");
	CMPGW_MSG *req = t_ir(k), *rsp;

	MUST(ASN1_INTEGER_set(req->header->pvno, 3));
	rsp = cmp_build_response(req, s->cert, CMP_BODY_PKICONF);
	is_int(rsp ? ASN1_INTEGER_get(rsp->header->pvno) : -1, 3, "pvno 3 request: pvno 3 answer");
	CMPGW_MSG_free(rsp);
	MUST(ASN1_INTEGER_set(req->header->pvno, 1));
	rsp = cmp_build_response(req, s->cert, CMP_BODY_PKICONF);
	is_int(rsp ? ASN1_INTEGER_get(rsp->header->pvno) : -1, 2, "pvno 1 request: pvno 2 answer");
	CMPGW_MSG_free(rsp);
	CMPGW_MSG_free(req);
	EVP_PKEY_free(k);
}

/* The server side of a session, in our code only */
static CMPGW_MSG *serve(struct srv *s, const CMPGW_MSG *req)
{
	CMPGW_MSG *rsp = NULL;
	CMPGW_CERTREQMSG *crm;
	CMPGW_CERTSTATUS *cs;
	EVP_PKEY *pub = NULL;
	unsigned char h[CMP_CERTHASH_MAX];
	unsigned int hl = 0;

	switch (req->body->type) {
	case CMP_BODY_IR:
		crm = sk_CMPGW_CERTREQMSG_value(req->body->value.ir, 0);
		if (cmp_pop_verify(crm, &pub) != 0)
			return cmp_build_error(req, s->cert, CMP_FAIL_BAD_POP, "bad POP");
		X509_free(s->issued);
		s->issued = issue(s, pub);
		rsp = cmp_build_response(req, s->cert, CMP_BODY_IP);
		MUST(rsp &&
		     cmp_build_certrep_add(rsp, ASN1_INTEGER_get(crm->certReq->certReqId),
					   cmp_build_statusinfo(0, -1, NULL), s->issued) == 0);
		MUST(cmp_build_capubs_push1(rsp, s->root) == 0);
		if (cmp_build_has_implicit_confirm(req))
			MUST(cmp_build_implicit_confirm(rsp) == 0);
		break;
	case CMP_BODY_CERTCONF:
		s->certconf_seen = 1;
		cs = sk_CMPGW_CERTSTATUS_value(req->body->value.certConf, 0);
		s->certconf_hash_ok = cs &&
				      cmp_certhash_compute(s->issued, cs->hashAlg, h, &hl) == 0 &&
				      hl == (unsigned int)cs->certHash->length &&
				      memcmp(h, cs->certHash->data, hl) == 0;
		rsp = cmp_build_response(req, s->cert, CMP_BODY_PKICONF);
		break;
	default:
		rsp = cmp_build_error(req, s->cert, CMP_FAIL_BAD_REQUEST, "unexpected");
	}
	EVP_PKEY_free(pub);
	MUST(rsp != NULL && cmp_prot_sign(rsp, s->key) == 0);
	return rsp;
}

static OSSL_CMP_MSG *transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *oreq)
{
	struct srv *s = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	CMPGW_MSG *req = from_ossl(oreq), *rsp;
	OSSL_CMP_MSG *orsp;

	if (req == NULL)
		return NULL;
	rsp = serve(s, req);
	orsp = to_ossl(rsp);
	CMPGW_MSG_free(rsp);
	CMPGW_MSG_free(req);
	return orsp;
}

static void test_session(struct srv *s, int implicit)
{
	EVP_PKEY *vkey = t_key("P-256"), *newkey = t_key("P-256");
	X509 *vcert = t_cert(vkey, "vendor-device", NULL, NULL, EVP_sha256());
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	X509_NAME *subj = X509_NAME_new();
	STACK_OF(X509) *capubs;
	X509 *got;

	MUST(ctx && subj);
	MUST(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)"dev", -1,
					-1, 0));
	MUST(OSSL_CMP_CTX_set_transfer_cb(ctx, transfer) &&
	     OSSL_CMP_CTX_set_transfer_cb_arg(ctx, s));
	MUST(OSSL_CMP_CTX_set1_srvCert(ctx, s->cert));
	MUST(OSSL_CMP_CTX_set1_cert(ctx, vcert) && OSSL_CMP_CTX_set1_pkey(ctx, vkey));
	MUST(OSSL_CMP_CTX_set1_subjectName(ctx, subj));
	MUST(EVP_PKEY_up_ref(newkey) && OSSL_CMP_CTX_set0_newPkey(ctx, 1, newkey));
	MUST(OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit));
	s->certconf_seen = s->certconf_hash_ok = 0;
	got = OSSL_CMP_exec_IR_ses(ctx);
	ok(got != NULL && X509_cmp(got, s->issued) == 0,
	   "session%s: OpenSSL client enrolled via our ip", implicit ? " (implicit)" : "");
	capubs = OSSL_CMP_CTX_get1_caPubs(ctx);
	ok(sk_X509_num(capubs) == 1 && X509_cmp(sk_X509_value(capubs, 0), s->root) == 0,
	   "session: client got caPubs");
	sk_X509_pop_free(capubs, X509_free);
	if (implicit) {
		ok(!s->certconf_seen, "session (implicit): no certConf sent");
	} else {
		ok(s->certconf_seen, "session: certConf received");
		ok(s->certconf_hash_ok, "session: client's certHash matches ours");
	}
	X509_NAME_free(subj);
	OSSL_CMP_CTX_free(ctx);
	X509_free(vcert);
	EVP_PKEY_free(newkey);
	EVP_PKEY_free(vkey);
}

int main(void)
{
	struct srv s = { 0 };

	s.rootkey = t_key("P-384");
	s.root = t_cert(s.rootkey, "cmpgw-test-root", NULL, NULL, EVP_sha384());
	s.key = t_key("P-256");
	s.cert = t_cert(s.key, "cmpgw-test-ra", s.root, s.rootkey, EVP_sha384());
	test_builders(&s);
	test_error_without_request(&s);
	test_pvno3(&s);
	test_session(&s, 0);
	test_session(&s, 1);
	X509_free(s.issued);
	X509_free(s.cert);
	EVP_PKEY_free(s.key);
	X509_free(s.root);
	EVP_PKEY_free(s.rootkey);
	return tap_done();
}
