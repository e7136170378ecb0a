/*
 * test/unit/bench/test_bench_msg.c - the load generator validates answers
 * like a strict device: crafted responses with a bad protection, a wrong
 * recipNonce or transactionID, an untrusted signer or issuer, a foreign
 * public key, a rejection or an error body must each be refused with the
 * precise reason; a correct ip/pkiConf pair must pass. Its caches must
 * not change a verdict: a signer certificate or chain that differs in one
 * byte is validated again, and an issued certificate the fast path cannot
 * confirm (unknown critical extension, expired) goes the full way.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "cmp/asn1.h"
#include "cmp/build.h"
#include "cmp/prot.h"
#include "test/bench/bench_msg.h"
#include "test/unit/tap.h"

struct ca {
	X509 *cert;
	EVP_PKEY *key;
};

/* The operator PKI as a server sees it, plus a look-alike under a foreign root. */
struct pki {
	struct ca root, issuing, signer;
	struct ca evil_root, evil_issuing, evil_signer;
	struct ca vendor, device;
};

static void mk(struct ca *c, const char *subject, bool ca, const struct ca *issuer)
{
	struct cmd_pki_spec spec = { .subject = subject,
				     .days = 30,
				     .backdate_s = 60,
				     .ca = ca,
				     .pathlen = -1,
				     .key_usage = ca ? "critical,keyCertSign,cRLSign"
						     : "critical,digitalSignature" };
	c->key = cmd_pki_key_new();
	c->cert = cmd_pki_cert_new(&spec, c->key, issuer ? issuer->cert : NULL,
				   issuer ? issuer->key : c->key);
}

static void pki_make(struct pki *p)
{
	mk(&p->root, "CN=Op Root", true, NULL);
	mk(&p->issuing, "CN=Op Issuing", true, &p->root);
	mk(&p->signer, "CN=Op CMP", false, &p->issuing);
	/* same names, other keys: only the chain tells them apart */
	mk(&p->evil_root, "CN=Op Root", true, NULL);
	mk(&p->evil_issuing, "CN=Op Issuing", true, &p->evil_root);
	mk(&p->evil_signer, "CN=Op CMP", false, &p->evil_issuing);
	mk(&p->vendor, "CN=Vendor CA", true, NULL);
	p->device.key = cmd_pki_key_new();
	p->device.cert = cmd_pki_device_cert_new("DEV-1", "Acme", p->device.key, p->vendor.cert,
						 p->vendor.key);
}

static void ca_free(struct ca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

/* How a crafted answer deviates from a correct one. */
struct twist {
	int body;	     /* 0: ip */
	int status;	     /* PKIStatus */
	bool bad_protection; /* flip a signature bit */
	bool evil_signer;    /* signed by the look-alike chain */
	bool evil_issuer;    /* certificate issued by the look-alike CA */
	EVP_PKEY *cert_key;  /* certify this key instead of the requested one */
	bool capubs;	     /* caPubs = the root, as cmpgw sends */
	bool bad_signer_sig; /* the signer certificate's own signature broken */
	bool foreign_chain;  /* the real signer, sent with the look-alike CA */
	bool critical_ext;   /* issued certificate has an unknown critical extension */
	bool expired;	     /* issued certificate expired yesterday */
};

/* A copy of x with one bit of its signature flipped. */
static X509 *broken_sig(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der);
	X509 *y = NULL;

	if (len > 0) {
		der[len - 3] ^= 0x01;
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	return y;
}

/* Add an unknown critical extension to cert and sign it again. */
static bool add_unknown_critical(X509 *cert, EVP_PKEY *issuer_key)
{
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	bool ok = oid && v && ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2) &&
		  (e = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, v)) &&
		  X509_add_ext(cert, e, -1) && X509_sign(cert, issuer_key, EVP_sha256()) > 0;
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(oid);
	return ok;
}

static CMPGW_MSG *decode(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	return d2i_CMPGW_MSG(NULL, &p, (long)len);
}

/* The server's answer to the request req_der, twisted as told. */
static int answer(const struct pki *p, const unsigned char *req_der, size_t req_len,
		  const struct twist *tw, EVP_PKEY *newkey, unsigned char **der, size_t *len)
{
	CMPGW_MSG *req = decode(req_der, req_len), *rsp = NULL;
	const struct ca *signer = tw->evil_signer ? &p->evil_signer : &p->signer;
	const struct ca *issuer = tw->evil_issuer ? &p->evil_issuing : &p->issuing;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *cert = NULL, *signer_cert = tw->bad_signer_sig ? broken_sig(signer->cert) : NULL;
	int rc = -1;

	sk_X509_push(chain, signer_cert ? signer_cert : signer->cert);
	sk_X509_push(chain,
		     tw->evil_signer || tw->foreign_chain ? p->evil_issuing.cert : p->issuing.cert);
	if (!req || !(rsp = cmp_build_response(req, signer->cert, tw->body)))
		goto out;
	if (tw->body == CMP_BODY_IP) {
		struct cmd_pki_spec spec = { .subject = "CN=DEV-1",
					     .days = tw->expired ? -1 : 30,
					     .backdate_s = tw->expired ? 3 * 86400 : 60,
					     .pathlen = -1 };
		cert = cmd_pki_cert_new(&spec, tw->cert_key ? tw->cert_key : newkey, issuer->cert,
					issuer->key);
		if (tw->critical_ext && !add_unknown_critical(cert, issuer->key))
			goto out;
		CMPGW_STATUSINFO *si = cmp_build_statusinfo(tw->status, -1, NULL);
		if (cmp_build_certrep_add(rsp, 0, si, tw->status == 2 ? NULL : cert) != 0)
			goto out;
		if (tw->capubs && cmp_build_capubs_push1(rsp, p->root.cert) != 0)
			goto out;
	}
	if (cmp_build_extracerts_push1(rsp, chain) != 0 || cmp_prot_sign(rsp, signer->key) != 0)
		goto out;
	if (tw->bad_protection)
		rsp->protection->data[rsp->protection->length / 2] ^= 0x10;
	rc = cmp_build_der(rsp, der, len);
out:
	X509_free(cert);
	X509_free(signer_cert);
	sk_X509_free(chain);
	CMPGW_MSG_free(req);
	CMPGW_MSG_free(rsp);
	return rc;
}

/* A fresh ir, its twisted answer, and the client's verdict. */
static int ir_verdict(struct bench_trust *t, const struct pki *p, const struct twist *tw,
		      void (*mangle)(struct bench_tx *))
{
	struct bench_tx tx = { 0 };
	EVP_PKEY *newkey = cmd_pki_key_new();
	unsigned char *req = NULL, *rsp = NULL;
	size_t rlen = 0, slen = 0;
	int v = -1;

	if (bench_msg_certreq(CMP_BODY_IR, p->device.cert, p->device.key, NULL, newkey, false, &tx,
			      &req, &rlen) == 0 &&
	    answer(p, req, rlen, tw, newkey, &rsp, &slen) == 0) {
		if (mangle)
			mangle(&tx);
		v = bench_msg_check(t, rsp, slen, &tx, CMP_BODY_IP, newkey);
	}
	OPENSSL_free(req);
	OPENSSL_free(rsp);
	bench_tx_clear(&tx);
	EVP_PKEY_free(newkey);
	return v;
}

static void other_nonce(struct bench_tx *tx)
{
	tx->nonce[3] ^= 0x01;
}

static void other_tid(struct bench_tx *tx)
{
	tx->tid[0] ^= 0x80;
}

/* ir -> ip -> certConf -> pkiConf, each answer checked; certConf content checked too. */
static void full_flow(struct bench_trust *t, const struct pki *p)
{
	struct bench_tx tx = { 0 };
	EVP_PKEY *newkey = cmd_pki_key_new();
	unsigned char *req = NULL, *rsp = NULL, *conf = NULL, *ack = NULL;
	size_t rlen = 0, slen = 0, clen = 0, alen = 0;
	struct twist ip = { .body = CMP_BODY_IP }, pc = { .body = CMP_BODY_PKICONF };
	CMPGW_MSG *m = NULL;

	ok(bench_msg_certreq(CMP_BODY_IR, p->device.cert, p->device.key, NULL, newkey, false, &tx,
			     &req, &rlen) == 0 &&
		   answer(p, req, rlen, &ip, newkey, &rsp, &slen) == 0,
	   "ir and its ip are made");
	is_int(bench_msg_check(t, rsp, slen, &tx, CMP_BODY_IP, newkey), BENCH_OK,
	       "a correct ip is accepted");
	X509 *issued = bench_tx_cert_get1(&tx);
	ok(issued && EVP_PKEY_eq(X509_get0_pubkey(issued), newkey) == 1,
	   "the issued certificate is kept");
	struct bench_trust_stats st;
	bench_trust_stats(t, &st);
	ok(st.signer_validations == 1 && st.signer_hits == 0 && st.issued_fast == 1 &&
		   st.issued_full == 0,
	   "first answer: signer chain validated in full; the certificate against its CA");
	ok(bench_msg_certconf(p->device.cert, p->device.key, &tx, &conf, &clen) == 0,
	   "certConf is made");
	m = decode(conf, clen);
	ok(m && m->body->type == CMP_BODY_CERTCONF && m->header->recipNonce &&
		   m->header->recipNonce->length == tx.srv_nonce_len &&
		   memcmp(m->header->recipNonce->data, tx.srv_nonce, (size_t)tx.srv_nonce_len) == 0,
	   "certConf echoes the ip's senderNonce as recipNonce");
	ok(m && m->header->transactionID && memcmp(m->header->transactionID->data, tx.tid, 16) == 0,
	   "certConf keeps the transactionID");
	unsigned char *idr = NULL, h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	int il = issued ? i2d_X509(issued, &idr) : 0;
	CMPGW_CERTSTATUS *cs = m ? sk_CMPGW_CERTSTATUS_value(m->body->value.certConf, 0) : NULL;
	ok(il > 0 && EVP_Digest(idr, (size_t)il, h, &hl, EVP_sha256(), NULL) && cs &&
		   cs->certHash->length == (int)hl && memcmp(cs->certHash->data, h, hl) == 0,
	   "certConf's certHash is the SHA-256 of the issued certificate");
	OPENSSL_free(idr);
	X509_free(issued);
	ok(answer(p, conf, clen, &pc, NULL, &ack, &alen) == 0, "pkiConf is made");
	is_int(bench_msg_check(t, ack, alen, &tx, CMP_BODY_PKICONF, NULL), BENCH_OK,
	       "a correct pkiConf is accepted");
	bench_trust_stats(t, &st);
	ok(st.signer_validations == 1 && st.signer_hits == 1,
	   "the same signer and chain again: found validated");
	is_int(bench_msg_check(t, rsp, slen, &tx, CMP_BODY_PKICONF, NULL), BENCH_F_NONCE,
	       "the ip replayed as answer to certConf: wrong recipNonce");
	CMPGW_MSG_free(m);
	OPENSSL_free(req);
	OPENSSL_free(rsp);
	OPENSSL_free(conf);
	OPENSSL_free(ack);
	bench_tx_clear(&tx);
	EVP_PKEY_free(newkey);
}

int main(void)
{
	struct pki p = { 0 };
	struct bench_trust *t;
	EVP_PKEY *stranger = cmd_pki_key_new();

	pki_make(&p);
	t = bench_trust_new(p.root.cert);
	ok(t && p.device.cert && p.evil_signer.cert, "fixtures");

	full_flow(t, &p);
	/* the cache now holds the real signer and CA: refusals must still happen */
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .bad_protection = true },
			  NULL),
	       BENCH_F_PROTECTION, "bad protection signature is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP }, other_nonce),
	       BENCH_F_NONCE, "recipNonce other than our senderNonce is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP }, other_tid), BENCH_F_TID,
	       "other transactionID is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .evil_signer = true }, NULL),
	       BENCH_F_UNTRUSTED, "signer chaining to a look-alike root is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .evil_issuer = true }, NULL),
	       BENCH_F_UNTRUSTED, "certificate from a look-alike CA is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .cert_key = stranger },
			  NULL),
	       BENCH_F_PUBKEY, "certificate for another key is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .status = 2 }, NULL),
	       BENCH_F_STATUS, "rejection status is a failure");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_ERROR }, NULL), BENCH_F_BODY,
	       "error body where ip was expected is a failure");

	/* the caches, warm with the real chain, must not change a verdict */
	struct bench_trust_stats s0, s1;
	bench_trust_stats(t, &s0);
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .bad_signer_sig = true },
			  NULL),
	       BENCH_F_UNTRUSTED,
	       "signer certificate with a broken signature (same key) is refused");
	bench_trust_stats(t, &s1);
	is_int(s1.signer_validations - s0.signer_validations, 1,
	       "a changed signer certificate does not hit the cache: validated in full");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .foreign_chain = true },
			  NULL),
	       BENCH_F_UNTRUSTED, "the real signer sent with a look-alike chain is refused");
	bench_trust_stats(t, &s0);
	is_int(s0.signer_validations - s1.signer_validations, 1,
	       "a changed chain does not hit the cache: validated in full");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .critical_ext = true },
			  NULL),
	       BENCH_F_UNTRUSTED,
	       "issued certificate with an unknown critical extension is refused");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .expired = true }, NULL),
	       BENCH_F_UNTRUSTED, "expired issued certificate is refused");
	bench_trust_stats(t, &s1);
	is_int(s1.issued_full - s0.issued_full, 2, "both went the full way");
	is_int(ir_verdict(t, &p, &(struct twist){ .body = CMP_BODY_IP, .capubs = true }, NULL),
	       BENCH_OK, "ip with caPubs (the root) is accepted");
	bench_trust_stats(t, &s0);
	is_int(s0.issued_fast - s1.issued_fast, 1, "through the fast path");
	is_int(s0.signer_hits - s1.signer_hits, 1, "with the cached signer chain");

	struct bench_trust *fresh = bench_trust_new(p.root.cert);
	is_int(ir_verdict(fresh, &p, &(struct twist){ .body = CMP_BODY_IP, .evil_signer = true },
			  NULL),
	       BENCH_F_UNTRUSTED, "untrusted signer refused with an empty cache");
	is_int(ir_verdict(fresh, &p, &(struct twist){ .body = CMP_BODY_IP }, NULL), BENCH_OK,
	       "then the real chain is accepted");
	struct bench_tx tx = { 0 };
	is_int(bench_msg_check(fresh, (const unsigned char *)"\x30\x03\x02\x01\x00", 5, &tx,
			       CMP_BODY_IP, stranger),
	       BENCH_F_DECODE, "garbage is a decode failure");
	ok(strcmp(bench_fail_name(BENCH_F_NONCE), "nonce") == 0, "failure names");

	bench_trust_free(fresh);
	bench_trust_free(t);
	EVP_PKEY_free(stranger);
	struct ca *all[] = { &p.root,	      &p.issuing,     &p.signer, &p.evil_root,
			     &p.evil_issuing, &p.evil_signer, &p.vendor, &p.device };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		ca_free(all[i]);
	return tap_done();
}
