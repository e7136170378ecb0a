/*
 * test/fuzz/fuzz_fwd_answer.c - libFuzzer target for the check of an
 * upstream CA's answer in RA mode, ra_fwd_msg_verify (ra/fwd.h): the input
 * is what an upstream sent back, verified against a fixed upstream
 * configuration and a fixed expectation. Nothing may crash or leak, and
 * the verdict must hold together (see check_verdict): above all, a
 * certificate is only ever accepted for the key that was asked for.
 *
 * Input: one selector byte, then the answer's DER. The selector varies the
 * expectation so that every branch of the checks can be reached:
 *   bits 0-2  want: ip, cp, kup, rp, pkiConf (values 5-7 wrap around)
 *   bit 3     poll_ok: status waiting and pollRep are acceptable
 *   bit 4     nested style: the device's senderNonce is expected inside
 *   bit 5     the certificate's subject is checked too
 *   bit 6     the upstream is configured with the PBMAC shared secret
 *   bit 7     re-protect: the target decodes the answer, signs it (and the
 *             messages of a nested body) with the upstream's CMP signer key
 *             or MACs it with the shared secret, and verifies the result,
 *             so that mutated bodies get past the protection check
 *
 * The fixed configuration comes from test/fuzz/data/ (FWD_DATA_DIR, or the
 * environment variable CMPGW_FUZZ_DATA): root.pem is the trusted anchor,
 * signer.key the upstream's CMP signer, device.pem the certificate asked
 * for, upstream.secret the shared secret. test/fuzz/make_fwd_corpus.py
 * builds the seed corpus (corpus/fwd_answer/) from the same files, with
 * the transactionID and nonces below.
 *
 * Built with clang -fsanitize=fuzzer -DCMPGW_FUZZING_ENGINE; without a
 * fuzzing engine, main() below replays the files named on the command line
 * (the seed corpus; CMPGW_FUZZ_VERBOSE=1 prints each verdict). A libFuzzer
 * build, from the top of the tree:
 *
 *   CC=clang meson setup build-fz -Db_sanitize=address,undefined \
 *     -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
 *   ninja -C build-fz ra/libcmpgw_ra.a
 *   clang -O1 -g -fsanitize=fuzzer,address,undefined -DCMPGW_FUZZING_ENGINE \
 *     -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -std=c11 \
 *     -I. -I/usr/include/postgresql -DFWD_DATA_DIR="\"$PWD/test/fuzz/data\"" \
 *     test/fuzz/fuzz_fwd_answer.c build-fz/ra/libcmpgw_ra.a \
 *     build-fz/policy/libcmpgw_policy.a build-fz/store/libcmpgw_store.a \
 *     build-fz/cmp/libcmpgw_cmp.a build-fz/core/libcmpgw_core.a \
 *     $(pkg-config --libs libcrypto jansson libevent_core libevent_extra \
 *       libevent_pthreads libpq) -lpthread -o fuzz_fwd_answer
 *   mkdir -p /tmp/fwd && ./fuzz_fwd_answer /tmp/fwd test/fuzz/corpus/fwd_answer
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cmp/asn1.h"
#include "cmp/prot.h"
#include "core/cfg.h"
#include "ra/fwd.h"

#ifndef FWD_DATA_DIR
#define FWD_DATA_DIR "test/fuzz/data"
#endif

#define FWD_MAX_INPUT		 65536
#define MAX_NESTED		 4 /* inner messages re-protected */
#define REPROTECT_PBM_ITERATIONS CMP_PROT_PBM_MIN_ITERATIONS

enum {
	SEL_WANT = 0x07,
	SEL_POLL_OK = 0x08,
	SEL_NESTED = 0x10,
	SEL_SUBJECT = 0x20,
	SEL_PBMAC = 0x40,
	SEL_REPROTECT = 0x80,
};

