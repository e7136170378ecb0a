/*
 * test/bench/bench_trust.c - strict validation of the answers the load
 * generator receives (see bench_msg.h), and what one client keeps between
 * answers so that a steady run does not repeat work whose result cannot
 * have changed:
 *
 * - decoded extraCerts and caPubs, by their exact DER (parsing only);
 * - validated signer chains, by the exact DER of the whole extraCerts field
 *   (signer and chain) plus the signer's position in it, until the earliest
 *   notAfter of the chain; the protection signature is verified on every
 *   answer all the same;
 * - the CA certificates of those validated chains, so that an issued
 *   certificate is checked against the CA that signed it: its signature,
 *   validity, critical extensions and public key, every time.
 *
 * Anything the fast path does not confirm (an unknown issuer, a name
 * constraint in the chain, another key encoding, an algorithm without a
 * plain digest) goes through the full path: d2i_X509 and X509_verify_cert,
 * exactly as before the caches. A failed decision is never cached.
 */
#include "test/bench/bench_msg.h"

#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "cmp/asn1.h"
#include "cmp/certhash.h"
#include "cmp/prot.h"
#include "cmp/sig.h"

_Static_assert(BENCH_HASH_MAX >= CMP_CERTHASH_MAX, "certHash fits in bench_tx");

/* Bounds: decoded certificates, validated signer chains, validated CAs. */
#define DECODED_MAX 64
#define SIGNERS_MAX 8
#define CAS_MAX	    16

struct bench_trust {
	X509_STORE *store;
	struct decoded { /* extraCerts and caPubs by exact DER */
		unsigned char *der;
		size_t len;
		X509 *x;
	} decoded[DECODED_MAX];
	int ndecoded;
	struct signer_ok {	    /* a validated signer chain */
		unsigned char *der; /* the whole extraCerts field [1] */
		size_t len;
		int signer; /* the signer's index in it */
		time_t until;
	} signers[SIGNERS_MAX];
	int nsigners, next_signer;
	struct ca_ok { /* a CA certificate on a validated chain */
		X509 *x;
		unsigned char *der, *subject; /* exact DER of the certificate, its subject */
		size_t len, subject_len;
		time_t until;	  /* earliest notAfter of it and the CAs above it */
		bool constrained; /* a nameConstraints on the way: full path only */
	} cas[CAS_MAX];
	int ncas;
	EVP_PKEY_CTX *keygen;
	EVP_MD *sha256, *sha384, *sha512;
	struct bench_trust_stats st;
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

	if (!t || !(t->store = X509_STORE_new()) || !X509_STORE_add_cert(t->store, root))
		goto err;
	/* fetched once: every request and answer of this client uses them */
	t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	t->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
	t->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	t->keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!t->sha256 || !t->sha384 || !t->sha512 || !t->keygen ||
	    EVP_PKEY_keygen_init(t->keygen) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(t->keygen, "P-256") <= 0)
		goto err;
	return t;
err:
	bench_trust_free(t);
	return NULL;
}

void bench_trust_free(struct bench_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	for (int i = 0; i < t->ndecoded; i++) {
		OPENSSL_free(t->decoded[i].der);
		X509_free(t->decoded[i].x);
	}
	for (int i = 0; i < t->nsigners; i++)
		OPENSSL_free(t->signers[i].der);
	for (int i = 0; i < t->ncas; i++) {
		X509_free(t->cas[i].x);
		OPENSSL_free(t->cas[i].der);
		OPENSSL_free(t->cas[i].subject);
	}
	EVP_PKEY_CTX_free(t->keygen);
	EVP_MD_free(t->sha256);
	EVP_MD_free(t->sha384);
	EVP_MD_free(t->sha512);
	OPENSSL_free(t);
}

void bench_trust_stats(const struct bench_trust *t, struct bench_trust_stats *st)
{
	*st = t->st;
}

EVP_PKEY *bench_msg_key_new(struct bench_trust *t)
{
	EVP_PKEY *k = NULL;
	return EVP_PKEY_generate(t->keygen, &k) > 0 ? k : NULL;
}

void bench_tx_clear(struct bench_tx *tx)
{
	X509_free(tx->cert);
	OPENSSL_free(tx->cert_der);
	OPENSSL_free(tx->spki);
	memset(tx, 0, sizeof(*tx));
}

X509 *bench_tx_cert_get1(struct bench_tx *tx)
{
	const unsigned char *p = tx->cert_der;

	if (!tx->cert && tx->cert_der) {
		tx->cert = d2i_X509(NULL, &p, (long)tx->cert_len);
		if (tx->cert && p != tx->cert_der + tx->cert_len) {
			X509_free(tx->cert);
			tx->cert = NULL;
		}
	}
	return tx->cert && X509_up_ref(tx->cert) ? tx->cert : NULL;
}

/* --- DER views ----------------------------------------------------------- */

/* A run of DER bytes; reading advances p. */
struct der {
	const unsigned char *p;
	size_t n;
};

/* The next definite-length TLV of d: its tag, the whole element and its
 * content. Lengths of up to 3 octets (16 MiB); single-octet tags only. */
static bool next(struct der *d, unsigned char *tag, struct der *el, struct der *in)
{
	size_t len = 0, hl = 2;

	if (d->n < 2 || (d->p[0] & 0x1f) == 0x1f)
		return false;
	if (d->p[1] < 0x80) {
		len = d->p[1];
	} else {
		size_t k = d->p[1] & 0x7f;
		if (k == 0 || k > 3 || d->n < 2 + k)
			return false;
		for (size_t j = 0; j < k; j++)
			len = len << 8 | d->p[2 + j];
		hl += k;
	}
	if (len > d->n - hl)
		return false;
	*tag = d->p[0];
	if (el)
		*el = (struct der){ d->p, hl + len };
	if (in)
		*in = (struct der){ d->p + hl, len };
	d->p += hl + len;
	d->n -= hl + len;
	return true;
}

/* The next element, which must have tag want. */
static bool expect(struct der *d, unsigned char want, struct der *el, struct der *in)
{
	unsigned char tag;
	struct der save = *d;

	if (next(d, &tag, el, in) && tag == want)
		return true;
	*d = save;
	return false;
}

static bool same(struct der a, const unsigned char *b, size_t n)
{
	return a.n == n && memcmp(a.p, b, n) == 0;
}

/* --- certificates ----------------------------------------------------------- */

/* The certificate with exactly this DER: from the cache, else decoded and kept. */
static X509 *cert_get1(struct bench_trust *t, struct der c)
{
	const unsigned char *p = c.p;
	X509 *x;

	for (int i = 0; i < t->ndecoded; i++)
		if (same(c, t->decoded[i].der, t->decoded[i].len))
			return X509_up_ref(t->decoded[i].x) ? t->decoded[i].x : NULL;
	x = d2i_X509(NULL, &p, (long)c.n);
	if (!x || p != c.p + c.n) {
		X509_free(x);
		return NULL;
	}
	if (t->ndecoded < DECODED_MAX) {
		struct decoded *d = &t->decoded[t->ndecoded];
		if ((d->der = OPENSSL_memdup(c.p, c.n)) != NULL && X509_up_ref(x)) {
			d->len = c.n;
			d->x = x;
			t->ndecoded++;
		} else {
			OPENSSL_free(d->der);
		}
	}
	return x;
}

/* SEQUENCE OF Certificate content into a new stack, through the cache. */
static STACK_OF(X509) *certs_get(struct bench_trust *t, struct der seq)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct der el;

	while (sk && seq.n > 0) {
		X509 *x = expect(&seq, 0x30, &el, NULL) ? cert_get1(t, el) : NULL;
		if (!x || !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
	}
	return sk;
}

static time_t time_of(const ASN1_TIME *a)
{
	struct tm tm;
	return ASN1_TIME_to_tm(a, &tm) ? timegm(&tm) : 0;
}

/* Remember the CA certificates of a validated chain (positions 1..n-1,
 * the trust anchor included); each with the earliest notAfter above it. */
static void cas_add(struct bench_trust *t, STACK_OF(X509) *chain)
{
	time_t until = 0;
	bool constrained = false;

	for (int i = sk_X509_num(chain) - 1; i >= 1; i--) {
		X509 *x = sk_X509_value(chain, i);
		time_t na = time_of(X509_get0_notAfter(x));
		unsigned char *der = NULL, *subj = NULL;
		int len = i2d_X509(x, &der), slen = i2d_X509_NAME(X509_get_subject_name(x), &subj);
		bool known = false;

		until = until == 0 || na < until ? na : until;
		constrained = constrained || X509_get_ext_by_NID(x, NID_name_constraints, -1) >= 0;
		for (int j = 0; j < t->ncas && len > 0; j++)
			known = known || (t->cas[j].len == (size_t)len &&
					  memcmp(t->cas[j].der, der, (size_t)len) == 0);
		if (known || len <= 0 || slen <= 0 || t->ncas >= CAS_MAX || na == 0 ||
		    !X509_up_ref(x)) {
			OPENSSL_free(der);
			OPENSSL_free(subj);
			continue;
		}
		t->cas[t->ncas++] = (struct ca_ok){ .x = x,
						    .der = der,
						    .len = (size_t)len,
						    .subject = subj,
						    .subject_len = (size_t)slen,
						    .until = until,
						    .constrained = constrained };
	}
}

/* Full path validation of x to the root (untrusted: helpers); on success
 * the chain's CAs are remembered and *until is the chain's earliest
 * notAfter. */
static bool chain_ok(struct bench_trust *t, X509 *x, STACK_OF(X509) *untrusted, time_t *until)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = ctx && X509_STORE_CTX_init(ctx, t->store, x, untrusted) &&
		  X509_verify_cert(ctx) == 1;

	if (ok) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
		*until = 0;
		for (int i = 0; i < sk_X509_num(chain); i++) {
			time_t na = time_of(X509_get0_notAfter(sk_X509_value(chain, i)));
			*until = *until == 0 || na < *until ? na : *until;
		}
		cas_add(t, chain);
	}
	X509_STORE_CTX_free(ctx);
	return ok;
}

/* --- the answer ------------------------------------------------------------ */

/* An answer as the client reads it. Certificates in extraCerts and caPubs
 * come from the cache; the issued certificate stays raw (cert). */
struct answer {
	CMPGW_MSG *m;	  /* header, protection and extraCerts only */
	int body;	  /* body type (its [n] tag) */
	struct der extra; /* the whole extraCerts field, or empty */
	/* ip/cp/kup */
	STACK_OF(X509) *capubs;
	int nresp;
	long cert_req_id;
	CMPGW_STATUSINFO *status;
	bool has_ckp, plain_cert; /* certifiedKeyPair; a certificate [0] in it */
	struct der cert;
	/* error */
	CMPGW_ERRORMSG *error;
};

static void answer_clear(struct answer *a)
{
	CMPGW_MSG_free(a->m);
	sk_X509_pop_free(a->capubs, X509_free);
	CMPGW_STATUSINFO_free(a->status);
	CMPGW_ERRORMSG_free(a->error);
}

/* CertRepMessage content (RFC 4210 5.3.4): caPubs [1] OPTIONAL, response. */
static bool parse_certrep(struct bench_trust *t, struct der rep, struct answer *a)
{
	struct der el, in, responses, r, ckp, coe;
	unsigned char tag;

	if (expect(&rep, 0xa1, NULL, &in)) {
		if (!expect(&in, 0x30, NULL, &el) || in.n || !(a->capubs = certs_get(t, el)))
			return false;
	}
	if (!expect(&rep, 0x30, NULL, &responses) || rep.n)
		return false;
	for (; responses.n > 0; a->nresp++) {
		if (!expect(&responses, 0x30, NULL, &r))
			return false;
		if (a->nresp > 0)
			continue; /* only the first is used; nresp != 1 is refused */
		const unsigned char *p = r.p;
		ASN1_INTEGER *id = d2i_ASN1_INTEGER(NULL, &p, (long)r.n);
		if (!id)
			return false;
		a->cert_req_id = ASN1_INTEGER_get(id);
		ASN1_INTEGER_free(id);
		r.n -= (size_t)(p - r.p);
		r.p = p;
		if (!(a->status = d2i_CMPGW_STATUSINFO(NULL, &p, (long)r.n)))
			return false;
		r.n -= (size_t)(p - r.p);
		r.p = p;
		if (expect(&r, 0x30, NULL, &ckp)) {
			a->has_ckp = true;
			if (!next(&ckp, &tag, NULL, &coe))
				return false;
			if (tag == 0xa0) { /* certificate [0] EXPLICIT Certificate */
				if (!expect(&coe, 0x30, &a->cert, NULL) || coe.n)
					return false;
				a->plain_cert = true;
			} else if (tag != 0xa1) { /* encryptedCert [1] */
				return false;
			}
			/* privateKey [0], publicationInfo [1]: optional, not used by a
			 * device that generated its own key */
			expect(&ckp, 0xa0, NULL, NULL);
			expect(&ckp, 0xa1, NULL, NULL);
			if (ckp.n)
				return false;
		}
		if (r.n && !expect(&r, 0x04, NULL, NULL)) /* rspInfo */
			return false;
		if (r.n)
			return false;
	}
	return true;
}

/* Split and decode der (RFC 4210 5.1: header, body, [0] protection,
 * [1] extraCerts). false: not a PKIMessage we can read. */
static bool parse(struct bench_trust *t, const unsigned char *der, size_t len, struct answer *a)
{
	struct der all = { der, len }, msg, hdr, body, in, prot = { 0 }, extra_in, certs;
	unsigned char tag;
	const unsigned char *p;

	if (!expect(&all, 0x30, NULL, &msg) || all.n || !expect(&msg, 0x30, &hdr, NULL) ||
	    !next(&msg, &tag, &body, &in) || (tag & 0xe0) != 0xa0)
		return false;
	a->body = tag & 0x1f;
	if (expect(&msg, 0xa0, NULL, &prot) && prot.n == 0)
		return false;
	if (expect(&msg, 0xa1, &a->extra, &extra_in) &&
	    (!expect(&extra_in, 0x30, NULL, &certs) || extra_in.n))
		return false;
	if (msg.n || !(a->m = CMPGW_MSG_new()))
		return false;
	p = hdr.p;
	CMPGW_HDR_free(a->m->header);
	if (!(a->m->header = d2i_CMPGW_HDR(NULL, &p, (long)hdr.n)) || p != hdr.p + hdr.n)
		return false;
	if (prot.n) {
		p = prot.p;
		if (!(a->m->protection = d2i_ASN1_BIT_STRING(NULL, &p, (long)prot.n)) ||
		    p != prot.p + prot.n)
			return false;
	}
	if (a->extra.n && !(a->m->extraCerts = certs_get(t, certs)))
		return false;
	switch (a->body) {
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
		return expect(&in, 0x30, NULL, &body) && !in.n && parse_certrep(t, body, a);
	case CMP_BODY_PKICONF:
		return in.n == 2 && in.p[0] == 0x05 && in.p[1] == 0x00;
	case CMP_BODY_ERROR:
		p = in.p;
		return (a->error = d2i_CMPGW_ERRORMSG(NULL, &p, (long)in.n)) && p == in.p + in.n;
	default:
		return true; /* refused as an unexpected body after the protection check */
	}
}

/* The extraCert whose subject is the header's sender (RFC 4210 5.1.1). */
static int find_signer(const CMPGW_MSG *m)
{
	const GENERAL_NAME *s = m->header->sender;
	for (int i = 0; i < sk_X509_num(m->extraCerts); i++) {
		X509 *x = sk_X509_value(m->extraCerts, i);
		if (s && s->type == GEN_DIRNAME &&
		    X509_NAME_cmp(s->d.directoryName, X509_get_subject_name(x)) == 0)
			return i;
	}
	return -1;
}

/* The signer chains to the root: from the cache (same extraCerts bytes,
 * same signer, chain not expired) or by full validation, then cached. */
static bool signer_ok(struct bench_trust *t, const struct answer *a, int si)
{
	time_t now = time(NULL), until = 0;
	struct signer_ok *s;

	for (int i = 0; i < t->nsigners; i++) {
		s = &t->signers[i];
		if (s->signer == si && s->until > now && same(a->extra, s->der, s->len)) {
			t->st.signer_hits++;
			return true;
		}
	}
	t->st.signer_validations++;
	if (!chain_ok(t, sk_X509_value(a->m->extraCerts, si), a->m->extraCerts, &until))
		return false;
	if (until <= now)
		return true; /* valid this second; not worth keeping */
	s = &t->signers[t->nsigners < SIGNERS_MAX ? t->nsigners++ : t->next_signer++ % SIGNERS_MAX];
	OPENSSL_free(s->der);
	*s = (struct signer_ok){ .der = OPENSSL_memdup(a->extra.p, a->extra.n),
				 .len = a->extra.n,
				 .signer = si,
				 .until = until };
	if (!s->der)
		s->len = 0; /* matches nothing (an empty field never reaches here) */
	return true;
}

static bool octets_eq(const ASN1_OCTET_STRING *o, const unsigned char *p, int n)
{
	return o && o->length == n && CRYPTO_memcmp(o->data, p, (size_t)n) == 0;
}

/* "<body> status <n> failInfo <bits> <text>" into tx->detail, for the log. */
static void describe(struct bench_tx *tx, int body, const CMPGW_STATUSINFO *si)
{
	char bits[96] = "";
	size_t o = 0;
	ASN1_UTF8STRING *text = si ? sk_ASN1_UTF8STRING_value(si->statusString, 0) : NULL;

	for (int b = 0; si && si->failInfo && b <= CMP_FAIL_MAX && o < sizeof(bits) - 4; b++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, b))
			o += (size_t)snprintf(bits + o, sizeof(bits) - o, "%d,", b);
	snprintf(tx->detail, sizeof(tx->detail), "%s status %ld failInfo %s %.*s",
		 cmp_asn1_body_name(body), si ? ASN1_INTEGER_get(si->status) : -1L, bits,
		 text ? text->length : 0, text ? (const char *)text->data : "");
}

/* certHash of the issued certificate for our certConf (RFC 9810 5.3.18:
 * the digest of its signature algorithm), from its DER. */
static bool hash_with(struct bench_tx *tx, const EVP_MD *md)
{
	unsigned int n = 0;
	if (!md || EVP_Digest(tx->cert_der, tx->cert_len, tx->cert_hash, &n, md, NULL) != 1)
		return false;
	tx->cert_hash_len = n;
	return true;
}

/*
 * The fast path for the issued certificate c: it parses as a v3
 * certificate whose issuer is, byte for byte, the subject of a CA on a
 * validated chain (not expired, no name constraints), whose signature
 * verifies under that CA's key, which is valid now, whose critical
 * extensions are all ones OpenSSL's path validation knows, and whose
 * SubjectPublicKeyInfo is byte for byte the one we sent. Then tx gets its
 * DER and certHash. false: not confirmed, take the full path.
 */
static bool issued_fast(struct bench_trust *t, struct der c, struct bench_tx *tx)
{
	struct der cert = c, whole, tbs_el, tbs, alg_el, sig_el, v, in, ialg, issuer, validity,
		   spki, exts;
	const unsigned char *p;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	ASN1_TIME *nb = NULL, *na = NULL;
	const struct ca_ok *ca = NULL;
	const EVP_MD *md = NULL;
	time_t now = time(NULL);
	int mdnid = NID_undef;
	bool ok = false;

	if (!tx->spki || !expect(&cert, 0x30, &whole, &in) || cert.n ||
	    !expect(&in, 0x30, &tbs_el, &tbs) || !expect(&in, 0x30, &alg_el, NULL) ||
	    !expect(&in, 0x03, &sig_el, NULL) || in.n)
		return false;
	/* TBSCertificate (RFC 5280 4.1): version [0] v3, serial, signature,
	 * issuer, validity, subject, subjectPublicKeyInfo, UIDs, extensions [3] */
	if (!expect(&tbs, 0xa0, NULL, &v) || v.n != 3 || memcmp(v.p, "\x02\x01\x02", 3) ||
	    !expect(&tbs, 0x02, NULL, NULL) || !expect(&tbs, 0x30, &ialg, NULL) ||
	    !same(ialg, alg_el.p, alg_el.n) || !expect(&tbs, 0x30, &issuer, NULL) ||
	    !expect(&tbs, 0x30, NULL, &validity) || !expect(&tbs, 0x30, NULL, NULL) ||
	    !expect(&tbs, 0x30, &spki, NULL) || !same(spki, tx->spki, tx->spki_len))
		return false;
	expect(&tbs, 0x81, NULL, NULL); /* issuerUniqueID, subjectUniqueID: optional */
	expect(&tbs, 0x82, NULL, NULL);
	if (!expect(&tbs, 0xa3, NULL, &v) || tbs.n || !expect(&v, 0x30, NULL, &exts) || v.n)
		return false;
	for (int i = 0; i < t->ncas && !ca; i++)
		if (same(issuer, t->cas[i].subject, t->cas[i].subject_len) &&
		    !t->cas[i].constrained && t->cas[i].until > now)
			ca = &t->cas[i];
	if (!ca)
		return false;
	/* every critical extension must be one path validation understands */
	while (exts.n > 0) {
		struct der ext;
		X509_EXTENSION *e;
		if (!expect(&exts, 0x30, &ext, NULL))
			return false;
		p = ext.p;
		e = d2i_X509_EXTENSION(NULL, &p, (long)ext.n);
		bool known = e && p == ext.p + ext.n &&
			     (!X509_EXTENSION_get_critical(e) || X509_supported_extension(e));
		X509_EXTENSION_free(e);
		if (!known)
			return false;
	}
	p = validity.p;
	if (!(nb = d2i_ASN1_TIME(NULL, &p, (long)validity.n)) ||
	    !(na = d2i_ASN1_TIME(NULL, &p, (long)(validity.p + validity.n - p))) ||
	    p != validity.p + validity.n || X509_cmp_time(nb, &now) >= 0 ||
	    X509_cmp_time(na, &now) <= 0)
		goto out;
	p = alg_el.p;
	if (!(alg = d2i_X509_ALGOR(NULL, &p, (long)alg_el.n)))
		goto out;
	p = sig_el.p;
	if (!(sig = d2i_ASN1_BIT_STRING(NULL, &p, (long)sig_el.n)))
		goto out;
	/* the digest for certHash: only the algorithms that name one plainly */
	if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &mdnid, NULL))
		goto out;
	md = mdnid == NID_sha256   ? t->sha256
	     : mdnid == NID_sha384 ? t->sha384
	     : mdnid == NID_sha512 ? t->sha512
				   : NULL;
	if (!md || cmp_sig_verify(alg, sig, tbs_el.p, tbs_el.n, X509_get0_pubkey(ca->x)) != 0)
		goto out;
	if (!(tx->cert_der = OPENSSL_memdup(whole.p, whole.n)))
		goto out;
	tx->cert_len = whole.n;
	ok = hash_with(tx, md);
out:
	if (!ok) {
		OPENSSL_free(tx->cert_der);
		tx->cert_der = NULL;
	}
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	X509_ALGOR_free(alg);
	ASN1_BIT_STRING_free(sig);
	return ok;
}

/* The full path for the issued certificate: decode it, compare keys,
 * validate its path to the root with extraCerts and caPubs as helpers. */
static int issued_full(struct bench_trust *t, const struct answer *a, struct bench_tx *tx,
		       EVP_PKEY *newkey)
{
	const unsigned char *p = a->cert.p;
	X509 *cert = d2i_X509(NULL, &p, (long)a->cert.n);
	STACK_OF(X509) *untrusted = NULL;
	unsigned int hlen = 0;
	time_t until;
	int rc = BENCH_F_DECODE;

	if (!cert || p != a->cert.p + a->cert.n)
		goto out;
	rc = BENCH_F_PUBKEY;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), newkey) != 1)
		goto out;
	rc = BENCH_F_INTERNAL;
	if (!(untrusted = a->m->extraCerts ? sk_X509_dup(a->m->extraCerts) : sk_X509_new_null()))
		goto out;
	for (int i = 0; i < sk_X509_num(a->capubs); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(a->capubs, i)))
			goto out;
	rc = BENCH_F_UNTRUSTED;
	if (!chain_ok(t, cert, untrusted, &until))
		goto out;
	rc = BENCH_F_INTERNAL;
	if (!(tx->cert_der = OPENSSL_memdup(a->cert.p, a->cert.n)))
		goto out;
	tx->cert_len = a->cert.n;
	if (cmp_certhash_compute(cert, NULL, tx->cert_hash, &hlen) != 0)
		goto out;
	tx->cert_hash_len = hlen;
	tx->cert = cert;
	cert = NULL;
	rc = BENCH_OK;
out:
	sk_X509_free(untrusted);
	X509_free(cert);
	return rc;
}

static int check_certrep(struct bench_trust *t, const struct answer *a, struct bench_tx *tx,
			 EVP_PKEY *newkey)
{
	long st;

	if (a->nresp != 1 || a->cert_req_id != 0)
		return BENCH_F_BODY;
	st = ASN1_INTEGER_get(a->status->status);
	if (st != CMP_STATUS_ACCEPTED && st != CMP_STATUS_GRANTED_WITH_MODS) {
		describe(tx, a->body, a->status);
		return BENCH_F_STATUS;
	}
	if (!a->has_ckp || !a->plain_cert)
		return BENCH_F_BODY;
	X509_free(tx->cert);
	OPENSSL_free(tx->cert_der);
	tx->cert = NULL;
	tx->cert_der = NULL;
	tx->cert_hash_len = 0;
	if (issued_fast(t, a->cert, tx)) {
		t->st.issued_fast++;
		return BENCH_OK;
	}
	t->st.issued_full++;
	return issued_full(t, a, tx, newkey);
}

int bench_msg_check(struct bench_trust *t, const unsigned char *der, size_t len,
		    struct bench_tx *tx, int want_body, EVP_PKEY *newkey)
{
	struct answer a = { 0 };
	CMPGW_HDR *h;
	int rc = BENCH_F_DECODE, si;

	if (!parse(t, der, len, &a))
		goto out;
	h = a.m->header;
	/* RFC 9483 3.5: protection by a signer that chains to our trust anchor */
	rc = BENCH_F_PROTECTION;
	if ((si = find_signer(a.m)) < 0 || !a.m->protection ||
	    cmp_prot_verify_sig(der, len, a.m, sk_X509_value(a.m->extraCerts, si)) != 0)
		goto out;
	rc = BENCH_F_UNTRUSTED;
	if (!signer_ok(t, &a, si))
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
	if (a.body != want_body) {
		if (a.body == CMP_BODY_ERROR)
			describe(tx, a.body, a.error->pKIStatusInfo);
		goto out;
	}
	rc = want_body == CMP_BODY_PKICONF ? BENCH_OK : check_certrep(t, &a, tx, newkey);
out:
	answer_clear(&a);
	return rc;
}
