/*
 * ra/fwd_msg.c - the messages an RA exchanges with its upstream CA
 * (RFC 9483 5.2.3 reprotect, RFC 4210 5.3.18 certConf) and the checks on
 * the upstream's answers. No I/O here.
 */
#include "ra/fwd.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/prot.h"

/* cmp/asn1.h declares dup functions for a few types only */
#define CRM_DUP(x) ((CMPGW_CERTREQMSG *)ASN1_item_dup(ASN1_ITEM_rptr(CMPGW_CERTREQMSG), (x)))
#define SI_DUP(x)  ((CMPGW_STATUSINFO *)ASN1_item_dup(ASN1_ITEM_rptr(CMPGW_STATUSINFO), (x)))

#define UP_PBM_ITERATIONS     10000
#define UP_PBM_MAX_ITERATIONS 100000

void ra_fwd_verdict_clear(struct ra_fwd_verdict *v)
{
	X509_free(v->cert);
	CMPGW_STATUSINFO_free(v->relay);
	memset(v, 0, sizeof(*v));
	v->bit = -1;
}

/* Header for a message of ours to the upstream, body type t, in the
 * transaction of dev: sender = RA, recipient = the CA the device named,
 * fresh senderNonce (copied out), recipNonce = recip (NULL: none). */
static CMPGW_MSG *new_msg(const struct cfg_upstream *u, const CMPGW_MSG *dev, int t,
			  const unsigned char *recip, size_t recip_len, unsigned char nonce[16])
{
	CMPGW_MSG *m = cmp_build_response(dev, u->cert, t);
	CMPGW_HDR *h = m ? m->header : NULL;

	if (!m)
		return NULL;
	ASN1_OCTET_STRING_free(h->recipNonce);
	h->recipNonce = NULL;
	if (recip && (!(h->recipNonce = ASN1_OCTET_STRING_new()) ||
		      !ASN1_OCTET_STRING_set(h->recipNonce, recip, (int)recip_len)))
		goto fail;
	if (dev->header->recipient) {
		GENERAL_NAME_free(h->recipient);
		if (!(h->recipient = GENERAL_NAME_dup(dev->header->recipient)))
			goto fail;
	}
	if (h->senderNonce->length != 16)
		goto fail;
	memcpy(nonce, h->senderNonce->data, 16);
	return m;
fail:
	CMPGW_MSG_free(m);
	return NULL;
}

/* Protect with the RA key or the PBMAC secret, add extraCerts, encode. */
static int finish_msg(const struct cfg_upstream *u, CMPGW_MSG *m, STACK_OF(X509) *more,
		      unsigned char **der, size_t *len)
{
	int rc;

	if (u->key)
		rc = cmp_prot_sign(m, u->key);
	else
		rc = cmp_prot_pbmac(m, u->secret, u->secret_len, UP_PBM_ITERATIONS);
	if (rc == 0 && u->cert) {
		STACK_OF(X509) *one = sk_X509_new_null();
		rc = one && sk_X509_push(one, u->cert) ? cmp_build_extracerts_push1(m, one)
						       : RC_NOMEM;
		sk_X509_free(one);
	}
	if (rc == 0)
		rc = cmp_build_extracerts_push1(m, more);
	if (rc == 0)
		rc = cmp_build_der(m, der, len);
	return rc;
}

/* Make san (NULL: none) the template's only subjectAltName extension;
 * *changed when that altered the template. 0 or RC_NOMEM. */
static int set_template_san(CMPGW_CERTTEMPLATE *tmpl, const GENERAL_NAMES *san, bool *changed)
{
	X509_EXTENSION *want = NULL, *have = NULL;
	int i = X509v3_get_ext_by_NID(tmpl->extensions, NID_subject_alt_name, -1);

	if (san && !(want = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)san)))
		return RC_NOMEM;
	have = i >= 0 ? X509v3_get_ext(tmpl->extensions, i) : NULL;
	if (want && have && X509v3_get_ext_by_NID(tmpl->extensions, NID_subject_alt_name, i) < 0 &&
	    X509_EXTENSION_get_critical(have) == 0 &&
	    ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(have), X509_EXTENSION_get_data(want)) ==
		    0) {
		X509_EXTENSION_free(want);
		return 0;
	}
	*changed = *changed || have || want;
	while ((i = X509v3_get_ext_by_NID(tmpl->extensions, NID_subject_alt_name, -1)) >= 0)
		X509_EXTENSION_free(X509v3_delete_ext(tmpl->extensions, i));
	if (want && !X509v3_add_ext(&tmpl->extensions, want, -1)) {
		X509_EXTENSION_free(want);
		return RC_NOMEM;
	}
	X509_EXTENSION_free(want);
	if (tmpl->extensions && sk_X509_EXTENSION_num(tmpl->extensions) == 0) {
		sk_X509_EXTENSION_free(tmpl->extensions); /* RFC 5280: Extensions SIZE (1..MAX) */
		tmpl->extensions = NULL;
	}
	return 0;
}

int ra_fwd_msg_request(const struct cfg_upstream *u, const CMPGW_MSG *dev, const X509_NAME *subject,
		       const GENERAL_NAMES *san, STACK_OF(X509) *vendor_chain,
		       unsigned char nonce[16], unsigned char **der, size_t *len)
{
	bool changed = false;
	CMPGW_MSG *m = new_msg(u, dev, dev->body->type, NULL, 0, nonce);
	CMPGW_CERTREQMSG *crm = NULL;
	int rc = RC_NOMEM;

	if (!m)
		return RC_NOMEM;
	crm = CRM_DUP(sk_CMPGW_CERTREQMSG_value(dev->body->value.ir, 0));
	if (!crm || !sk_CMPGW_CERTREQMSG_push(m->body->value.ir, crm)) {
		CMPGW_CERTREQMSG_free(crm);
		goto out;
	}
	/* RFC 9483 5.2.3.2: a template the RA changed invalidates the
	 * device's POP; the RA then vouches for it with raVerified (RFC 4211
	 * 4), having verified it itself. */
	CMPGW_CERTTEMPLATE *tmpl = crm->certReq->certTemplate;
	if (subject && (!tmpl->subject || X509_NAME_cmp(subject, tmpl->subject) != 0)) {
		X509_NAME_free(tmpl->subject);
		if (!(tmpl->subject = X509_NAME_dup(subject)))
			goto out;
		changed = true;
	}
	/* device input never names the device: its SANs give way to the
	 * profile's, as in CA mode (policy_profile_sans) */
	if (set_template_san(tmpl, san, &changed) != 0)
		goto out;
	if (changed) {
		CMPGW_POPO_free(crm->popo);
		if (!(crm->popo = CMPGW_POPO_new()) ||
		    !(crm->popo->value.raVerified = ASN1_NULL_new()))
			goto out;
		crm->popo->type = CMPGW_POPO_RAVERIFIED;
	}
	rc = finish_msg(u, m, vendor_chain, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}

int ra_fwd_msg_certconf(const struct cfg_upstream *u, const CMPGW_MSG *dev, X509 *cert, bool accept,
			const unsigned char *up_nonce, size_t up_nonce_len, unsigned char nonce[16],
			unsigned char **der, size_t *len)
{
	CMPGW_MSG *m = new_msg(u, dev, CMP_BODY_CERTCONF, up_nonce, up_nonce_len, nonce);
	CMPGW_CERTSTATUS *cs = NULL;
	unsigned int hlen = 0;
	unsigned char hash[CMP_CERTHASH_MAX];
	int rc = RC_NOMEM;

	if (!m)
		return RC_NOMEM;
	if ((rc = cmp_certhash_compute(cert, NULL, hash, &hlen)) != 0)
		goto out;
	rc = RC_NOMEM;
	if (!(cs = CMPGW_CERTSTATUS_new()) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, hash, (int)hlen) ||
	    !ASN1_INTEGER_set(cs->certReqId, 0))
		goto out;
	/* RFC 4210 5.3.18: a rejection carries status rejection */
	if (!accept && !(cs->statusInfo = cmp_build_statusinfo(CMP_STATUS_REJECTION, -1,
							       "rejected by the end entity")))
		goto out;
	if (!sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs))
		goto out;
	cs = NULL;
	rc = finish_msg(u, m, NULL, der, len);
out:
	CMPGW_CERTSTATUS_free(cs);
	CMPGW_MSG_free(m);
	return rc;
}

int ra_fwd_msg_rr(const struct cfg_upstream *u, const CMPGW_MSG *dev, unsigned char nonce[16],
		  unsigned char **der, size_t *len)
{
	CMPGW_MSG *m = new_msg(u, dev, CMP_BODY_RR, NULL, 0, nonce);
	STACK_OF(CMPGW_REVDETAILS) *rds = dev->body->value.rr;
	int rc = RC_NOMEM;

	if (!m)
		return RC_NOMEM;
	for (int i = 0; i < sk_CMPGW_REVDETAILS_num(rds); i++) {
		CMPGW_REVDETAILS *rd = ASN1_item_dup(ASN1_ITEM_rptr(CMPGW_REVDETAILS),
						     sk_CMPGW_REVDETAILS_value(rds, i));
		if (!rd || !sk_CMPGW_REVDETAILS_push(m->body->value.rr, rd)) {
			CMPGW_REVDETAILS_free(rd);
			goto out;
		}
	}
	rc = finish_msg(u, m, NULL, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}

int ra_fwd_msg_pollreq(const struct cfg_upstream *u, const CMPGW_MSG *dev,
		       const unsigned char *up_nonce, size_t up_nonce_len, unsigned char nonce[16],
		       unsigned char **der, size_t *len)
{
	CMPGW_MSG *m = new_msg(u, dev, CMP_BODY_POLLREQ, up_nonce, up_nonce_len, nonce);
	CMPGW_POLLREQ *pr = NULL;
	int rc = RC_NOMEM;

	if (!m)
		return RC_NOMEM;
	if (!(pr = CMPGW_POLLREQ_new()) || !ASN1_INTEGER_set(pr->certReqId, 0) ||
	    !sk_CMPGW_POLLREQ_push(m->body->value.pollReq, pr))
		goto out;
	pr = NULL;
	rc = finish_msg(u, m, NULL, der, len);
out:
	CMPGW_POLLREQ_free(pr);
	CMPGW_MSG_free(m);
	return rc;
}

int ra_fwd_msg_nested(const struct cfg_upstream *u, const CMPGW_MSG *dev, unsigned char nonce[16],
		      unsigned char **der, size_t *len)
{
	CMPGW_MSG *m = new_msg(u, dev, CMP_BODY_NESTED, NULL, 0, nonce);
	/* the device's message goes unchanged: our codec re-encodes a DER
	 * input to the same bytes, so its protection stays valid */
	CMPGW_MSG *inner = m ? CMPGW_MSG_dup(dev) : NULL;
	int rc = RC_NOMEM;

	if (!inner || !sk_CMPGW_MSG_push(m->body->value.nested, inner)) {
		CMPGW_MSG_free(inner);
		goto out;
	}
	rc = finish_msg(u, m, NULL, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}

/* Does x chain to u->trusted, with untrusted as intermediates? */
static bool chains(const struct cfg_upstream *u, X509 *x, STACK_OF(X509) *untrusted)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (!st || !ctx)
		goto out;
	for (int i = 0; i < sk_X509_num(u->trusted); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(u->trusted, i)))
			goto out;
	if (!X509_STORE_CTX_init(ctx, st, x, untrusted))
		goto out;
	ok = X509_verify_cert(ctx) == 1;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

/* May signer protect the upstream's answers? Chaining to u->trusted is not
 * enough: the certificates the upstream issues chain there too, devices
 * hold their keys, and one of them could then forge an rp or a pkiConf.
 * So: one of the pinned upstream.signer certificates, or else a CA
 * certificate or one marked for CMP by a CA or RA (id-kp-cmcCA,
 * id-kp-cmcRA, RFC 9480). */
static bool signer_allowed(const struct cfg_upstream *u, X509 *signer)
{
	EXTENDED_KEY_USAGE *eku;
	bool ok = false;

	if (u->signers) {
		for (int i = 0; i < sk_X509_num(u->signers); i++)
			if (X509_cmp(signer, sk_X509_value(u->signers, i)) == 0)
				return true;
		return false;
	}
	if (X509_check_ca(signer) > 0)
		return true;
	eku = X509_get_ext_d2i(signer, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; eku && !ok && i < sk_ASN1_OBJECT_num(eku); i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));
		ok = nid == NID_cmcCA || nid == NID_cmcRA;
	}
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

/* RFC 4210 5.1.3 / RFC 9483 3.2: protected by a certificate chaining to
 * the configured anchors (first of extraCerts) that may speak for the
 * upstream (signer_allowed), or by our shared secret. */
static bool protection_ok(const struct cfg_upstream *u, const unsigned char *der, size_t len,
			  const CMPGW_MSG *m)
{
	X509 *signer;
	int rc;

	if (u->secret)
		rc = cmp_prot_verify_pbmac(der, len, m, u->secret, u->secret_len,
					   UP_PBM_MAX_ITERATIONS);
	else if (!m->extraCerts || sk_X509_num(m->extraCerts) < 1)
		rc = RC_INVAL;
	else if ((rc = cmp_prot_verify_sig(der, len, m,
					   (signer = sk_X509_value(m->extraCerts, 0)))) == 0)
		rc = chains(u, signer, m->extraCerts) && signer_allowed(u, signer) ? 0 : RC_CRYPTO;
	ERR_clear_error();
	return rc == 0;
}

static void verdict_fail(struct ra_fwd_verdict *v, int bit, const char *why)
{
	v->bit = bit;
	v->why = why;
}

/* The single CertResponse of a certificate response (RFC 4210 5.3.4). */
static void check_certrep(const struct cfg_upstream *u, const CMPGW_MSG *m, bool poll_ok,
			  EVP_PKEY *pub, const X509_NAME *subject, struct ra_fwd_verdict *v)
{
	const CMPGW_CERTREPMSG *rep = m->body->value.ip;
	const CMPGW_CERTRESPONSE *r;
	STACK_OF(X509) *untrusted = NULL;
	long status;
	X509 *cert;

	if (sk_CMPGW_CERTRESPONSE_num(rep->response) != 1 ||
	    ASN1_INTEGER_get((r = sk_CMPGW_CERTRESPONSE_value(rep->response, 0))->certReqId) != 0)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA answered with an unexpected certificate response");
	status = ASN1_INTEGER_get(r->status->status);
	if (status == CMP_STATUS_WAITING && poll_ok) { /* RFC 4210 5.3.22 */
		v->waiting = true;
		v->poll_after_s = 1;
		return;
	}
	if (status == CMP_STATUS_WAITING)
		return verdict_fail(v, CMP_FAIL_SYSTEM_UNAVAIL,
				    "upstream CA asked to poll, which the nested style cannot do");
	if (status != CMP_STATUS_ACCEPTED && status != CMP_STATUS_GRANTED_WITH_MODS) {
		v->relay = SI_DUP(r->status);
		return v->relay ? (void)0
				: verdict_fail(v, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	}
	if (!r->certifiedKeyPair ||
	    r->certifiedKeyPair->certOrEncCert->type != CMPGW_CERTORENC_CERT)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA sent no plain certificate");
	cert = r->certifiedKeyPair->certOrEncCert->value.certificate;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA returned a certificate for another public key");
	if (subject && X509_NAME_cmp(subject, X509_get_subject_name(cert)) != 0)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA returned a certificate with another subject");
	/* the issuer's chain may come in extraCerts or caPubs */
	if (!(untrusted = sk_X509_new_null()))
		return verdict_fail(v, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	for (int i = 0; i < sk_X509_num(m->extraCerts); i++)
		sk_X509_push(untrusted, sk_X509_value(m->extraCerts, i));
	for (int i = 0; i < sk_X509_num(rep->caPubs); i++)
		sk_X509_push(untrusted, sk_X509_value(rep->caPubs, i));
	bool ok = chains(u, cert, untrusted);
	sk_X509_free(untrusted);
	if (!ok)
		return verdict_fail(
			v, CMP_FAIL_BAD_MESSAGE_CHECK,
			"certificate from the upstream CA does not chain to its anchors");
	if (!X509_up_ref(cert))
		return verdict_fail(v, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	v->cert = cert;
}

/* RFC 4210 5.3.22: pollRep for our single request: poll again later. */
static void check_pollrep(const CMPGW_MSG *m, struct ra_fwd_verdict *v)
{
	STACK_OF(CMPGW_POLLREP) *prs = m->body->value.pollRep;
	const CMPGW_POLLREP *pr;
	long after;

	if (sk_CMPGW_POLLREP_num(prs) != 1 ||
	    ASN1_INTEGER_get((pr = sk_CMPGW_POLLREP_value(prs, 0))->certReqId) != 0)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA answered with an unexpected pollRep");
	after = ASN1_INTEGER_get(pr->checkAfter);
	v->waiting = true;
	v->poll_after_s = after < 1 ? 1 : after > 60 ? 60 : (int)after;
}

/* RFC 4210 5.3.10: the single PKIStatusInfo of an rp. */
static void check_rp(const CMPGW_MSG *m, struct ra_fwd_verdict *v)
{
	const CMPGW_REVREP *rp = m->body->value.rp;
	const CMPGW_STATUSINFO *si;
	long status;

	if (sk_CMPGW_STATUSINFO_num(rp->status) != 1)
		return verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
				    "upstream CA answered with an unexpected revocation response");
	si = sk_CMPGW_STATUSINFO_value(rp->status, 0);
	status = ASN1_INTEGER_get(si->status);
	if (status == CMP_STATUS_ACCEPTED || status == CMP_STATUS_GRANTED_WITH_MODS)
		return;
	v->relay_rp = true;
	if (!(v->relay = SI_DUP(si)))
		verdict_fail(v, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

/* Protection (RFC 4210 5.1.3) and transactionID of one upstream message;
 * recipNonce is checked by the caller. */
static bool envelope_ok(const struct cfg_upstream *u, const unsigned char *der, size_t len,
			const CMPGW_MSG *m, const ASN1_OCTET_STRING *tid, struct ra_fwd_verdict *v)
{
	if (!m->protection || !protection_ok(u, der, len, m)) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer protection does not verify");
		return false;
	}
	if (!m->header->transactionID ||
	    ASN1_OCTET_STRING_cmp(m->header->transactionID, tid) != 0) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer belongs to another transaction or message");
		return false;
	}
	return true;
}

static bool nonce_is(const CMPGW_MSG *m, const unsigned char *n, size_t nlen)
{
	const ASN1_OCTET_STRING *rn = m->header->recipNonce;
	return n && rn && (size_t)rn->length == nlen && CRYPTO_memcmp(rn->data, n, nlen) == 0;
}

/* The answer proper (outer, or the inner one of a nested answer). */
static void check_body(const struct cfg_upstream *u, const CMPGW_MSG *m,
		       const struct ra_fwd_expect *e, struct ra_fwd_verdict *v)
{
	const CMPGW_HDR *h = m->header;

	if (h->senderNonce && h->senderNonce->length > 0 &&
	    (size_t)h->senderNonce->length <= sizeof(v->nonce)) {
		memcpy(v->nonce, h->senderNonce->data, (size_t)h->senderNonce->length);
		v->nonce_len = (size_t)h->senderNonce->length;
	}
	v->implicit = cmp_build_has_implicit_confirm(m);
	if (m->body->type == CMP_BODY_ERROR) {
		if (!(v->relay = SI_DUP(m->body->value.error->pKIStatusInfo)))
			verdict_fail(v, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	} else if (m->body->type == CMP_BODY_POLLREP && e->poll_ok) {
		check_pollrep(m, v);
	} else if (m->body->type != e->want) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answered with another body type");
	} else if (e->want == CMP_BODY_RP) {
		check_rp(m, v);
	} else if (e->want != CMP_BODY_PKICONF) {
		check_certrep(u, m, e->poll_ok, e->pub, e->subject, v);
	}
}

/* RFC 9483 5.2.2.1: the answer to our nested request is a nested message
 * (protected by the upstream, recipNonce = our nonce) holding the answer
 * to the device's message, itself protected by the upstream and echoing
 * the device's senderNonce. */
static void check_nested(const struct cfg_upstream *u, const CMPGW_MSG *outer,
			 const struct ra_fwd_expect *e, struct ra_fwd_verdict *v)
{
	STACK_OF(CMPGW_MSG) *in = outer->body->value.nested;
	unsigned char *der = NULL;
	const unsigned char *p;
	CMPGW_MSG *m = NULL;
	int len;

	if (sk_CMPGW_MSG_num(in) != 1 ||
	    (len = i2d_CMPGW_MSG(sk_CMPGW_MSG_value(in, 0), &der)) <= 0) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA nested answer does not hold exactly one message");
		goto out;
	}
	p = der;
	if (!(m = d2i_CMPGW_MSG(NULL, &p, len))) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer is not a PKIMessage");
		goto out;
	}
	if (!envelope_ok(u, der, (size_t)len, m, e->tid, v))
		goto out;
	if (!nonce_is(m, e->inner_nonce, e->inner_nonce_len)) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer belongs to another transaction or message");
		goto out;
	}
	check_body(u, m, e, v);
out:
	CMPGW_MSG_free(m);
	OPENSSL_free(der);
}

void ra_fwd_msg_verify(const struct cfg_upstream *u, const unsigned char *der, size_t len,
		       const struct ra_fwd_expect *e, struct ra_fwd_verdict *v)
{
	const unsigned char *p = der;
	CMPGW_MSG *m = d2i_CMPGW_MSG(NULL, &p, (long)len);

	memset(v, 0, sizeof(*v));
	v->bit = -1;
	ERR_clear_error();
	if (!m || p != der + len) {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer is not a PKIMessage");
		goto out;
	}
	if (!envelope_ok(u, der, len, m, e->tid, v))
		goto out;
	/* RFC 4210 5.1.1: recipNonce = the senderNonce of what it answers:
	 * ours, or in nested style the device's when the upstream answers
	 * the inner message directly */
	if (nonce_is(m, e->nonce, 16)) {
		if (e->inner_nonce && m->body->type == CMP_BODY_NESTED)
			check_nested(u, m, e, v);
		else
			check_body(u, m, e, v);
	} else if (e->inner_nonce && m->body->type != CMP_BODY_NESTED &&
		   nonce_is(m, e->inner_nonce, e->inner_nonce_len)) {
		check_body(u, m, e, v);
	} else {
		verdict_fail(v, CMP_FAIL_BAD_MESSAGE_CHECK,
			     "upstream CA answer belongs to another transaction or message");
	}
out:
	ERR_clear_error();
	CMPGW_MSG_free(m);
}