/* make_fwd_corpus.py: TID, OUR_NONCE, DEV_NONCE */
static const unsigned char tid_bytes[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
					     0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const unsigned char our_nonce[16] = { 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
					     0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22 };
static const unsigned char dev_nonce[16] = { 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
					     0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33 };
static const int wants[] = { CMP_BODY_IP, CMP_BODY_CP, CMP_BODY_KUP, CMP_BODY_RP,
			     CMP_BODY_PKICONF };

/* The fixed upstream configuration, built once. */
struct fixture {
	struct cfg_upstream sig; /* answers signed by a signer chaining to root */
	struct cfg_upstream mac; /* answers MACed with the shared secret */
	X509 *device;		 /* the certificate asked for */
	EVP_PKEY *signer_key;	 /* re-protection */
	ASN1_OCTET_STRING *tid;
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_fwd_answer: %s %s\n", what, path);
	ERR_print_errors_fp(stderr);
	abort();
}

static FILE *open_data(const char *file)
{
	const char *dir = getenv("CMPGW_FUZZ_DATA");
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : FWD_DATA_DIR, file);
	if (!(f = fopen(path, "r")))
		die("cannot open", path);
	return f;
}

static X509 *load_cert(const char *file)
{
	FILE *f = open_data(file);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);

	fclose(f);
	if (!x)
		die("no certificate in", file);
	return x;
}

static EVP_PKEY *load_key(const char *file)
{
	FILE *f = open_data(file);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);

	fclose(f);
	if (!k)
		die("no private key in", file);
	return k;
}

/* The shared secret is the file's first line, as core/cfg.c reads it. */
static void load_secret(struct cfg_upstream *u, const char *file)
{
	FILE *f = open_data(file);
	char line[256];

	if (!fgets(line, sizeof(line), f))
		die("no secret in", file);
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	u->secret_len = strlen(line);
	if (!(u->secret = OPENSSL_memdup(line, u->secret_len)))
		die("out of memory for", file);
}

static STACK_OF(X509) *anchors(X509 *root)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (!sk || !X509_up_ref(root) || !sk_X509_push(sk, root))
		die("out of memory for", "anchors");
	return sk;
}

static const struct fixture *fixture_get(void)
{
	static struct fixture fx;
	static bool done;
	X509 *root;

	if (done)
		return &fx;
	root = load_cert("root.pem");
	fx.sig.trusted = anchors(root);
	fx.mac.trusted = anchors(root);
	X509_free(root);
	/* signer.pem has no CMP EKU: pinned (upstream.signer), so that the
	 * device-signed seeds must be, and are, refused */
	root = load_cert("signer.pem");
	fx.sig.signers = anchors(root);
	X509_free(root);
	load_secret(&fx.mac, "upstream.secret");
	fx.device = load_cert("device.pem");
	fx.signer_key = load_key("signer.key");
	if (!(fx.tid = ASN1_OCTET_STRING_new()) ||
	    !ASN1_OCTET_STRING_set(fx.tid, tid_bytes, sizeof(tid_bytes)))
		die("out of memory for", "tid");
	done = true;
	return &fx;
}

#ifndef CMPGW_FUZZING_ENGINE
static void fixture_free(void)
{
	struct fixture *fx = (struct fixture *)fixture_get();

	sk_X509_pop_free(fx->sig.trusted, X509_free);
	sk_X509_pop_free(fx->sig.signers, X509_free);
	sk_X509_pop_free(fx->mac.trusted, X509_free);
	OPENSSL_clear_free(fx->mac.secret, fx->mac.secret_len);
	X509_free(fx->device);
	EVP_PKEY_free(fx->signer_key);
	ASN1_OCTET_STRING_free(fx->tid);
}
#endif

static int protect(const struct fixture *fx, bool pbmac, CMPGW_MSG *m)
{
	if (pbmac)
		return cmp_prot_pbmac(m, fx->mac.secret, fx->mac.secret_len,
				      REPROTECT_PBM_ITERATIONS);
	return cmp_prot_sign(m, fx->signer_key);
}

/* The answer data[0..size) protected afresh (inner messages of a nested
 * body first), DER in *out (caller frees); 0, or -1 if it does not decode
 * or cannot be protected. */
static int reprotect(const struct fixture *fx, bool pbmac, const uint8_t *data, size_t size,
		     unsigned char **out, size_t *outlen)
{
	const unsigned char *p = data;
	CMPGW_MSG *m = d2i_CMPGW_MSG(NULL, &p, (long)size);
	int rc = -1, n;

	if (!m)
		goto out;
	if (m->body->type == CMP_BODY_NESTED) {
		for (int i = 0; i < sk_CMPGW_MSG_num(m->body->value.nested) && i < MAX_NESTED; i++)
			if (protect(fx, pbmac, sk_CMPGW_MSG_value(m->body->value.nested, i)) != 0)
				goto out;
	}
	if (protect(fx, pbmac, m) != 0)
		goto out;
	*out = NULL;
	if ((n = i2d_CMPGW_MSG(m, out)) <= 0)
		goto out;
	*outlen = (size_t)n;
	rc = 0;
out:
	ERR_clear_error();
	CMPGW_MSG_free(m);
	return rc;
}

static void broken(const char *what)
{
	fprintf(stderr, "fuzz_fwd_answer: inconsistent verdict: %s\n", what);
	abort();
}

/* What any verdict must satisfy, whatever the input. */
static void check_verdict(const struct ra_fwd_expect *e, const struct ra_fwd_verdict *v)
{
	if (v->bit != -1 && (!v->why || v->bit < 0 || v->bit > CMP_FAIL_MAX))
		broken("failure bit without text or out of range");
	if (v->bit != -1 && v->cert)
		broken("a certificate and a failure");
	if (v->relay_rp && !v->relay)
		broken("relay_rp without relay");
	if (v->waiting && (!e->poll_ok || v->poll_after_s < 1 || v->poll_after_s > 60))
		broken("waiting where polling is not allowed, or poll_after_s out of 1..60");
	if (v->nonce_len > sizeof(v->nonce))
		broken("nonce_len");
	if (!v->cert)
		return;
	if (v->relay || v->waiting)
		broken("a certificate and a relay or waiting");
	if (e->want != CMP_BODY_IP && e->want != CMP_BODY_CP && e->want != CMP_BODY_KUP)
		broken("a certificate for a request that asks for none");
	/* the point of the checks: only the key (and subject) asked for */
	if (EVP_PKEY_eq(X509_get0_pubkey(v->cert), e->pub) != 1)
		broken("certificate for another public key accepted");
	if (e->subject && X509_NAME_cmp(e->subject, X509_get_subject_name(v->cert)) != 0)
		broken("certificate with another subject accepted");
}

/* Replay (CMPGW_FUZZ_VERBOSE set): one line per input with its verdict. */
static void report(const char *name, uint8_t sel, const struct ra_fwd_verdict *v)
{
	const char *what = "accepted";

	if (v->cert)
		what = "certificate";
	else if (v->relay)
		what = v->relay_rp ? "relay (rp)" : "relay";
	else if (v->waiting)
		what = "waiting";
	else if (v->bit != -1)
		what = v->why;
	printf("%s: sel 0x%02x: %s%s\n", name, sel, what, v->implicit ? " (implicitConfirm)" : "");
}

static void one_input(const uint8_t *data, size_t size, const char *name)
{
	const struct fixture *fx = fixture_get();
	struct ra_fwd_verdict v;
	struct ra_fwd_expect e;
	unsigned char *der = NULL;
	size_t len;
	uint8_t sel;

	if (size < 1 || size > FWD_MAX_INPUT)
		return;
	sel = data[0];
	data++;
	size--;
	e = (struct ra_fwd_expect){
		.tid = fx->tid,
		.nonce = our_nonce,
		.inner_nonce = (sel & SEL_NESTED) ? dev_nonce : NULL,
		.inner_nonce_len = (sel & SEL_NESTED) ? sizeof(dev_nonce) : 0,
		.want = wants[(sel & SEL_WANT) % (sizeof(wants) / sizeof(wants[0]))],
		.poll_ok = (sel & SEL_POLL_OK) != 0,
		.pub = X509_get0_pubkey(fx->device),
		.subject = (sel & SEL_SUBJECT) ? X509_get_subject_name(fx->device) : NULL,
	};
	if ((sel & SEL_REPROTECT) &&
	    reprotect(fx, (sel & SEL_PBMAC) != 0, data, size, &der, &len) == 0) {
		data = der;
		size = len;
	}
	ra_fwd_msg_verify((sel & SEL_PBMAC) ? &fx->mac : &fx->sig, data, size, &e, &v);
	check_verdict(&e, &v);
	if (name)
		report(name, sel, &v);
	ra_fwd_verdict_clear(&v);
	OPENSSL_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_input(data, size, NULL);
	return 0;
}

#ifndef CMPGW_FUZZING_ENGINE
int main(int argc, char **argv)
{
	static unsigned char buf[FWD_MAX_INPUT + 1];
	bool verbose = getenv("CMPGW_FUZZ_VERBOSE") != NULL;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		one_input(buf, n, verbose ? argv[i] : NULL);
	}
	fixture_free();
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif
