/*
 * test/bench/bench_msg.c - requests and strict answer validation for the
 * load generator (see bench_msg.h).
 */
#include "test/bench/bench_msg.h"

#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "cmp/asn1.h"
#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/prot.h"
#include "cmp/sig.h"

/* Bound of the validated-certificate cache (signer + CA certificates). */
#define TRUST_CACHE_MAX 64

/* Bound of the decoded-certificate cache (extraCerts seen before). */
#define DECODED_MAX 64

struct bench_trust {
	X509_STORE *store;
	STACK_OF(X509) *valid; /* certificates that chained to the root */
	/* extraCerts by exact DER: decoding a public key costs OpenSSL 3.0
	 * more than verifying a signature (BENCHMARKS.md) */
	struct decoded {
		unsigned char *der;
		size_t len;
		X509 *x;
	} decoded[DECODED_MAX];
	int ndecoded;
};

static const char *const fail_names[BENCH_F_MAX] = {
	"ok",	 "transport", "decode", "protection", "untrusted", "transactionID",
	"nonce", "body",      "status", "pubkey",     "internal",
};

const char *bench_fail_name(int f)
{
	return f >= 0 && f < BENCH_F_MAX ? fail_names[f] : "?";
}

struct bench_trust *bench_trust_new(X509 *root)
{
	struct bench_trust *t = OPENSSL_zalloc(sizeof(*t));

	if (!t || !(t->store = X509_STORE_new()) || !(t->valid = sk_X509_new_null()) ||
	    !X509_STORE_add_cert(t->store, root)) {
		bench_trust_free(t);
		return NULL;
	}
	return t;
}

void bench_trust_free(struct bench_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->valid, X509_free);
	for (int i = 0; i < t->ndecoded; i++) {
		OPENSSL_free(t->decoded[i].der);
		X509_free(t->decoded[i].x);
	}
	OPENSSL_free(t);
}

void bench_tx_clear(struct bench_tx *tx)
{
	X509_free(tx->cert);
	memset(tx, 0, sizeof(*tx));
}

static bool cached(const struct bench_trust *t, X509 *x)
{
	for (int i = 0; i < sk_X509_num(t->valid); i++)
		if (X509_cmp(sk_X509_value(t->valid, i), x) == 0)
			return true;
	return false;
}

/* Full path validation of x to the root; caches the chain on success. */
static bool chain_ok(struct bench_trust *t, X509 *x, STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = ctx && X509_STORE_CTX_init(ctx, t->store, x, untrusted) &&
		  X509_verify_cert(ctx) == 1;

	if (ok) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
		for (int i = 0; i < sk_X509_num(chain); i++) {
			X509 *c = sk_X509_value(chain, i);
			if (cached(t, c) || sk_X509_num(t->valid) >= TRUST_CACHE_MAX)
				continue;
			if (X509_up_ref(c) && !sk_X509_push(t->valid, c))
				X509_free(c);
		}
	}
	X509_STORE_CTX_free(ctx);
	return ok;
}

/* The extraCert whose subject is the header's sender (RFC 4210 5.1.1). */
static X509 *find_signer(const CMPGW_MSG *m)
{
	const GENERAL_NAME *s = m->header->sender;
	for (int i = 0; i < sk_X509_num(m->extraCerts); i++) {
		X509 *x = sk_X509_value(m->extraCerts, i);
		if (s && s->type == GEN_DIRNAME &&
		    X509_NAME_cmp(s->d.directoryName, X509_get_subject_name(x)) == 0)
			return x;
	}
	return NULL;
}

static bool octets_eq(const ASN1_OCTET_STRING *o, const unsigned char *p, int n)
{
	return o && o->length == n && CRYPTO_memcmp(o->data, p, (size_t)n) == 0;
}

/* The issued certificate: signed by a validated CA, else a full chain check. */
static bool issued_ok(struct bench_trust *t, X509 *cert, const CMPGW_MSG *m)
{
	STACK_OF(X509) *untrusted = NULL;
	bool ok;

	for (int i = 0; i < sk_X509_num(t->valid); i++) {
		X509 *ca = sk_X509_value(t->valid, i);
		if (X509_check_issued(ca, cert) == X509_V_OK)
			return X509_verify(cert, X509_get0_pubkey(ca)) == 1 &&
			       X509_cmp_current_time(X509_get0_notAfter(cert)) > 0;
	}
	untrusted = sk_X509_dup(m->extraCerts);
	if (!untrusted)
		return false;
	CMPGW_CERTREPMSG *rep = m->body->value.ip;
	for (int i = 0; i < sk_X509_num(rep->caPubs); i++)
		sk_X509_push(untrusted, sk_X509_value(rep->caPubs, i));
	ok = chain_ok(t, cert, untrusted);
	sk_X509_free(untrusted);
	return ok;
}

/* "<body> status <n> failInfo <bits> <text>" into tx->detail, for the log. */
static void describe(struct bench_tx *tx, const CMPGW_MSG *m, const CMPGW_STATUSINFO *si)
{
	char bits[96] = "";
	size_t o = 0;
	ASN1_UTF8STRING *text = si ? sk_ASN1_UTF8STRING_value(si->statusString, 0) : NULL;

	for (int b = 0; si && si->failInfo && b <= CMP_FAIL_MAX && o < sizeof(bits) - 4; b++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, b))
			o += (size_t)snprintf(bits + o, sizeof(bits) - o, "%d,", b);
	snprintf(tx->detail, sizeof(tx->detail), "%s status %ld failInfo %s %.*s",
		 cmp_asn1_body_name(m->body->type), si ? ASN1_INTEGER_get(si->status) : -1L,
		 bits, text ? text->length : 0, text ? (const char *)text->data : "");
}

static int check_certrep(struct bench_trust *t, const CMPGW_MSG *m, struct bench_tx *tx,
			 EVP_PKEY *newkey)
{
	CMPGW_CERTREPMSG *rep = m->body->value.ip;
	CMPGW_CERTRESPONSE *r = sk_CMPGW_CERTRESPONSE_value(rep->response, 0);
	long st;

	if (sk_CMPGW_CERTRESPONSE_num(rep->response) != 1 || ASN1_INTEGER_get(r->certReqId) != 0)
		return BENCH_F_BODY;
	st = ASN1_INTEGER_get(r->status->status);
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_GRANTED_WITH_MODS) {
		describe(tx, m, r->status);
		return BENCH_F_STATUS;
	}
	if (!r->certifiedKeyPair ||
	    r->certifiedKeyPair->certOrEncCert->type != CMPGW_CERTORENC_CERT)
		return BENCH_F_BODY;
	X509 *cert = r->certifiedKeyPair->certOrEncCert->value.certificate;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), newkey) != 1)
		return BENCH_F_PUBKEY;
	if (!issued_ok(t, cert, m))
		return BENCH_F_UNTRUSTED;
	X509_free(tx->cert);
	tx->cert = X509_up_ref(cert) ? cert : NULL;
	return tx->cert ? BENCH_OK : BENCH_F_INTERNAL;
}

/* One definite-length TLV at p[0..n): header length and total length. */
static bool tlv(const unsigned char *p, size_t n, size_t *hl, size_t *tl)
{
	size_t len = 0, i = 2;

	if (n < 2)
		return false;
	if (p[1] < 0x80) {
		len = p[1];
	} else {
		size_t k = p[1] & 0x7f;
		if (k == 0 || k > 3 || n < 2 + k)
			return false;
		for (size_t j = 0; j < k; j++)
			len = len << 8 | p[2 + j];
		i += k;
	}
	if (len > n - i)
		return false;
	*hl = i;
	*tl = i + len;
	return true;
}

/* The certificate with exactly this DER: from the cache, else decoded and kept. */
static X509 *cert_get1(struct bench_trust *t, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	for (int i = 0; i < t->ndecoded; i++)
		if (t->decoded[i].len == len && memcmp(t->decoded[i].der, der, len) == 0)
			return X509_up_ref(t->decoded[i].x) ? t->decoded[i].x : NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {
		X509_free(x);
		return NULL;
	}
	if (t->ndecoded < DECODED_MAX) {
		struct decoded *d = &t->decoded[t->ndecoded];
		if ((d->der = OPENSSL_memdup(der, len)) != NULL && X509_up_ref(x)) {
			d->len = len;
			d->x = x;
			t->ndecoded++;
		} else {
			OPENSSL_free(d->der);
		}
	}
	return x;
}

/*
 * d2i_CMPGW_MSG with extraCerts taken from the cache: the message is
 * decoded without its extraCerts [1], which are looked up by DER.
 */
static CMPGW_MSG *decode(struct bench_trust *t, const unsigned char *der, size_t len)
{
	size_t hl, tl, off, ehl, etl;
	unsigned char *copy = NULL;
	const unsigned char *p;
	CMPGW_MSG *m = NULL;

	if (!tlv(der, len, &hl, &tl) || tl != len || der[0] != 0x30)
		return NULL;
	/* header, body, [0] protection: everything before [1] */
	off = hl;
	for (int i = 0; off < len; off += etl, i++) {
		if (!tlv(der + off, len - off, &ehl, &etl))
			return NULL;
		if (i >= 2 && der[off] == 0xa1) /* the body [1] (ip) is element 1 */
			break;
	}
	if (off == len) {
		p = der;
		m = d2i_CMPGW_MSG(NULL, &p, (long)len);
		return m && p == der + len ? m : (CMPGW_MSG_free(m), NULL);
	}
	if (off + etl != len || off - hl > 0xffff || !(copy = OPENSSL_malloc(off - hl + 4)))
		return NULL;
	copy[0] = 0x30, copy[1] = 0x82, copy[2] = (unsigned char)((off - hl) >> 8),
	copy[3] = (unsigned char)(off - hl);
	memcpy(copy + 4, der + hl, off - hl);
	p = copy;
	m = d2i_CMPGW_MSG(NULL, &p, (long)(off - hl + 4));
	bool ok = m && p == copy + off - hl + 4 && (m->extraCerts = sk_X509_new_null()) != NULL;
	OPENSSL_free(copy);
	/* [1] { SEQUENCE OF Certificate } */
	size_t s = off + ehl, shl, stl;
	ok = ok && tlv(der + s, len - s, &shl, &stl) && s + stl == len && der[s] == 0x30;
	for (size_t c = s + shl, chl, ctl; ok && c < len; c += ctl) {
		X509 *x = tlv(der + c, len - c, &chl, &ctl) ? cert_get1(t, der + c, ctl) : NULL;
		if (!x || !sk_X509_push(m->extraCerts, x)) {
			X509_free(x);
			ok = false;
		}
	}
	if (!ok) {
		CMPGW_MSG_free(m);
		return NULL;
	}
	return m;
}

int bench_msg_check(struct bench_trust *t, const unsigned char *der, size_t len,
		    struct bench_tx *tx, int want_body, EVP_PKEY *newkey)
{
	CMPGW_MSG *m = decode(t, der, len);
	CMPGW_HDR *h;
	X509 *signer;
	int rc = BENCH_F_DECODE;

	if (!m)
		goto out;
	h = m->header;
	/* RFC 9483 3.5: protection by a signer that chains to our trust anchor */
	rc = BENCH_F_PROTECTION;
	if (!(signer = find_signer(m)) || !m->protection ||
	    cmp_prot_verify_sig(der, len, m, signer) != 0)
		goto out;
	rc = BENCH_F_UNTRUSTED;
	if (!cached(t, signer) && !chain_ok(t, signer, m->extraCerts))
		goto out;
	rc = BENCH_F_TID;
	if (!octets_eq(h->transactionID, tx->tid, BENCH_NONCE_LEN))
		goto out;
	rc = BENCH_F_NONCE; /* RFC 4210 5.1.1: recipNonce echoes our senderNonce */
	if (!octets_eq(h->recipNonce, tx->nonce, BENCH_NONCE_LEN) || !h->senderNonce ||
	    h->senderNonce->length > BENCH_NONCE_LEN || h->senderNonce->length < 8)
		goto out;
	memcpy(tx->srv_nonce, h->senderNonce->data, (size_t)h->senderNonce->length);
	tx->srv_nonce_len = h->senderNonce->length;
	rc = BENCH_F_BODY;
	if (m->body->type != want_body) {
		if (m->body->type == CMP_BODY_ERROR)
			describe(tx, m, m->body->value.error->pKIStatusInfo);
		goto out;
	}
	rc = want_body == CMP_BODY_PKICONF ? BENCH_OK : check_certrep(t, m, tx, newkey);
out:
	CMPGW_MSG_free(m);
	return rc;
}

static ASN1_OCTET_STRING *octets_rand(unsigned char *keep)
{
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
	if (o && (RAND_bytes(keep, BENCH_NONCE_LEN) != 1 ||
		  !ASN1_OCTET_STRING_set(o, keep, BENCH_NONCE_LEN))) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

/* Header of a request from cert's subject with tx's tid and a new nonce. */
static int header(CMPGW_MSG *m, X509 *cert, struct bench_tx *tx, bool new_tid)
{
	CMPGW_HDR *h = m->header;

	ASN1_INTEGER_set(h->pvno, 2);
	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	h->sender = GENERAL_NAME_new();
	h->recipient = GENERAL_NAME_new();
	if (!h->sender || !h->recipient)
		return RC_NOMEM;
	GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME, X509_NAME_dup(X509_get_subject_name(cert)));
	GENERAL_NAME_set0_value(h->recipient, GEN_DIRNAME, X509_NAME_new());
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	if (new_tid && RAND_bytes(tx->tid, BENCH_NONCE_LEN) != 1)
		return RC_CRYPTO;
	h->transactionID = ASN1_OCTET_STRING_new();
	if (!h->transactionID || !ASN1_OCTET_STRING_set(h->transactionID, tx->tid, BENCH_NONCE_LEN))
		return RC_NOMEM;
	if (!(h->senderNonce = octets_rand(tx->nonce)))
		return RC_NOMEM;
	if (X509_get0_subject_key_id(cert))
		h->senderKID = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(cert));
	return h->messageTime ? 0 : RC_NOMEM;
}

/* oldCertID control (RFC 4211 6.5, RFC 9483 4.1.3) naming cert. */
static CMPGW_ATAV *old_cert_id(X509 *cert)
{
	CMPGW_CERTID *cid = CMPGW_CERTID_new();
	CMPGW_ATAV *a = CMPGW_ATAV_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char *der = NULL;
	int len;

	if (!cid || !a || !seq)
		goto err;
	GENERAL_NAME_free(cid->issuer);
	cid->issuer = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(cid->issuer, GEN_DIRNAME,
				X509_NAME_dup(X509_get_issuer_name(cert)));
	ASN1_INTEGER_free(cid->serialNumber);
	cid->serialNumber = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
	if ((len = i2d_CMPGW_CERTID(cid, &der)) <= 0)
		goto err;
	ASN1_STRING_set0(seq, der, len);
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->type = OBJ_txt2obj("1.3.6.1.5.5.7.5.1.5", 1);
	a->value = ASN1_TYPE_new();
	if (!a->type || !a->value)
		goto err;
	ASN1_TYPE_set(a->value, V_ASN1_SEQUENCE, seq);
	CMPGW_CERTID_free(cid);
	return a;
err:
	ASN1_STRING_free(seq);
	CMPGW_ATAV_free(a);
	CMPGW_CERTID_free(cid);
	return NULL;
}

/* SubjectPublicKeyInfo of key into *pk; for EC straight from the encoded
 * point, since X509_PUBKEY_set encodes and re-decodes through providers. */
static int set_pubkey(X509_PUBKEY **pk, EVP_PKEY *key)
{
	unsigned char *pt = NULL;
	size_t ptlen;
	char group[64];
	int nid;
	X509_PUBKEY *n;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL) ||
	    (nid = OBJ_txt2nid(group)) == NID_undef)
		return X509_PUBKEY_set(pk, key) ? 0 : RC_CRYPTO;
	if ((ptlen = EVP_PKEY_get1_encoded_public_key(key, &pt)) == 0 || !(n = X509_PUBKEY_new()))
		goto err;
	if (!X509_PUBKEY_set0_param(n, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				    OBJ_nid2obj(nid), pt, (int)ptlen)) {
		X509_PUBKEY_free(n);
		goto err;
	}
	X509_PUBKEY_free(*pk);
	*pk = n;
	return 0;
err:
	OPENSSL_free(pt);
	return RC_CRYPTO;
}

/* CertReqMsg with certReqId 0, publicKey of newkey, signature POP. */
static CMPGW_CERTREQMSG *certreqmsg(int body_type, X509 *cert, EVP_PKEY *newkey)
{
	CMPGW_CERTREQMSG *crm = CMPGW_CERTREQMSG_new();
	unsigned char *der = NULL;
	int len;

	if (!crm)
		return NULL;
	ASN1_INTEGER_set(crm->certReq->certReqId, 0);
	/* RFC 4211 4.1: without poposkInput the template names subject and key */
	crm->certReq->certTemplate->subject = X509_NAME_dup(X509_get_subject_name(cert));
	if (!crm->certReq->certTemplate->subject ||
	    set_pubkey(&crm->certReq->certTemplate->publicKey, newkey) != 0)
		goto err;
	if (body_type == CMP_BODY_KUR) {
		CMPGW_ATAV *oc = old_cert_id(cert);
		crm->certReq->controls = sk_CMPGW_ATAV_new_null();
		if (!oc || !crm->certReq->controls ||
		    !sk_CMPGW_ATAV_push(crm->certReq->controls, oc)) {
			CMPGW_ATAV_free(oc);
			goto err;
		}
	}
	/* RFC 4211 4.1: POP signature over the DER of certReq */
	crm->popo = CMPGW_POPO_new();
	if (!crm->popo)
		goto err;
	crm->popo->type = CMPGW_POPO_SIGNATURE;
	crm->popo->value.signature = CMPGW_POPOSIGNINGKEY_new();
	if (!crm->popo->value.signature || (len = i2d_CMPGW_CERTREQ(crm->certReq, &der)) <= 0)
		goto err;
	CMPGW_POPOSIGNINGKEY *sk = crm->popo->value.signature;
	if (cmp_sig_algor_for_key(newkey, sk->algorithmIdentifier) != 0 ||
	    cmp_sig_sign(newkey, sk->algorithmIdentifier, der, (size_t)len, sk->signature) != 0)
		goto err;
	OPENSSL_free(der);
	return crm;
err:
	OPENSSL_free(der);
	CMPGW_CERTREQMSG_free(crm);
	return NULL;
}

/* Add extraCerts, sign with key, encode. */
static int finish(CMPGW_MSG *m, X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key,
		  unsigned char **der, size_t *len)
{
	if (!(m->extraCerts = sk_X509_new_null()) || !X509_up_ref(cert))
		return RC_NOMEM;
	if (!sk_X509_push(m->extraCerts, cert)) {
		X509_free(cert);
		return RC_NOMEM;
	}
	if (cmp_build_extracerts_push1(m, chain) != 0)
		return RC_NOMEM;
	if (cmp_prot_sign(m, key) != 0)
		return RC_CRYPTO;
	return cmp_build_der(m, der, len) == 0 ? 0 : RC_NOMEM;
}

int bench_msg_certreq(int body_type, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		      EVP_PKEY *newkey, bool implicit, struct bench_tx *tx, unsigned char **der,
		      size_t *len)
{
	CMPGW_MSG *m = CMPGW_MSG_new();
	CMPGW_CERTREQMSG *crm = NULL;
	int rc = RC_NOMEM;

	if (!m || (rc = header(m, cert, tx, true)) != 0)
		goto out;
	rc = RC_NOMEM;
	if (implicit && cmp_build_implicit_confirm(m) != 0)
		goto out;
	m->body->type = body_type;
	m->body->value.ir = sk_CMPGW_CERTREQMSG_new_null();
	if (!m->body->value.ir || !(crm = certreqmsg(body_type, cert, newkey)))
		goto out;
	if (!sk_CMPGW_CERTREQMSG_push(m->body->value.ir, crm)) {
		CMPGW_CERTREQMSG_free(crm);
		goto out;
	}
	rc = finish(m, cert, chain, key, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}

int bench_msg_certconf(X509 *cert, EVP_PKEY *key, struct bench_tx *tx, unsigned char **der,
		       size_t *len)
{
	CMPGW_MSG *m = CMPGW_MSG_new();
	CMPGW_CERTSTATUS *cs = NULL;
	unsigned char hash[CMP_CERTHASH_MAX];
	unsigned int hlen = 0;
	int rc = RC_INVAL;

	if (!tx->cert || !m)
		goto out;
	if ((rc = header(m, cert, tx, false)) != 0)
		goto out;
	rc = RC_NOMEM;
	m->header->recipNonce = ASN1_OCTET_STRING_new();
	if (!m->header->recipNonce ||
	    !ASN1_OCTET_STRING_set(m->header->recipNonce, tx->srv_nonce, tx->srv_nonce_len))
		goto out;
	/* RFC 9810 5.3.18: certHash with the certificate's signature digest */
	if (cmp_certhash_compute(tx->cert, NULL, hash, &hlen) != 0) {
		rc = RC_CRYPTO;
		goto out;
	}
	m->body->type = CMP_BODY_CERTCONF;
	m->body->value.certConf = sk_CMPGW_CERTSTATUS_new_null();
	if (!m->body->value.certConf || !(cs = CMPGW_CERTSTATUS_new()) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, hash, (int)hlen) ||
	    !ASN1_INTEGER_set(cs->certReqId, 0) ||
	    !sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs)) {
		CMPGW_CERTSTATUS_free(cs);
		goto out;
	}
	rc = finish(m, cert, NULL, key, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}
