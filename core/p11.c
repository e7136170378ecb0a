/*
 * core/p11.c - PKCS#11 keys through libp11's engine (core/p11.h).
 *
 * Built with the deprecated OpenSSL API enabled (core/meson.build): the
 * ENGINE calls and the EC_KEY_METHOD/RSA_METHOD of the front keys exist
 * only there. Nothing else in cmpgw sees them.
 *
 * Locking: p->lock is a writer-preferring rwlock. Signers hold it shared
 * while they use a token key (libp11 0.4.12 hands each concurrent signer
 * its own PKCS#11 session from a per-slot pool under a mutex and condition
 * variable, p11_slot.c pkcs11_get_session, so concurrent signatures are
 * safe); loading and re-initialising hold it exclusively, so no token key
 * is freed under a signer. p->mu guards the lost/next_try state only.
 */
#include "core/p11.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "core/file.h"
#include "core/log.h"

#define P11_URI_MAX 1024
#define P11_PIN_MAX 256
/* PKCS#11 2.40 return values the load errors name */
#define CKR_PIN_INCORRECT 0xA0
#define CKR_PIN_INVALID	  0xA1
#define CKR_PIN_LEN_RANGE 0xA2
#define CKR_PIN_EXPIRED	  0xA3
#define CKR_PIN_LOCKED	  0xA4

/* One token key named by a URI, shared by its front keys (a reload naming
 * the same URI gets a new front on the same entry); freed with the last
 * front, so that a re-initialisation looks only for keys still in use. */
struct p11_key {
	struct p11_key *next;
	struct p11 *p;
	char *uri;
	EVP_PKEY *tok; /* the engine's key; NULL while the token is lost */
	int refs;      /* fronts (atomic) */
};

struct p11 {
	pthread_rwlock_t lock; /* shared: signing; exclusive: (re)loading */
	pthread_mutex_t mu;    /* lost, next_try */
	ENGINE *e;	       /* structural reference */
	bool e_up;	       /* and a functional one (ENGINE_init) */
	char *module;	       /* NULL = the engine's default */
	char *pin_file, *pin_env;
	struct p11_key *keys;
	EC_KEY_METHOD *ec_meth;
	RSA_METHOD *rsa_meth;
	int ec_idx, rsa_idx; /* ex_data of a front: its struct p11_key */
	bool lost;
	bool atexit_set; /* p11_atexit registered */
	time_t next_try;
	time_t fail_logged; /* last "re-initialising failed" line (under lock) */
};

/* The process's one engine context: see core/p11.h for why it is global. */
static struct p11 *the_p11;
static pthread_mutex_t the_p11_mu = PTHREAD_MUTEX_INITIALIZER;

static void fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- the engine ---- */

/* libp11 loads the module lazily and only prints why it could not: try
 * it here to name the reason. */
static int module_check(const char *module, char *err, size_t len)
{
	void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);

	if (!h || !dlsym(h, "C_GetFunctionList")) {
		fail(err, len, "PKCS#11 module %s: %s", module,
		     h ? "not a PKCS#11 module (no C_GetFunctionList)" : dlerror());
		if (h)
			dlclose(h);
		return RC_CONFIG;
	}
	dlclose(h);
	return 0;
}

/* A fresh libp11 engine (its own PKCS#11 context) for module. */
static ENGINE *engine_new(const char *module, char *err, size_t len)
{
	char so[PATH_MAX];
	ENGINE *e = ENGINE_by_id("dynamic");

	snprintf(so, sizeof(so), "%s/pkcs11.so", OPENSSL_info(OPENSSL_INFO_ENGINES_DIR));
	if (!e || !ENGINE_ctrl_cmd_string(e, "SO_PATH", so, 0) ||
	    !ENGINE_ctrl_cmd_string(e, "ID", "pkcs11", 0) ||
	    !ENGINE_ctrl_cmd_string(e, "LIST_ADD", "0", 0) ||
	    !ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0)) {
		fail(err, len, "cannot load libp11's engine %s (package libengine-pkcs11-openssl)",
		     so);
		ENGINE_free(e);
		return NULL;
	}
	/* libp11 would print its diagnostics on stderr: we name them ourselves */
	if (!ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 0) ||
	    (module && !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0)) || !ENGINE_init(e)) {
		fail(err, len, "cannot initialise libp11's engine");
		ENGINE_free(e);
		return NULL;
	}
	return e;
}

/* The PIN from pin_file (first line) or the environment into pin (the
 * caller cleanses it). 0 or RC_CONFIG with the reason in err. */
static int pin_read(const struct p11 *p, char *pin, size_t max, char *err, size_t len)
{
	char msg[PATH_MAX + 128];
	const char *v;

	if (p->pin_file) {
		if (file_read_private_line(p->pin_file, pin, max, msg, sizeof(msg)) != 0) {
			fail(err, len, "pkcs11.pin_file: %s", msg);
			return RC_CONFIG;
		}
		return 0;
	}
	if (!p->pin_env) {
		fail(err, len, "no PIN configured: set pkcs11.pin_file or pkcs11.pin_env");
		return RC_CONFIG;
	}
	if (!(v = getenv(p->pin_env)) || !*v || strlen(v) >= max) {
		fail(err, len, "pkcs11.pin_env: the environment variable %s is %s", p->pin_env,
		     !v	   ? "not set"
		     : !*v ? "empty"
			   : "too long");
		return RC_CONFIG;
	}
	memcpy(pin, v, strlen(v) + 1);
	return 0;
}

/* A reload naming a key already loaded does not log in again: check at
 * least that its PIN can still be read (a re-initialisation will need it). */
static int pin_check(const struct p11 *p, char *err, size_t len)
{
	char pin[P11_PIN_MAX];
	int rc = pin_read(p, pin, sizeof(pin), err, len);

	OPENSSL_cleanse(pin, sizeof(pin));
	return rc;
}

/* The PKCS#11 return value libp11 left on the error queue (its reason
 * codes are CK_RVs), or 0. Clears the queue. */
static unsigned long ckr_pin_error(void)
{
	unsigned long e, found = 0;

	while ((e = ERR_get_error()) != 0) {
		unsigned long r = (unsigned long)ERR_GET_REASON(e);
		if (r >= CKR_PIN_INCORRECT && r <= CKR_PIN_LOCKED)
			found = r;
	}
	return found;
}

static const char *ckr_pin_name(unsigned long r)
{
	switch (r) {
	case CKR_PIN_INCORRECT:
		return "the token refused the PIN (CKR_PIN_INCORRECT)";
	case CKR_PIN_INVALID:
		return "the token refused the PIN (CKR_PIN_INVALID)";
	case CKR_PIN_LEN_RANGE:
		return "the token refused the PIN (CKR_PIN_LEN_RANGE)";
	case CKR_PIN_EXPIRED:
		return "the token's PIN has expired (CKR_PIN_EXPIRED)";
	default:
		return "the token's PIN is locked (CKR_PIN_LOCKED)";
	}
}

/* ---- URIs ---- */

/* Where the value of attribute name ("pin-value", "module-path") starts
 * in uri, or NULL (RFC 7512 2.3: path attributes split by ';', query
 * attributes after '?' split by '&'). */
static const char *uri_find(const char *uri, const char *name)
{
	size_t nl = strlen(name);
	const char *s = uri + 7; /* after "pkcs11:" */

	for (;;) {
		if (strncmp(s, name, nl) == 0 && s[nl] == '=')
			return s + nl + 1;
		s += strcspn(s, ";?&");
		if (!*s++)
			return NULL;
	}
}

/* name's value percent-decoded into buf; false if absent or too long. */
static bool uri_attr(const char *uri, const char *name, char *buf, size_t len)
{
	const char *s = uri_find(uri, name);
	size_t o = 0;
	unsigned int c;

	if (!s)
		return false;
	for (; *s && !strchr(";?&", *s); s++) {
		if (o + 1 >= len)
			return false;
		if (*s == '%' && sscanf(s + 1, "%2x", &c) == 1) {
			buf[o++] = (char)c;
			s += 2;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return true;
}

/* ---- naming a missing token ---- */

/* The first entries of the PKCS#11 function list (PKCS#11 2.40 section
 * 5.2, an ABI fixed since 2.01), all that the diagnosis below calls. */
struct ck_functions {
	unsigned char version[2];
	unsigned long (*initialize)(void *);
	unsigned long (*finalize)(void *);
	unsigned long (*get_info)(void *);
	unsigned long (*get_function_list)(void *);
	unsigned long (*get_slot_list)(unsigned char present, unsigned long *slots,
				       unsigned long *count);
	unsigned long (*get_slot_info)(unsigned long slot, void *info);
	unsigned long (*get_token_info)(unsigned long slot, void *info);
};

#define CK_MAX_SLOTS 64

/* After a failed load, while libp11 holds the module initialised: whether
 * a token labelled label is present (CK_TOKEN_INFO starts with the label,
 * 32 bytes padded with blanks). "..." lists the labels found in names.
 * 1 present, 0 absent, -1 no module path to ask, -2 the module cannot
 * list its tokens (not initialised, or its server unreachable). */
static int token_present(const char *module, const char *label, char *names, size_t len)
{
	unsigned long (*get_list)(struct ck_functions **);
	unsigned long slots[CK_MAX_SLOTS], n = CK_MAX_SLOTS;
	struct ck_functions *f = NULL;
	unsigned char info[1024]; /* CK_TOKEN_INFO is ~210 bytes on LP64 */
	void *h = module ? dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) : NULL;
	int found = -2;
	size_t o = 0;

	names[0] = '\0';
	if (!h)
		return -1;
	*(void **)&get_list = dlsym(h, "C_GetFunctionList");
	/* no C_Initialize: libp11 did it, and a C_Finalize here would end its
	 * sessions; CKR_CRYPTOKI_NOT_INITIALIZED just means "cannot tell" */
	if (get_list && get_list(&f) == 0 && f && f->get_slot_list(1, slots, &n) == 0) {
		found = 0;
		for (unsigned long i = 0; i < n && i < CK_MAX_SLOTS; i++) {
			int l = 32;
			if (f->get_token_info(slots[i], info) != 0)
				continue;
			while (l > 0 && info[l - 1] == ' ')
				l--;
			if ((size_t)l == strlen(label) && memcmp(info, label, (size_t)l) == 0)
				found = 1;
			if (l > 0 && o < len) /* not an uninitialised token's blank label */
				o += (size_t)snprintf(names + o, len - o, "%s\"%.*s\"",
						      o ? ", " : "", l, (const char *)info);
		}
	}
	dlclose(h);
	return found;
}

/* Why uri matched no key: its token missing, or the object. */
static void name_missing(const struct p11 *p, const char *uri, char *err, size_t len)
{
	char label[128], names[256];
	int t = uri_attr(uri, "token", label, sizeof(label))
			? token_present(p->module, label, names, sizeof(names))
			: -1;

	if (t == 0)
		fail(err, len, "%s: no token labelled \"%s\" (tokens present: %s)", uri, label,
		     names[0] ? names : "none");
	else if (t == -2)
		fail(err, len,
		     "%s: no private key object matches (the module cannot list its "
		     "tokens: is the token reachable?)",
		     uri);
	else
		fail(err, len, "%s: no private key object matches", uri);
}

/* Log in with the configured PIN and load uri's private key from p->e.
 * Caller holds p->lock exclusively. */
static EVP_PKEY *token_key_load(struct p11 *p, const char *uri, char *err, size_t len)
{
	char pin[P11_PIN_MAX];
	EVP_PKEY *k = NULL;
	unsigned long ckr;

	if (pin_read(p, pin, sizeof(pin), err, len) != 0)
		goto out;
	ERR_clear_error();
	if (!ENGINE_ctrl_cmd_string(p->e, "PIN", pin, 0)) {
		fail(err, len, "%s: the engine refused the PIN setting", uri);
		goto out;
	}
	k = ENGINE_load_private_key(p->e, uri, NULL, NULL);
	if ((ckr = ckr_pin_error()) != 0) {
		fail(err, len, "%s: %s", uri, ckr_pin_name(ckr));
		EVP_PKEY_free(k);
		k = NULL;
	} else if (!k) {
		name_missing(p, uri, err, len);
	} else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC &&
		   EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		fail(err, len, "%s: only RSA and EC token keys are supported", uri);
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	ERR_clear_error();
	return k;
}

/* ---- losing and finding the token again ---- */

static void mark_lost(struct p11 *p)
{
	pthread_mutex_lock(&p->mu);
	if (!p->lost) {
		p->lost = true;
		p->next_try = now_s() + P11_RETRY_S;
		log_error(NULL,
			  "pkcs11: a signature failed: the token is treated as lost, "
			  "re-initialising it in %d s",
			  P11_RETRY_S);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Re-initialise the module and find every key again: dropping the
 * engine's only functional reference makes libp11 release its slots and
 * C_Finalize the module; the next key load initialises it again (for a
 * network HSM's client library, that is when it reconnects). Caller holds
 * p->lock exclusively. 0 or RC_UNAVAIL. */
static int reinit_locked(struct p11 *p)
{
	char err[512];

	for (struct p11_key *k = p->keys; k; k = k->next) {
		EVP_PKEY_free(k->tok);
		k->tok = NULL;
	}
	if (p->e_up)
		ENGINE_finish(p->e); /* libp11: release the slots, C_Finalize */
	if (!(p->e_up = ENGINE_init(p->e) == 1)) {
		/* keep the structural reference: p->e stays usable for the next try */
		snprintf(err, sizeof(err), "cannot initialise libp11's engine again");
		goto fail;
	}
	for (struct p11_key *k = p->keys; k; k = k->next)
		if (!(k->tok = token_key_load(p, k->uri, err, sizeof(err))))
			goto fail;
	p->fail_logged = 0;
	return 0;
fail:
	/* one line a minute while a token stays away, not one a second */
	if (now_s() - p->fail_logged >= 60) {
		p->fail_logged = now_s();
		log_error(NULL,
			  "pkcs11: re-initialising the token failed: %s (retrying every %d s)", err,
			  P11_RETRY_S);
	}
	ERR_clear_error();
	return RC_UNAVAIL;
}

/* Whether the token may be used now; when it was lost and the retry time
 * has come, this thread re-initialises it (the others fail fast). */
static bool ready(struct p11 *p)
{
	bool try = false, ok;

	pthread_mutex_lock(&p->mu);
	ok = !p->lost;
	if (p->lost && now_s() >= p->next_try) {
		p->next_try = now_s() + P11_RETRY_S;
		try = true;
	}
	pthread_mutex_unlock(&p->mu);
	if (!try)
		return ok;
	pthread_rwlock_wrlock(&p->lock);
	ok = reinit_locked(p) == 0;
	pthread_rwlock_unlock(&p->lock);
	if (ok) {
		pthread_mutex_lock(&p->mu);
		p->lost = false;
		pthread_mutex_unlock(&p->mu);
		log_warn(NULL, "pkcs11: the token answers again");
	}
	return ok;
}

/* ---- the front keys: the token key's public half, signing forwarded ---- */

static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
			      const BIGNUM *r, EC_KEY *eckey)
{
	struct p11_key *k = EC_KEY_get_ex_data(eckey, the_p11->ec_idx);
	ECDSA_SIG *sig = NULL;

	(void)kinv, (void)r;
	if (!k || !ready(k->p))
		return NULL;
	pthread_rwlock_rdlock(&k->p->lock);
	if (k->tok) /* libp11's EC_KEY_METHOD does not write to the key */
		sig = ECDSA_do_sign(dgst, dlen, (EC_KEY *)EVP_PKEY_get0_EC_KEY(k->tok));
	pthread_rwlock_unlock(&k->p->lock);
	if (!sig)
		mark_lost(k->p);
	return sig;
}

static int rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			int padding)
{
	struct p11_key *k = RSA_get_ex_data(rsa, the_p11->rsa_idx);
	int n = -1;

	if (!k || !ready(k->p))
		return -1;
	pthread_rwlock_rdlock(&k->p->lock);
	if (k->tok)
		n = RSA_private_encrypt(flen, from, to, (RSA *)EVP_PKEY_get0_RSA(k->tok), padding);
	pthread_rwlock_unlock(&k->p->lock);
	if (n < 0)
		mark_lost(k->p);
	return n;
}

/* Front keys sign, they never decrypt. */
static int rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			int padding)
{
	(void)flen, (void)from, (void)to, (void)rsa, (void)padding;
	return -1;
}

static EVP_PKEY *front_ec(struct p11 *p, struct p11_key *k)
{
	const EC_KEY *t = EVP_PKEY_get0_EC_KEY(k->tok);
	EC_KEY *ec = EC_KEY_new();
	EVP_PKEY *f = NULL;

	if (!t || !ec || !EC_KEY_get0_public_key(t) || !EC_KEY_set_method(ec, p->ec_meth) ||
	    !EC_KEY_set_group(ec, EC_KEY_get0_group(t)) ||
	    !EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(t)) || !(f = EVP_PKEY_new()) ||
	    !EVP_PKEY_assign_EC_KEY(f, ec)) {
		EVP_PKEY_free(f);
		EC_KEY_free(ec);
		return NULL;
	}
	/* last: a front freed before this has no entry to release */
	if (!EC_KEY_set_ex_data(ec, p->ec_idx, k)) {
		EVP_PKEY_free(f);
		return NULL;
	}
	__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return f;
}

static EVP_PKEY *front_rsa(struct p11 *p, struct p11_key *k)
{
	const RSA *t = EVP_PKEY_get0_RSA(k->tok);
	RSA *rsa = RSA_new();
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *f = NULL;

	if (!t || !rsa || !RSA_get0_n(t) || !RSA_get0_e(t) || !RSA_set_method(rsa, p->rsa_meth) ||
	    !(n = BN_dup(RSA_get0_n(t))) || !(e = BN_dup(RSA_get0_e(t))) ||
	    !RSA_set0_key(rsa, n, e, NULL))
		goto err;
	n = e = NULL;
	RSA_set_flags(rsa, RSA_FLAG_EXT_PKEY); /* the private half is elsewhere */
	if (!(f = EVP_PKEY_new()) || !EVP_PKEY_assign_RSA(f, rsa))
		goto err;
	/* last: a front freed before this has no entry to release */
	if (!RSA_set_ex_data(rsa, p->rsa_idx, k)) {
		EVP_PKEY_free(f);
		return NULL;
	}
	__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return f;
err:
	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(f);
	RSA_free(rsa);
	return NULL;
}

/* Unlink and free k. Caller holds p->lock exclusively. */
static void entry_free(struct p11 *p, struct p11_key *k)
{
	for (struct p11_key **pp = &p->keys; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	EVP_PKEY_free(k->tok);
	free(k->uri);
	free(k);
}

/* ex_data callbacks of the fronts' EC_KEY/RSA (argp: the struct p11). A
 * front is freed with the config snapshot that held it: when it was the
 * entry's last, the entry goes. Never called with p->lock held: fronts are
 * freed outside this module, or here before their ex_data is set. */
static void front_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct p11_key *k = ptr;
	struct p11 *p = argp;

	(void)parent, (void)ad, (void)idx, (void)argl;
	if (!k || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	pthread_rwlock_wrlock(&p->lock);
	if (__atomic_load_n(&k->refs, __ATOMIC_ACQUIRE) == 0) /* not revived by a load */
		entry_free(p, k);
	pthread_rwlock_unlock(&p->lock);
}

/* OpenSSL copies the pointer of a duplicated key's ex_data: count it. */
static int front_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
		     long argl, void *argp)
{
	struct p11_key *k = *from_d;

	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	if (k)
		__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return 1;
}

/* ---- the process's engine context ---- */

static void p11_free(struct p11 *p)
{
	struct p11_key *k, *next;

	if (!p)
		return;
	/* fronts still alive (a snapshot not freed) no longer call back */
	if (p->ec_idx >= 0)
		CRYPTO_free_ex_index(CRYPTO_EX_INDEX_EC_KEY, p->ec_idx);
	if (p->rsa_idx >= 0)
		CRYPTO_free_ex_index(CRYPTO_EX_INDEX_RSA, p->rsa_idx);
	for (k = p->keys; k; k = next) {
		next = k->next;
		EVP_PKEY_free(k->tok);
		free(k->uri);
		free(k);
	}
	if (p->e_up)
		ENGINE_finish(p->e); /* libp11: release the slots, C_Finalize */
	ENGINE_free(p->e);
	EC_KEY_METHOD_free(p->ec_meth);
	RSA_meth_free(p->rsa_meth);
	free(p->module);
	free(p->pin_file);
	free(p->pin_env);
	pthread_rwlock_destroy(&p->lock);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* At exit, after main has freed its config snapshots (their front keys
 * point into the_p11) and before OpenSSL's own atexit cleanup (registered
 * earlier, so run later). Registered after the module's first
 * C_Initialize: modules in C++ (SoftHSM2) register their singletons'
 * destructors then, and those must run after this, not before. */
static void p11_atexit(void)
{
	p11_free(the_p11);
	the_p11 = NULL;
}

static struct p11 *p11_new(const char *module, char *err, size_t len)
{
	struct p11 *p = calloc(1, sizeof(*p));
	pthread_rwlockattr_t a;
	int (*sign)(int, const unsigned char *, int, unsigned char *, unsigned int *,
		    const BIGNUM *, const BIGNUM *, EC_KEY *) = NULL;
	int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	if (!p)
		return NULL;
	p->ec_idx = EC_KEY_get_ex_new_index(0, p, NULL, front_dup, front_free);
	p->rsa_idx = RSA_get_ex_new_index(0, p, NULL, front_dup, front_free);
	/* a re-initialisation must not starve behind a stream of signers */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&p->lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&p->mu, NULL);
	EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), &sign, &setup, NULL);
	if (p->ec_idx < 0 || p->rsa_idx < 0 || (module && !(p->module = strdup(module))) ||
	    !(p->ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) ||
	    !(p->rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL())) ||
	    !RSA_meth_set1_name(p->rsa_meth, "cmpgw pkcs11 front") ||
	    !RSA_meth_set_priv_enc(p->rsa_meth, rsa_priv_enc) ||
	    !RSA_meth_set_priv_dec(p->rsa_meth, rsa_priv_dec)) {
		fail(err, len, "out of memory");
		p11_free(p);
		return NULL;
	}
	EC_KEY_METHOD_set_sign(p->ec_meth, sign, setup, ec_sign_sig);
	if ((module && module_check(module, err, len) != 0) ||
	    !(p->e = engine_new(module, err, len))) {
		p11_free(p);
		return NULL;
	}
	p->e_up = true;
	return p;
}

/* The process's context, created on first use; NULL with err if it cannot
 * be, or if module differs from the one it was created with. */
static struct p11 *p11_get(const char *module, char *err, size_t len)
{
	struct p11 *p;

	pthread_mutex_lock(&the_p11_mu);
	if (!the_p11)
		the_p11 = p11_new(module, err, len);
	p = the_p11;
	pthread_mutex_unlock(&the_p11_mu);
	if (p && !(module ? p->module && strcmp(module, p->module) == 0 : !p->module)) {
		fail(err, len, "pkcs11.module: the module cannot change while cmpgw runs (was %s)",
		     p->module ? p->module : "the engine's default");
		return NULL;
	}
	return p;
}

/* ---- loading ---- */

/* Find or load uri's entry. Caller holds p->lock exclusively. */
static struct p11_key *entry_get(struct p11 *p, const char *uri, char *err, size_t len)
{
	struct p11_key *k;

	for (k = p->keys; k; k = k->next)
		if (strcmp(k->uri, uri) == 0)
			break;
	if (k && k->tok)
		return k;
	if (!p->e_up) {
		fail(err, len, "%s: the token is unavailable (lost, being re-initialised)", uri);
		return NULL;
	}
	if (!k) {
		if (!(k = calloc(1, sizeof(*k))) || !(k->uri = strdup(uri))) {
			free(k);
			fail(err, len, "out of memory");
			return NULL;
		}
		k->p = p;
		k->next = p->keys;
		p->keys = k;
	}
	if (!(k->tok = token_key_load(p, uri, err, len))) {
		/* a refused URI must not be looked for at every re-initialisation */
		if (__atomic_load_n(&k->refs, __ATOMIC_ACQUIRE) == 0)
			entry_free(p, k);
		return NULL;
	}
	return k;
}

static int set_src(struct p11 *p, const struct p11_src *src)
{
	char *f = src->pin_file ? strdup(src->pin_file) : NULL;
	char *e = src->pin_env ? strdup(src->pin_env) : NULL;

	if ((src->pin_file && !f) || (src->pin_env && !e)) {
		free(f);
		free(e);
		return RC_NOMEM;
	}
	free(p->pin_file);
	free(p->pin_env);
	p->pin_file = f;
	p->pin_env = e;
	return 0;
}

EVP_PKEY *p11_key_load(const struct p11_src *src, const char *uri, char *err, size_t len)
{
	char modpath[PATH_MAX];
	const char *module = src->module;
	struct p11_key *k = NULL;
	EVP_PKEY *f = NULL;
	struct p11 *p;

	if (strlen(uri) > P11_URI_MAX) {
		fail(err, len, "pkcs11: URI longer than %d bytes", P11_URI_MAX);
		return NULL;
	}
	/* never echo such a URI: it holds the PIN */
	if (uri_find(uri, "pin-value") || uri_find(uri, "pin-source")) {
		fail(err, len, "put the PIN in pkcs11.pin_file or pkcs11.pin_env, not in the URI");
		return NULL;
	}
	if (!module && uri_attr(uri, "module-path", modpath, sizeof(modpath)))
		module = modpath;
	if (!(p = p11_get(module, err, len)))
		return NULL;
	pthread_rwlock_wrlock(&p->lock);
	if (set_src(p, src) != 0)
		fail(err, len, "out of memory");
	else if (pin_check(p, err, len) == 0 && (k = entry_get(p, uri, err, len)))
		f = EVP_PKEY_get_base_id(k->tok) == EVP_PKEY_EC ? front_ec(p, k) : front_rsa(p, k);
	if (f && !p->atexit_set && atexit(p11_atexit) == 0)
		p->atexit_set = true;
	if (k && !f) {
		fail(err, len,
		     "%s: the token key's public half is missing (store the public key "
		     "object with the same CKA_ID on the token)",
		     uri);
		if (__atomic_load_n(&k->refs, __ATOMIC_ACQUIRE) == 0)
			entry_free(p, k);
	}
	pthread_rwlock_unlock(&p->lock);
	ERR_clear_error();
	return f;
}

bool p11_key_is(const EVP_PKEY *k)
{
	/* EVP_PKEY_get0 is NULL for provider keys (every file key): no
	 * legacy copy is made to answer */
	const void *legacy = k ? EVP_PKEY_get0(k) : NULL;

	if (!legacy || !the_p11)
		return false;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
		return EC_KEY_get_method(legacy) == the_p11->ec_meth;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		return RSA_get_method(legacy) == the_p11->rsa_meth;
	return false;
}

bool p11_key_up(const EVP_PKEY *k)
{
	bool up;

	if (!p11_key_is(k))
		return true;
	pthread_mutex_lock(&the_p11->mu);
	up = !the_p11->lost;
	pthread_mutex_unlock(&the_p11->mu);
	return up;
}
