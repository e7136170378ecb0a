/*
 * test/fuzz/fuzz_ra.c - libFuzzer target over the whole request handler:
 * the input is the body of one HTTP POST, handed to ra_submit (ra/pipeline.h)
 * on a worker whose store is the in-memory fake (test/unit/ra/fake_store.h),
 * and the event loop runs until nothing is left. Then, when the input
 * decodes and its protecting certificate is one whose key the fixture
 * holds (or it is PBMAC-protected), it is protected afresh (inner messages
 * of a nested body first) and submitted again on a fresh store: mutations
 * then get past the protection check into the steps behind it. Whatever
 * the input: nothing crashes or leaks, the sink gets exactly one answer,
 * an answer is a DER PKIMessage, and no store callback is left queued.
 *
 * The fixed configuration is test/fuzz/data/ra/ (RA_DATA_DIR, or the
 * environment variable CMPGW_FUZZ_RA_DATA): alias "3gpp" in CA mode with
 * vendor certificates and tokens, vendor "fuzzvendor" (id 1) with its root
 * as anchor and its device CA as intermediate. Each input gets a fresh
 * store seeded with: serials FUZZ-0001 allowed, FUZZ-0002 blocked
 * (FUZZ-0003 is unknown); op-dev.pem, the operator certificate of
 * FUZZ-0001, active (kur, rr); token 00112233445566778899aabbccddeeff
 * (secret in make_ra_data.sh); and a transaction template, so that a
 * certConf or pollReq with any transactionID finds an issued transaction
 * for op-dev.pem (no sender, nonce or certReqId stored: NULL in SQL terms,
 * which passes those checks). test/fuzz/make_ra_data.sh makes the keys and
 * the seed corpus (corpus/ra/: what devices send, from `openssl cmp` and
 * test/client/cmpreq).
 *
 * Built with clang -fsanitize=fuzzer -DCMPGW_FUZZING_ENGINE; without a
 * fuzzing engine, main() below replays the files named on the command line
 * (CMPGW_FUZZ_VERBOSE=1 prints what each got). A libFuzzer build, from the
 * top of the tree (the recipe of fuzz_fwd_answer.c, plus the fake store):
 *
 *   CC=clang meson setup build-fz -Db_sanitize=address,undefined \
 *     -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
 *   ninja -C build-fz ra/libcmpgw_ra.a
 *   clang -O1 -g -fsanitize=fuzzer,address,undefined -DCMPGW_FUZZING_ENGINE \
 *     -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -std=c11 \
 *     -I. -I/usr/include/postgresql -DRA_DATA_DIR="\"$PWD/test/fuzz/data/ra\"" \
 *     test/fuzz/fuzz_ra.c test/unit/ra/fake_store.c build-fz/ra/libcmpgw_ra.a \
 *     build-fz/policy/libcmpgw_policy.a build-fz/store/libcmpgw_store.a \
 *     build-fz/cmp/libcmpgw_cmp.a build-fz/core/libcmpgw_core.a \
 *     $(pkg-config --libs libcrypto libssl jansson libevent_core libevent_extra \
 *       libevent_pthreads libpq) -lpthread -o fuzz_ra
 *   mkdir -p /tmp/ra && ./fuzz_ra -max_len=16384 /tmp/ra test/fuzz/corpus/ra
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
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "test/unit/ra/fake_store.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif

#define RA_MAX_INPUT 65536 /* http.max_body's default */

static void broken(const char *what)
{
	fprintf(stderr, "fuzz_ra: %s\n", what);
	abort();
}

static struct fake_env *env_get(void)
{
	static struct fake_env env;
	static bool done;
	const char *dir = getenv("CMPGW_FUZZ_RA_DATA");

	if (done)
		return &env;
	log_setup(getenv("CMPGW_FUZZ_VERBOSE") ? LOG_INFO : LOG_ERROR, false, 2);
	if (fake_env_open(&env, dir ? dir : RA_DATA_DIR) != 0) {
		ERR_print_errors_fp(stderr);
		abort();
	}
	done = true;
	return &env;
}

static const char *what_name(int what)
{
	static const char *const names[] = { "answer", "not CMP", "failed", "dropped", "busy" };
	return what >= 0 && what <= RA_SINK_BUSY ? names[what] : "?";
}

/* The signers whose keys the fixture holds (data/ra/): a mutated message
 * signed by one of them is signed again with its key, so that mutations
 * get past the protection check (like fuzz_fwd_answer's re-protect). */
static const char *const signer_files[][2] = {
	{ "dev-1.pem", "dev-1.key" },	{ "dev-2.pem", "dev-2.key" },
	{ "dev-3.pem", "dev-3.key" },	{ "dev-noserial.pem", "dev-noserial.key" },
	{ "op-dev.pem", "op-dev.key" }, { "ra.pem", "ra.key" },
	{ "rogue.pem", "rogue.key" },
};
#define N_SIGNERS (sizeof(signer_files) / sizeof(signer_files[0]))

static struct {
	X509 *cert[N_SIGNERS];
	EVP_PKEY *key[N_SIGNERS];
	bool loaded;
} signers;

static void *load_pem(const char *file, bool key)
{
	const char *dir = getenv("CMPGW_FUZZ_RA_DATA");
	char path[4096];
	FILE *f;
	void *x = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : RA_DATA_DIR, file);
	if ((f = fopen(path, "r"))) {
		x = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
			: (void *)PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!x)
		broken(path);
	return x;
}

static void signers_load(void)
{
	if (signers.loaded)
		return;
	for (size_t i = 0; i < N_SIGNERS; i++) {
		signers.cert[i] = load_pem(signer_files[i][0], false);
		signers.key[i] = load_pem(signer_files[i][1], true);
	}
	signers.loaded = true;
}

/* data[0..size) decoded and protected afresh: signed with the key of its
 * first extraCerts certificate when the fixture has it, or MACed with the
 * token secret when it is PBMAC-protected (the inner messages of a nested
 * body first). 0 with *out (OPENSSL_malloc'd), or -1. */
static int reprotect(const uint8_t *data, size_t size, unsigned char **out, size_t *outlen)
{
	const unsigned char *p = data;
	CMPGW_MSG *m = d2i_CMPGW_MSG(NULL, &p, (long)size);
	int rc = -1, n;

	signers_load();
	if (!m)
		goto out;
	/* inner messages first: the outer protection covers them */
	int inner = m->body->type == CMP_BODY_NESTED ? sk_CMPGW_MSG_num(m->body->value.nested) : 0;
	for (int i = inner < 4 ? inner : 4; i >= 0; i--) {
		CMPGW_MSG *x = i == 0 ? m : sk_CMPGW_MSG_value(m->body->value.nested, i - 1);
		X509 *first = x->extraCerts ? sk_X509_value(x->extraCerts, 0) : NULL;
		EVP_PKEY *key = NULL;
		if (cmp_prot_is_pbmac(x)) {
			if (cmp_prot_pbmac(x, (const unsigned char *)FAKE_TOKEN_SECRET,
					   strlen(FAKE_TOKEN_SECRET),
					   CMP_PROT_PBM_MIN_ITERATIONS) != 0)
				goto out;
			continue;
		}
		for (size_t k = 0; first && k < N_SIGNERS && !key; k++)
			if (X509_cmp(first, signers.cert[k]) == 0)
				key = signers.key[k];
		if (!key || cmp_prot_sign(x, key) != 0)
			goto out;
	}
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

/* One request on a fresh store, and what must hold whatever it was. */
static void submit_checked(struct fake_env *e, const uint8_t *data, size_t size, const char *name)
{
	struct fake_answer ans = { 0 };
	unsigned char *copy;

	/* the pipeline borrows the body until delivery: an exact-size copy
	 * lets the address sanitizer see any read past it */
	if (!(copy = malloc(size ? size : 1)))
		return;
	memcpy(copy, data, size);
	/* a fresh store, and fresh per-peer bounds: an input's outcome must
	 * not depend on the ones before it */
	if (fake_env_reset(e, true) != 0)
		broken("cannot reset the store");

	fake_env_submit(e, "3gpp", copy, size, &ans);

	if (ans.n != 1)
		broken(ans.n ? "more than one answer" : "no answer");
	if (fake_store_pending(e->fs) != 0)
		broken("a store callback still queued after the loop ended");
	if (ans.what == RA_SINK_ANSWER) {
		const unsigned char *p = ans.der;
		CMPGW_MSG *m = ans.der ? d2i_CMPGW_MSG(NULL, &p, (long)ans.len) : NULL;
		if (!m || p != ans.der + ans.len)
			broken("the answer is not one DER PKIMessage");
		if (name)
			printf("%s: %s %s (%zu bytes)%s\n", name, what_name(ans.what),
			       cmp_asn1_body_name(m->body->type), ans.len,
			       ans.continues ? ", continues" : "");
		CMPGW_MSG_free(m);
	} else if (ans.what != RA_SINK_NOT_CMP) {
		broken("the sink got neither an answer nor HTTP 400"); /* no drops, no OOM here */
	} else if (name) {
		printf("%s: %s\n", name, what_name(ans.what));
	}
	fake_answer_clear(&ans);
	free(copy);
	ERR_clear_error();
}

/* The input as received, then re-protected when the fixture can. */
static void one_input(const uint8_t *data, size_t size, const char *name)
{
	struct fake_env *e = env_get();
	unsigned char *der = NULL;
	size_t len = 0;
	char name2[4200];

	if (size > RA_MAX_INPUT)
		return;
	submit_checked(e, data, size, name);
	if (reprotect(data, size, &der, &len) == 0) {
		if (name)
			snprintf(name2, sizeof(name2), "%s (re-protected)", name);
		submit_checked(e, der, len, name ? name2 : NULL);
		OPENSSL_free(der);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_input(data, size, NULL);
	return 0;
}

#ifndef CMPGW_FUZZING_ENGINE
int main(int argc, char **argv)
{
	static unsigned char buf[RA_MAX_INPUT + 1];
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
	fake_env_close(env_get());
	for (size_t i = 0; i < N_SIGNERS && signers.loaded; i++) {
		X509_free(signers.cert[i]);
		EVP_PKEY_free(signers.key[i]);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif
