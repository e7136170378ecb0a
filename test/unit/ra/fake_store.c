/*
 * test/unit/ra/fake_store.c - the in-memory store_ops (fake_store.h).
 *
 * Each entry computes its verdict and writes its rows at the call, as the
 * statement would once it ran, and queues the callback on the event loop;
 * lookups keep the index of the row they found and build the C struct at
 * the callback, so that pointers handed to it are valid during it only,
 * as with PostgreSQL results. The SQL function each entry mirrors is named
 * above it (store/functions/).
 */
#include "test/unit/ra/fake_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cmp/asn1.h"
#include "cmp/build.h"
#include "cmp/certcache.h"
#include "core/cfg.h"
#include "core/log.h"
#include "core/rc.h"
#include "core/server.h"
#include "ra/audit.h"
#include "ra/crl.h"
#include "ra/fwd.h"
#include "ra/issued.h"
#include "ra/ra.h"
#include "ra/token.h"
#include "ra/trust.h"

/* A PKIFailureInfo bit as the integer fwd_fail_info holds (cmpgw_fwd_sweep). */
#define FAIL_SYSTEM_UNAVAIL_MASK (1 << 24)

struct fake_vendor {
	int64_t id;
	char *name, *rule;
	bool allow_reenroll;
	char **kinds;
	struct fake_bytes *ders;
	size_t n;
};

struct fake_crl {
	char *issuer, *fp;
	long long number;
	struct fake_bytes der;
};

struct pend {
	struct fake_store *fs;
	struct event *ev;
	struct pend *prev, *next;
	enum fake_op op;
	void (*cb)(void);
	void *arg;
	int rc;
	enum store_outcome st;
	long n;
	long idx; /* the row found (txn, cert, token, crl), -1: none */
	bool blocked, tid_in_use, stale;
	enum store_outcome refusal;
	char *issuer; /* crl_rows */
};

struct fake_store {
	struct event_base *base;
	struct pend *pending;
	size_t n_pending;
	unsigned calls[FAKE_OP_COUNT];
	enum fake_fault faults[FAKE_OP_COUNT];
	int nup;
	struct fake_vendor *vendors;
	size_t n_vendors;
	struct fake_serial *serials;
	size_t n_serials;
	struct fake_cert *certs;
	size_t n_certs;
	struct fake_txn *txns;
	size_t n_txns;
	struct fake_token *tokens;
	size_t n_tokens;
	struct fake_crl *crls;
	size_t n_crls;
	struct fake_audit *audit;
	size_t n_audit;
	struct fake_txn *tmpl;
	enum store_outcome force[FAKE_OP_COUNT];
	void (*on_call)(void *arg, enum fake_op op);
	void *on_call_arg;
	bool oom; /* a row could not be stored: answered RC_DB */
};

/* ---- small helpers ---- */

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int bdup(struct fake_bytes *b, const unsigned char *p, size_t len)
{
	b->p = NULL;
	b->len = 0;
	if (!p)
		return 0;
	if (!(b->p = malloc(len ? len : 1)))
		return RC_NOMEM;
	memcpy(b->p, p, len);
	b->len = len;
	return 0;
}

static struct store_bytes sb(const struct fake_bytes *b)
{
	return (struct store_bytes){ b->p, b->len };
}

static bool beq(const struct fake_bytes *a, const unsigned char *p, size_t len)
{
	return a->p && p && a->len == len && memcmp(a->p, p, len) == 0;
}

static void tohex(const unsigned char *p, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Grow *arr (elements of size sz) by one zeroed element; NULL on OOM. */
static void *grow(void *arrp, size_t *n, size_t sz)
{
	void **arr = arrp;
	unsigned char *p = realloc(*arr, (*n + 1) * sz);

	if (!p)
		return NULL;
	*arr = p;
	memset(p + *n * sz, 0, sz);
	return p + (*n)++ * sz;
}

static void fb_free(struct fake_bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static void txn_clear(struct fake_txn *t)
{
	fb_free(&t->tid);
	free(t->alias);
	free(t->body);
	free(t->device_serial);
	free(t->token_ref);
	free(t->fail_text);
	fb_free(&t->sender_fp);
	fb_free(&t->sender_cert);
	fb_free(&t->server_nonce);
	fb_free(&t->client_nonce);
	fb_free(&t->cert_hash);
	fb_free(&t->upstream_nonce);
}

static int txn_copy(struct fake_txn *d, const struct fake_txn *s)
{
	*d = *s;
	d->alias = dup0(s->alias);
	d->body = dup0(s->body);
	d->device_serial = dup0(s->device_serial);
	d->token_ref = dup0(s->token_ref);
	d->fail_text = dup0(s->fail_text);
	int rc = bdup(&d->tid, s->tid.p, s->tid.len) |
		 bdup(&d->sender_fp, s->sender_fp.p, s->sender_fp.len) |
		 bdup(&d->sender_cert, s->sender_cert.p, s->sender_cert.len) |
		 bdup(&d->server_nonce, s->server_nonce.p, s->server_nonce.len) |
		 bdup(&d->client_nonce, s->client_nonce.p, s->client_nonce.len) |
		 bdup(&d->cert_hash, s->cert_hash.p, s->cert_hash.len) |
		 bdup(&d->upstream_nonce, s->upstream_nonce.p, s->upstream_nonce.len);
	if (rc || (s->alias && !d->alias) || (s->body && !d->body) ||
	    (s->device_serial && !d->device_serial) || (s->token_ref && !d->token_ref) ||
	    (s->fail_text && !d->fail_text)) {
		txn_clear(d);
		return RC_NOMEM;
	}
	return 0;
}

/* ---- rows ---- */

static struct fake_vendor *vendor_by_id(struct fake_store *fs, int64_t id)
{
	for (size_t i = 0; i < fs->n_vendors; i++)
		if (fs->vendors[i].id == id)
			return &fs->vendors[i];
	return NULL;
}

static struct fake_serial *serial_row(const struct fake_store *fs, int64_t vendor_id,
				      const char *serial)
{
	for (size_t i = 0; serial && i < fs->n_serials; i++)
		if (fs->serials[i].vendor_id == vendor_id &&
		    strcmp(fs->serials[i].serial, serial) == 0)
			return &fs->serials[i];
	return NULL;
}

static long txn_index(const struct fake_store *fs, const unsigned char *tid, size_t len)
{
	for (size_t i = 0; i < fs->n_txns; i++)
		if (beq(&fs->txns[i].tid, tid, len))
			return (long)i;
	return -1;
}

/* A lookup by transactionID: the template stands for any unknown one. */
static long txn_lookup(struct fake_store *fs, struct store_bytes tid)
{
	long i = txn_index(fs, tid.p, tid.len);
	struct fake_txn *t;

	if (i >= 0 || !fs->tmpl || !tid.p)
		return i;
	if (!(t = grow(&fs->txns, &fs->n_txns, sizeof(*t))))
		return -1;
	if (txn_copy(t, fs->tmpl) != 0) {
		fs->n_txns--;
		return -1;
	}
	fb_free(&t->tid);
	if (bdup(&t->tid, tid.p, tid.len) != 0) {
		txn_clear(t);
		fs->n_txns--;
		return -1;
	}
	return (long)fs->n_txns - 1;
}

static struct fake_cert *cert_by_id(struct fake_store *fs, int64_t id)
{
	for (size_t i = 0; id && i < fs->n_certs; i++)
		if (fs->certs[i].id == id)
			return &fs->certs[i];
	return NULL;
}

static long cert_lookup(const struct fake_store *fs, const char *issuer, const char *serial_hex,
			struct store_bytes der)
{
	for (size_t i = 0; i < fs->n_certs; i++) {
		const struct fake_cert *c = &fs->certs[i];
		if (strcmp(c->issuer, issuer) == 0 && strcmp(c->serial_hex, serial_hex) == 0 &&
		    (!der.p || beq(&c->der, der.p, der.len)))
			return (long)i;
	}
	return -1;
}

static void audit_add(struct fake_store *fs, const char *event, const char *alias,
		      struct store_bytes tid, const char *vendor, const char *serial,
		      const char *peer, const char *detail)
{
	struct fake_audit *a = grow(&fs->audit, &fs->n_audit, sizeof(*a));
	char *hex = tid.p && tid.len ? malloc(2 * tid.len + 1) : NULL;

	if (!a) {
		free(hex);
		fs->oom = true;
		return;
	}
	if (hex)
		tohex(tid.p, tid.len, hex);
	a->event = dup0(event);
	a->alias = dup0(alias);
	a->tid_hex = hex;
	a->vendor = dup0(vendor);
	a->serial = dup0(serial);
	a->peer = dup0(peer);
	a->detail = dup0(detail);
}

/* cmpgw_admit: old_status NULL = not a renewal; s NULL = no serials row. */
static enum store_outcome admit(const struct fake_store *fs, struct store_bytes tid,
				const enum store_outcome *old_status, const struct fake_serial *s,
				bool listed, const unsigned char *vendor_key_fp,
				bool allow_reenroll)
{
	if (old_status && *old_status == STORE_OUT_UNKNOWN)
		return STORE_OUT_OLD_UNKNOWN;
	if (old_status && *old_status == STORE_OUT_REVOKED)
		return STORE_OUT_OLD_REVOKED;
	if (old_status && *old_status == STORE_OUT_SUPERSEDED)
		return STORE_OUT_OLD_SUPERSEDED;
	if (old_status && *old_status == STORE_OUT_UNCONFIRMED)
		return STORE_OUT_OLD_UNCONFIRMED;
	if (listed && !s)
		return STORE_OUT_SERIAL_UNKNOWN;
	if (s && s->state == FAKE_SERIAL_BLOCKED)
		return STORE_OUT_SERIAL_BLOCKED;
	/* NULL <> x is not true: no vendor key given, no clone check */
	if (s && s->bound && vendor_key_fp && memcmp(s->key_fp, vendor_key_fp, 32) != 0)
		return STORE_OUT_CLONE;
	if (s && s->state == FAKE_SERIAL_ENROLLED && !allow_reenroll)
		return STORE_OUT_REENROLL_DENIED;
	if (txn_index(fs, tid.p, tid.len) >= 0)
		return STORE_OUT_TID_IN_USE;
	return STORE_OUT_OK;
}

/* cmpgw_activate */
static void activate(struct fake_store *fs, int64_t cert_id, int64_t vendor_id, const char *serial,
		     int64_t old_id, bool revoke_old, const unsigned char *bind_key)
{
	struct fake_cert *old = cert_by_id(fs, old_id);

	if (revoke_old && old &&
	    (old->status == STORE_OUT_ACTIVE || old->status == STORE_OUT_SUPERSEDED)) {
		old->status = STORE_OUT_REVOKED;
		old->reason = 4;
	}
	for (size_t i = 0; i < fs->n_certs; i++) {
		struct fake_cert *c = &fs->certs[i];
		if (c->id == cert_id) {
			c->status = STORE_OUT_ACTIVE;
		} else if (c->vendor_id == vendor_id && c->status == STORE_OUT_ACTIVE &&
			   c->device_serial && serial && strcmp(c->device_serial, serial) == 0) {
			c->status = revoke_old ? STORE_OUT_REVOKED : STORE_OUT_SUPERSEDED;
			if (revoke_old)
				c->reason = 4;
		}
	}
	struct fake_serial *s = vendor_id ? serial_row(fs, vendor_id, serial) : NULL;
	if (s && (s->state != FAKE_SERIAL_BLOCKED || (!s->bound && bind_key))) {
		if (!s->bound && bind_key) {
			memcpy(s->key_fp, bind_key, 32);
			s->bound = true;
		}
		if (s->state != FAKE_SERIAL_BLOCKED)
			s->state = FAKE_SERIAL_ENROLLED;
	}
}

/* What cmpgw_issue writes. */
struct issue {
	struct store_bytes tid, sender_fp, sender_cert, server_nonce, client_nonce, upstream_nonce,
		cert, cert_hash;
	bool pending, implicit, revoke_old;
	const char *alias, *body, *vendor_name, *serial, *token_ref, *issuer, *serial_hex, *subject,
		*peer, *audit;
	int64_t vendor_id, old_id;
	long cert_req_id;
	const unsigned char *key_fp, *bind_key;
};

static int64_t issue(struct fake_store *fs, const struct issue *is)
{
	struct fake_cert *c = grow(&fs->certs, &fs->n_certs, sizeof(*c));
	struct fake_txn *t;
	int64_t cid;
	char detail[512];

	if (!c) {
		fs->oom = true;
		return 0;
	}
	c->id = cid = (int64_t)fs->n_certs;
	c->issuer = dup0(is->issuer ? is->issuer : "");
	c->serial_hex = dup0(is->serial_hex ? is->serial_hex : "");
	c->subject = dup0(is->subject);
	c->alias = dup0(is->alias);
	c->device_serial = dup0(is->serial);
	c->vendor_id = is->vendor_id;
	c->reason = -1;
	c->status = is->implicit ? STORE_OUT_ACTIVE : STORE_OUT_UNCONFIRMED;
	if (is->key_fp)
		memcpy(c->key_fp, is->key_fp, 32);
	if (bdup(&c->der, is->cert.p, is->cert.len) != 0 || !c->issuer || !c->serial_hex)
		fs->oom = true;
	if (is->pending) {
		long i = txn_index(fs, is->tid.p, is->tid.len);
		if (i >= 0) {
			t = &fs->txns[i];
			t->state = is->implicit ? STORE_OUT_CONFIRMED : STORE_OUT_ISSUED;
			t->cert_id = cid;
			fb_free(&t->cert_hash);
			fb_free(&t->upstream_nonce);
			if (bdup(&t->cert_hash, is->cert_hash.p, is->cert_hash.len) ||
			    bdup(&t->upstream_nonce, is->upstream_nonce.p, is->upstream_nonce.len))
				fs->oom = true;
			if (is->server_nonce.p) {
				fb_free(&t->server_nonce);
				if (bdup(&t->server_nonce, is->server_nonce.p,
					 is->server_nonce.len))
					fs->oom = true;
			}
			t->implicit = is->implicit;
		}
	} else if ((t = grow(&fs->txns, &fs->n_txns, sizeof(*t)))) {
		t->state = is->implicit ? STORE_OUT_CONFIRMED : STORE_OUT_ISSUED;
		t->alias = dup0(is->alias);
		t->body = dup0(is->body);
		t->device_serial = dup0(is->serial);
		t->token_ref = dup0(is->token_ref);
		t->cert_req_id = is->cert_req_id;
		t->cert_id = cid;
		t->old_cert_id = is->old_id;
		t->vendor_id = is->vendor_id;
		t->implicit = is->implicit;
		t->revoke_old = is->revoke_old;
		t->fail_info = -1;
		if (bdup(&t->tid, is->tid.p, is->tid.len) ||
		    bdup(&t->sender_fp, is->sender_fp.p, is->sender_fp.len) ||
		    bdup(&t->sender_cert, is->sender_cert.p, is->sender_cert.len) ||
		    bdup(&t->server_nonce, is->server_nonce.p, is->server_nonce.len) ||
		    bdup(&t->client_nonce, is->client_nonce.p, is->client_nonce.len) ||
		    bdup(&t->cert_hash, is->cert_hash.p, is->cert_hash.len))
			fs->oom = true;
	} else {
		fs->oom = true;
	}
	if (is->implicit) {
		activate(fs, cid, is->vendor_id, is->serial, is->old_id, is->revoke_old,
			 is->bind_key);
	} else if (is->bind_key) {
		struct fake_serial *s = serial_row(fs, is->vendor_id, is->serial);
		if (s && !s->bound) {
			memcpy(s->key_fp, is->bind_key, 32);
			s->bound = true;
		}
	}
	snprintf(detail, sizeof(detail), "%sserial %s%s", is->audit ? is->audit : "",
		 is->serial_hex ? is->serial_hex : "", is->implicit ? " (implicitConfirm)" : "");
	audit_add(fs, "issued", is->alias, is->tid, is->vendor_name, is->serial, is->peer, detail);
	return cid;
}

/* ---- deferred callbacks ---- */

static void vendors_fire(struct fake_store *fs, struct pend *p)
{
	size_t n = 0, k = 0;
	struct store_vendor_row *rows;
	store_vendors_cb cb = (store_vendors_cb)p->cb;

	for (size_t i = 0; i < fs->n_vendors; i++)
		n += fs->vendors[i].n ? fs->vendors[i].n : 1;
	if (!(rows = calloc(n ? n : 1, sizeof(*rows)))) {
		cb(p->arg, RC_DB, NULL, 0);
		return;
	}
	for (size_t i = 0; i < fs->n_vendors; i++) {
		const struct fake_vendor *v = &fs->vendors[i];
		for (size_t j = 0; j < (v->n ? v->n : 1); j++, k++) {
			rows[k] = (struct store_vendor_row){ .id = v->id,
							     .name = v->name,
							     .rule = v->rule,
							     .allow_reenroll = v->allow_reenroll };
			if (v->n) {
				rows[k].kind = v->kinds[j];
				rows[k].der = sb(&v->ders[j]);
			}
		}
	}
	cb(p->arg, 0, rows, n);
	free(rows);
}

static void oldcert_fire(struct fake_store *fs, struct pend *p)
{
	store_oldcert_cb cb = (store_oldcert_cb)p->cb;
	const struct fake_cert *c;
	const struct fake_vendor *v;
	struct store_oldcert o;

	if (p->rc || p->idx < 0) {
		cb(p->arg, p->rc, NULL);
		return;
	}
	c = &fs->certs[p->idx];
	v = c->vendor_id ? vendor_by_id(fs, c->vendor_id) : NULL;
	o = (struct store_oldcert){ .id = c->id,
				    .status = c->status,
				    .device_serial = c->device_serial ? c->device_serial : "",
				    .vendor = v ? v->name : "",
				    .serial_blocked = p->blocked,
				    .tid_in_use = p->tid_in_use };
	cb(p->arg, 0, &o);
}

static void txn_fire(struct fake_store *fs, struct pend *p)
{
	store_txn_cb cb = (store_txn_cb)p->cb;
	const struct fake_txn *t;
	const struct fake_cert *c;
	const struct fake_token *k = NULL;
	struct store_txn out;

	if (p->rc || p->idx < 0) {
		cb(p->arg, p->rc, NULL);
		return;
	}
	t = &fs->txns[p->idx];
	c = cert_by_id(fs, t->cert_id);
	if (t->token_ref)
		k = fake_store_token_find(fs, t->token_ref);
	out = (struct store_txn){ .alias = t->alias,
				  .state = t->state,
				  .sender_fp = sb(&t->sender_fp),
				  .sender_cert = sb(&t->sender_cert),
				  .server_nonce = sb(&t->server_nonce),
				  .cert_hash = sb(&t->cert_hash),
				  .cert = c ? sb(&c->der) : (struct store_bytes){ NULL, 0 },
				  .cert_req_id = t->cert_req_id < 0 ? 0 : t->cert_req_id,
				  .implicit = t->implicit,
				  .token_ref = t->token_ref,
				  .token_secret_enc = k ? sb(&k->secret_enc)
							: (struct store_bytes){ NULL, 0 } };
	cb(p->arg, 0, &out);
}

static void fwd_txn_fire(struct fake_store *fs, struct pend *p)
{
	store_fwd_txn_cb cb = (store_fwd_txn_cb)p->cb;
	const struct fake_txn *t;
	const struct fake_cert *c;
	struct store_fwd_txn out;

	if (p->rc || p->idx < 0) {
		cb(p->arg, p->rc, NULL);
		return;
	}
	t = &fs->txns[p->idx];
	c = cert_by_id(fs, t->cert_id);
	out = (struct store_fwd_txn){ .alias = t->alias,
				      .body = t->body ? t->body : "",
				      .state = t->state,
				      .sender_fp = sb(&t->sender_fp),
				      .sender_cert = sb(&t->sender_cert),
				      .server_nonce = sb(&t->server_nonce),
				      .cert = c ? sb(&c->der) : (struct store_bytes){ NULL, 0 },
				      .cert_hash = sb(&t->cert_hash),
				      .upstream_nonce = sb(&t->upstream_nonce),
				      .cert_req_id = t->cert_req_id < 0 ? 0 : t->cert_req_id,
				      .fail_info = t->fail_info,
				      .fail_text = t->fail_text };
	cb(p->arg, 0, &out);
}

static void token_fire(struct fake_store *fs, struct pend *p)
{
	store_token_cb cb = (store_token_cb)p->cb;
	const struct fake_token *k;
	struct store_token out;

	if (p->rc || p->idx < 0) {
		cb(p->arg, p->rc, NULL);
		return;
	}
	k = &fs->tokens[p->idx];
	out = (struct store_token){ .alias = k->alias,
				    .identity = k->identity,
				    .refusal = p->refusal,
				    .secret_enc = sb(&k->secret_enc),
				    .tid_in_use = p->tid_in_use };
	cb(p->arg, 0, &out);
}

/* cmpgw_crl_fp: the revoked set of issuer as "count/last" (here: the
 * count and the last revoked id). */
static void crl_fp(const struct fake_store *fs, const char *issuer, char *out, size_t len)
{
	long n = 0;
	int64_t last = 0;

	for (size_t i = 0; i < fs->n_certs; i++)
		if (fs->certs[i].status == STORE_OUT_REVOKED &&
		    strcmp(fs->certs[i].issuer, issuer) == 0) {
			n++;
			last = fs->certs[i].id;
		}
	snprintf(out, len, "%ld/%lld", n, (long long)last);
}

static void crl_rows_fire(struct fake_store *fs, struct pend *p)
{
	store_crl_rows_cb cb = (store_crl_rows_cb)p->cb;
	struct store_crl_row *rows;
	size_t n = 0;
	char fp[64];

	if (p->rc) {
		cb(p->arg, p->rc, NULL, NULL, 0);
		return;
	}
	if (!(rows = calloc(fs->n_certs + 1, sizeof(*rows)))) {
		cb(p->arg, RC_DB, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < fs->n_certs; i++)
		if (fs->certs[i].status == STORE_OUT_REVOKED &&
		    strcmp(fs->certs[i].issuer, p->issuer) == 0)
			rows[n++] = (struct store_crl_row){ fs->certs[i].serial_hex, 1700000000,
							    fs->certs[i].reason < 0
								    ? 0
								    : fs->certs[i].reason };
	crl_fp(fs, p->issuer, fp, sizeof(fp));
	cb(p->arg, 0, fp, rows, n);
	free(rows);
}

static void crl_current_fire(struct fake_store *fs, struct pend *p)
{
	store_crl_current_cb cb = (store_crl_current_cb)p->cb;
	struct store_crl_current cur = { 0, { NULL, 0 }, true };

	if (p->rc) {
		cb(p->arg, p->rc, NULL);
		return;
	}
	if (p->idx >= 0) {
		cur.number = fs->crls[p->idx].number;
		cur.der = sb(&fs->crls[p->idx].der);
		cur.stale = p->stale;
	}
	cb(p->arg, 0, &cur);
}

static void fire(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;
	struct fake_store *fs = p->fs;
	(void)fd;
	(void)what;

	/* unlink first: the callback may queue more */
	if (p->prev)
		p->prev->next = p->next;
	else
		fs->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	fs->n_pending--;
	event_free(p->ev);
	switch (p->op) {
	case FAKE_SWEEP:
	case FAKE_FWD_SWEEP:
		((store_count_cb)p->cb)(p->arg, p->rc, p->n);
		break;
	case FAKE_VENDORS:
		if (p->rc)
			((store_vendors_cb)p->cb)(p->arg, p->rc, NULL, 0);
		else
			vendors_fire(fs, p);
		break;
	case FAKE_RENEW_LOOKUP:
	case FAKE_RENEW_ADMIT:
		oldcert_fire(fs, p);
		break;
	case FAKE_TXN_GET:
		txn_fire(fs, p);
		break;
	case FAKE_FWD_GET:
		fwd_txn_fire(fs, p);
		break;
	case FAKE_TOKEN_GET:
		token_fire(fs, p);
		break;
	case FAKE_CRL_ROWS:
		crl_rows_fire(fs, p);
		break;
	case FAKE_CRL_CURRENT:
		crl_current_fire(fs, p);
		break;
	default:
		((store_outcome_cb)p->cb)(p->arg, p->rc, p->st);
		break;
	}
	free(p->issuer);
	free(p);
}

/* Count the call; NULL when it is to fail at the call (or OOM). */
static struct pend *begin(struct fake_store *fs, enum fake_op op, void (*cb)(void), void *arg)
{
	struct pend *p;

	fs->calls[op]++;
	if (fs->on_call)
		fs->on_call(fs->on_call_arg, op);
	if (fs->faults[op] == FAKE_FAULT_CALL || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->fs = fs;
	p->op = op;
	p->cb = cb;
	p->arg = arg;
	p->idx = -1;
	return p;
}

/* Is the callback of this call to report a database fault? */
static bool cb_fault(const struct pend *p)
{
	return p->fs->faults[p->op] == FAKE_FAULT_CALLBACK;
}

/* Queue p's callback on the loop: never before the call returns. */
static int queue(struct pend *p)
{
	static const struct timeval zero = { 0, 0 };
	struct fake_store *fs = p->fs;

	if (fs->oom) { /* a write failed: the statement failed */
		fs->oom = false;
		p->rc = RC_DB;
	}
	if (!(p->ev = event_new(fs->base, -1, 0, fire, p)) || event_add(p->ev, &zero) != 0) {
		if (p->ev)
			event_free(p->ev);
		free(p->issuer);
		free(p);
		return RC_NOMEM;
	}
	p->next = fs->pending;
	if (fs->pending)
		fs->pending->prev = p;
	fs->pending = p;
	fs->n_pending++;
	return 0;
}

static int queue_status(struct pend *p, enum store_outcome st)
{
	p->st = p->fs->force[p->op] != STORE_OUT_COUNT ? p->fs->force[p->op] : st;
	return queue(p);
}

#define BEGIN(op, cb)                                                                              \
	struct pend *p = begin(fs, op, (void (*)(void))(cb), arg);                                 \
	if (!p)                                                                                    \
		return RC_DB;                                                                      \
	if (cb_fault(p)) {                                                                         \
		p->rc = RC_DB;                                                                     \
		return queue(p);                                                                   \
	}

/* ---- the entries ---- */

static int f_nup(void *db)
{
	struct fake_store *fs = db;

	fs->calls[FAKE_NUP]++;
	return fs->faults[FAKE_NUP] != FAKE_FAULT_NONE ? 0 : fs->nup;
}

/* cmpgw_ir_admit */
static int f_admit_ir(void *db, const struct store_ir_admit *a, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_ADMIT_IR, cb);
	return queue_status(p, admit(fs, a->tid, NULL, serial_row(fs, a->vendor_id, a->serial),
				     true, a->vendor_key_fp, a->allow_reenroll));
}

/* cmpgw_ra_ir_admit */
static int f_admit_ra_ir(void *db, const struct store_ir_admit *a, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_ADMIT_RA_IR, cb);
	return queue_status(p, admit(fs, a->tid, NULL,
				     a->vendor_id ? serial_row(fs, a->vendor_id, a->serial) : NULL,
				     a->vendor_id != 0, NULL, a->allow_reenroll));
}

/* cmpgw_ir_commit / cmpgw_ra_ir_commit */
static enum store_outcome ir_commit(struct fake_store *fs, const struct store_ir_commit *c, bool ra)
{
	struct fake_serial *s = c->vendor_id ? serial_row(fs, c->vendor_id, c->serial) : NULL;
	enum store_outcome r = admit(fs, c->tid, NULL, s, ra ? c->vendor_id != 0 : true,
				     ra ? NULL : c->vendor_key_fp, c->allow_reenroll);
	char detail[160];

	if (r != STORE_OUT_OK) {
		snprintf(detail, sizeof(detail), "%s%s: %s", c->body, ra ? " (downstream RA)" : "",
			 store_outcome_name(r));
		audit_add(fs, !ra && r == STORE_OUT_CLONE ? "clone_suspected" : "rejected",
			  c->alias, c->tid, c->vendor_name, c->serial, c->peer, detail);
		return r;
	}
	snprintf(detail, sizeof(detail), "%s%s: ", c->body, ra ? " (downstream RA)" : "");
	struct issue is = { .tid = c->tid,
			    .sender_fp = { c->sender_fp, c->sender_fp ? 32 : 0 },
			    .sender_cert = c->sender_cert,
			    .server_nonce = c->server_nonce,
			    .client_nonce = c->client_nonce,
			    .cert = c->cert,
			    .cert_hash = c->cert_hash,
			    .implicit = c->implicit,
			    .revoke_old = c->revoke_old,
			    .alias = c->alias,
			    .body = c->body,
			    .vendor_name = c->vendor_name,
			    .serial = c->serial,
			    .issuer = c->issuer,
			    .serial_hex = c->serial_hex,
			    .subject = c->subject,
			    .peer = c->peer,
			    .audit = detail,
			    .vendor_id = c->vendor_id,
			    .cert_req_id = c->cert_req_id,
			    .key_fp = c->key_fp,
			    .bind_key = !ra && s && !s->bound ? c->vendor_key_fp : NULL };
	issue(fs, &is);
	return STORE_OUT_OK;
}

static int f_ir_commit(void *db, const struct store_ir_commit *c, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_IR_COMMIT, cb);
	return queue_status(p, ir_commit(fs, c, false));
}

static int f_ra_ir_commit(void *db, const struct store_ir_commit *c, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_RA_IR_COMMIT, cb);
	return queue_status(p, ir_commit(fs, c, true));
}

static int f_txn_get(void *db, struct store_bytes tid, store_txn_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_TXN_GET, cb);
	p->idx = txn_lookup(fs, tid);
	return queue(p);
}

/* cmpgw_confirm on row t, after the checks */
static enum store_outcome confirm(struct fake_store *fs, struct fake_txn *t, bool accept,
				  const char *peer, const char *detail)
{
	if (t->state == STORE_OUT_REVOKED)
		return STORE_OUT_EXPIRED;
	if (t->state != STORE_OUT_ISSUED)
		return t->state;
	if (accept) {
		activate(fs, t->cert_id, t->vendor_id, t->device_serial, t->old_cert_id,
			 t->revoke_old, NULL);
		t->state = STORE_OUT_CONFIRMED;
	} else {
		struct fake_cert *c = cert_by_id(fs, t->cert_id);
		if (c) {
			c->status = STORE_OUT_REVOKED;
			c->reason = 0;
		}
		t->state = STORE_OUT_REJECTED;
	}
	audit_add(fs, accept ? "confirmed" : "rejected_by_client", t->alias, sb(&t->tid), NULL,
		  t->device_serial, peer, detail);
	return accept ? STORE_OUT_CONFIRMED : STORE_OUT_REJECTED;
}

static int f_confirm(void *db, struct store_bytes tid, bool accept, const char *peer,
		     const char *detail, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_CONFIRM, cb);
	long i = txn_lookup(fs, tid);
	return queue_status(p, i < 0 ? STORE_OUT_UNKNOWN
				     : confirm(fs, &fs->txns[i], accept, peer, detail));
}

/* cmpgw_certconf */
static int f_certconf(void *db, const struct store_certconf *c, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_CERTCONF, cb);
	long i = txn_lookup(fs, c->tid);
	struct fake_txn *t = i >= 0 ? &fs->txns[i] : NULL;
	enum store_outcome r;

	if (!t || !t->alias || !c->alias || strcmp(t->alias, c->alias) != 0)
		r = STORE_OUT_UNKNOWN;
	else if (t->token_ref || t->cert_hash.len > 64)
		r = STORE_OUT_SLOW;
	else if (!c->sender_fp || (t->sender_fp.p && !beq(&t->sender_fp, c->sender_fp, 32)))
		r = STORE_OUT_NOT_SENDER;
	else if (!c->sig_ok)
		r = STORE_OUT_BAD_SIGNATURE;
	else if (!c->recip_nonce.p || (t->server_nonce.p && !beq(&t->server_nonce, c->recip_nonce.p,
								 c->recip_nonce.len)))
		r = STORE_OUT_BAD_NONCE;
	else if (t->cert_req_id >= 0 && t->cert_req_id != c->cert_req_id)
		r = STORE_OUT_BAD_CERT_REQ_ID;
	else if (!c->cert_hash.p ||
		 !(t->cert_hash.len == c->cert_hash.len &&
		   (t->cert_hash.len == 0 ||
		    memcmp(t->cert_hash.p, c->cert_hash.p, c->cert_hash.len) == 0)))
		r = STORE_OUT_BAD_CERT_HASH;
	else
		r = confirm(fs, t, c->accept, c->peer, c->detail);
	return queue_status(p, r);
}

/* cmpgw_sweep: every issued transaction marked deadline_passed */
static int f_sweep(void *db, store_count_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_SWEEP, cb);
	for (size_t i = 0; i < fs->n_txns; i++) {
		struct fake_txn *t = &fs->txns[i];
		if (t->state != STORE_OUT_ISSUED || !t->deadline_passed)
			continue;
		t->state = STORE_OUT_REVOKED;
		struct fake_cert *c = cert_by_id(fs, t->cert_id);
		if (c && c->status == STORE_OUT_UNCONFIRMED) {
			c->status = STORE_OUT_REVOKED;
			c->reason = 0;
		}
		audit_add(fs, "confirm_timeout", t->alias, sb(&t->tid), NULL, t->device_serial,
			  NULL, "unconfirmed past deadline, revoked");
		p->n++;
	}
	return queue(p);
}

static void f_audit(void *db, const char *event, const char *alias, struct store_bytes tid,
		    const char *vendor, const char *serial, const char *peer, const char *detail)
{
	struct fake_store *fs = db;

	fs->calls[FAKE_AUDIT]++;
	if (fs->on_call)
		fs->on_call(fs->on_call_arg, FAKE_AUDIT);
	if (fs->faults[FAKE_AUDIT] == FAKE_FAULT_NONE)
		audit_add(fs, event, alias, tid, vendor, serial, peer, detail);
	fs->oom = false; /* fire-and-forget: nothing to report */
}

static int f_vendors(void *db, store_vendors_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_VENDORS, cb);
	return queue(p);
}

/* cmpgw_renew_admit's row: serial_blocked / tid_in_use from cmpgw_admit */
static void renew_flags(struct fake_store *fs, struct pend *p, struct store_bytes tid)
{
	const struct fake_cert *c = &fs->certs[p->idx];
	const struct fake_serial *s =
		c->vendor_id ? serial_row(fs, c->vendor_id, c->device_serial) : NULL;
	enum store_outcome v = admit(fs, tid, NULL, s, false, NULL, true);

	p->blocked = v == STORE_OUT_SERIAL_BLOCKED;
	p->tid_in_use = v == STORE_OUT_TID_IN_USE;
}

static int f_renew_lookup(void *db, const char *issuer, const char *serial_hex,
			  struct store_bytes der, store_oldcert_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_RENEW_LOOKUP, cb);
	p->idx = cert_lookup(fs, issuer, serial_hex, der);
	return queue(p);
}

static int f_renew_admit(void *db, const char *issuer, const char *serial_hex,
			 struct store_bytes der, struct store_bytes tid, store_oldcert_cb cb,
			 void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_RENEW_ADMIT, cb);
	p->idx = cert_lookup(fs, issuer, serial_hex, der);
	if (p->idx >= 0)
		renew_flags(fs, p, tid);
	return queue(p);
}

/* cmpgw_renew_commit */
static int f_renew_commit(void *db, const struct store_renew_commit *c, store_outcome_cb cb,
			  void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_RENEW_COMMIT, cb);
	struct fake_cert *o = cert_by_id(fs, c->old_id);
	const struct fake_serial *s = NULL;
	const struct fake_vendor *v = NULL;
	enum store_outcome ost = o ? o->status : STORE_OUT_UNKNOWN, r;
	char detail[256];

	if (o && o->status == STORE_OUT_ACTIVE && o->vendor_id) {
		v = vendor_by_id(fs, o->vendor_id);
		s = serial_row(fs, o->vendor_id, o->device_serial);
	}
	r = admit(fs, c->tid, &ost, s, false, NULL, true);
	if (r != STORE_OUT_OK) {
		snprintf(detail, sizeof(detail), "%s (renewal): %s", c->body,
			 store_outcome_name(r));
		audit_add(fs, "rejected", c->alias, c->tid, v ? v->name : NULL,
			  o ? o->device_serial : NULL, c->peer, detail);
		return queue_status(p, r);
	}
	snprintf(detail, sizeof(detail), "%s (renewal of serial %s): ", c->body, o->serial_hex);
	struct issue is = { .tid = c->tid,
			    .sender_fp = { c->sender_fp, c->sender_fp ? 32 : 0 },
			    .sender_cert = c->sender_cert,
			    .server_nonce = c->server_nonce,
			    .client_nonce = c->client_nonce,
			    .cert = c->cert,
			    .cert_hash = c->cert_hash,
			    .implicit = c->implicit,
			    .revoke_old = c->revoke_old,
			    .alias = c->alias,
			    .body = c->body,
			    .vendor_name = v ? v->name : NULL,
			    .serial = o->device_serial,
			    .issuer = c->issuer,
			    .serial_hex = c->serial_hex,
			    .subject = c->subject,
			    .peer = c->peer,
			    .audit = detail,
			    .vendor_id = o->vendor_id,
			    .old_id = c->old_id,
			    .cert_req_id = c->cert_req_id,
			    .key_fp = c->key_fp };
	char *serial = dup0(o->device_serial); /* o may move when certs grows */
	is.serial = serial;
	issue(fs, &is);
	free(serial);
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_revoke */
static int f_revoke(void *db, const struct store_revoke *rv, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_REVOKE, cb);
	long i = cert_lookup(fs, rv->issuer, rv->serial_hex, (struct store_bytes){ NULL, 0 });
	struct fake_cert *c = i >= 0 ? &fs->certs[i] : NULL;
	enum store_outcome r;
	unsigned char fp[32];
	char detail[256];

	if (!c) {
		r = STORE_OUT_UNKNOWN;
	} else if (rv->holder_fp &&
		   (!EVP_Digest(c->der.p, c->der.len, fp, NULL, EVP_sha256(), NULL) ||
		    memcmp(fp, rv->holder_fp, 32) != 0)) {
		r = STORE_OUT_NOT_HOLDER;
	} else if (rv->reason == 8) {
		if (c->status == STORE_OUT_REVOKED && c->reason == 6) {
			c->status = STORE_OUT_ACTIVE;
			c->reason = -1;
			r = STORE_OUT_RELEASED;
		} else {
			r = STORE_OUT_NOT_ON_HOLD;
		}
	} else if (c->status == STORE_OUT_REVOKED) {
		r = STORE_OUT_REVOKED;
	} else {
		c->status = STORE_OUT_REVOKED;
		c->reason = rv->reason;
		for (size_t k = 0; k < fs->n_txns; k++)
			if (fs->txns[k].cert_id == c->id && fs->txns[k].state == STORE_OUT_ISSUED)
				fs->txns[k].state = STORE_OUT_REVOKED;
		r = STORE_OUT_OK;
	}
	snprintf(detail, sizeof(detail), "serial %s reason %d by %s: %s", rv->serial_hex,
		 rv->reason, rv->by ? rv->by : "", store_outcome_name(r));
	audit_add(fs,
		  r == STORE_OUT_OK	    ? "revoked"
		  : r == STORE_OUT_RELEASED ? "hold_released"
					    : "revoke_rejected",
		  rv->alias, rv->tid, NULL, c ? c->device_serial : NULL, rv->peer, detail);
	return queue_status(p, r);
}

/* cmpgw_crl_current: stale when none, the revoked set changed, or (here)
 * refresh_s < 0 */
static int f_crl_current(void *db, const char *issuer, int refresh_s, store_crl_current_cb cb,
			 void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_CRL_CURRENT, cb);
	char fp[64];

	for (size_t i = 0; i < fs->n_crls; i++)
		if (strcmp(fs->crls[i].issuer, issuer) == 0 &&
		    (p->idx < 0 || fs->crls[i].number > fs->crls[p->idx].number))
			p->idx = (long)i;
	if (p->idx >= 0) {
		crl_fp(fs, issuer, fp, sizeof(fp));
		p->stale = strcmp(fp, fs->crls[p->idx].fp) != 0 || refresh_s < 0;
	}
	return queue(p);
}

static int f_crl_rows(void *db, const char *issuer, store_crl_rows_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_CRL_ROWS, cb);
	if (!(p->issuer = strdup(issuer))) {
		free(p);
		return RC_NOMEM;
	}
	return queue(p);
}

/* cmpgw_crl_store */
static int f_crl_store(void *db, const struct store_crl_new *n, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_CRL_STORE, cb);
	struct fake_crl *c;

	for (size_t i = 0; i < fs->n_crls; i++)
		if (strcmp(fs->crls[i].issuer, n->issuer) == 0 && fs->crls[i].number >= n->number)
			return queue_status(p, STORE_OUT_CONFLICT);
	if (!(c = grow(&fs->crls, &fs->n_crls, sizeof(*c))) || !(c->issuer = strdup(n->issuer)) ||
	    !(c->fp = strdup(n->fp ? n->fp : "")) || bdup(&c->der, n->der.p, n->der.len) != 0)
		fs->oom = true;
	else
		c->number = n->number;
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_token_refusal */
static enum store_outcome token_refusal(const struct fake_token *k, const char *alias)
{
	if (k->state == FAKE_TOKEN_REVOKED)
		return STORE_OUT_REVOKED;
	if (k->state == FAKE_TOKEN_USED)
		return STORE_OUT_USED;
	if (k->expired)
		return STORE_OUT_EXPIRED;
	if (!alias || strcmp(k->alias, alias) != 0)
		return STORE_OUT_ALIAS;
	return STORE_OUT_OK;
}

static long token_index(const struct fake_store *fs, const char *ref)
{
	for (size_t i = 0; ref && i < fs->n_tokens; i++)
		if (strcmp(fs->tokens[i].ref, ref) == 0)
			return (long)i;
	return -1;
}

static int f_token_get(void *db, const char *ref, const char *alias, struct store_bytes tid,
		       store_token_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_TOKEN_GET, cb);
	p->idx = token_index(fs, ref);
	if (p->idx >= 0) {
		p->refusal = token_refusal(&fs->tokens[p->idx], alias);
		p->tid_in_use = txn_index(fs, tid.p, tid.len) >= 0;
	}
	return queue(p);
}

/* cmpgw_token_ir_commit */
static int f_token_ir_commit(void *db, const struct store_token_commit *c, store_outcome_cb cb,
			     void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_TOKEN_IR_COMMIT, cb);
	enum store_outcome r = admit(fs, c->tid, NULL, NULL, false, NULL, true);
	long i = token_index(fs, c->ref);
	struct fake_token *k = i >= 0 ? &fs->tokens[i] : NULL;
	char detail[256], *identity = NULL;
	unsigned char sender_fp[32];

	if (r == STORE_OUT_OK) {
		if (k && token_refusal(k, c->alias) == STORE_OUT_OK)
			k->state = FAKE_TOKEN_USED;
		else
			r = !k ? STORE_OUT_UNKNOWN : token_refusal(k, c->alias);
	}
	if (r != STORE_OUT_OK) {
		snprintf(detail, sizeof(detail), "%s: token %s: %s", c->body, c->ref,
			 store_outcome_name(r));
		audit_add(fs, r == STORE_OUT_TID_IN_USE ? "rejected" : "token_rejected", c->alias,
			  c->tid, "token", k ? k->identity : NULL, c->peer, detail);
		return queue_status(p, r);
	}
	snprintf(detail, sizeof(detail), "token:%s", c->ref);
	EVP_Digest(detail, strlen(detail), sender_fp, NULL, EVP_sha256(), NULL);
	snprintf(detail, sizeof(detail), "%s: token %s: ", c->body, c->ref);
	identity = dup0(k->identity);
	struct issue is = { .tid = c->tid,
			    .sender_fp = { sender_fp, 32 },
			    .server_nonce = c->server_nonce,
			    .client_nonce = c->client_nonce,
			    .cert = c->cert,
			    .cert_hash = c->cert_hash,
			    .implicit = c->implicit,
			    .revoke_old = c->revoke_old,
			    .alias = c->alias,
			    .body = c->body,
			    .vendor_name = "token",
			    .serial = identity,
			    .token_ref = c->ref,
			    .issuer = c->issuer,
			    .serial_hex = c->serial_hex,
			    .subject = c->subject,
			    .peer = c->peer,
			    .audit = detail,
			    .cert_req_id = c->cert_req_id,
			    .key_fp = c->key_fp };
	issue(fs, &is);
	free(identity);
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_fwd_begin */
static int f_fwd_begin(void *db, const struct store_fwd_begin *b, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_BEGIN, cb);
	enum store_outcome r = admit(fs, b->tid, NULL, serial_row(fs, b->vendor_id, b->serial),
				     true, b->vendor_key_fp, b->allow_reenroll);
	char detail[160];

	if (r != STORE_OUT_OK) {
		snprintf(detail, sizeof(detail), "%s: %s", b->body, store_outcome_name(r));
		audit_add(fs, r == STORE_OUT_CLONE ? "clone_suspected" : "rejected", b->alias,
			  b->tid, b->vendor_name, b->serial, b->peer, detail);
		return queue_status(p, r);
	}
	struct fake_txn t = {
		.tid = { (unsigned char *)b->tid.p, b->tid.len },
		.alias = (char *)b->alias,
		.body = (char *)b->body,
		.device_serial = (char *)b->serial,
		.state = STORE_OUT_PENDING,
		.sender_fp = { (unsigned char *)b->sender_fp, b->sender_fp ? 32 : 0 },
		.sender_cert = { (unsigned char *)b->sender_cert.p, b->sender_cert.len },
		.server_nonce = { (unsigned char *)b->server_nonce.p, b->server_nonce.len },
		.client_nonce = { (unsigned char *)b->client_nonce.p, b->client_nonce.len },
		.cert_req_id = b->cert_req_id,
		.vendor_id = b->vendor_id,
		.fail_info = -1
	};
	if (fake_store_add_txn(fs, &t) != 0)
		fs->oom = true;
	snprintf(detail, sizeof(detail), "%s: to upstream", b->body);
	audit_add(fs, "forwarded", b->alias, b->tid, b->vendor_name, b->serial, b->peer, detail);
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_fwd_begin_renew */
static int f_fwd_begin_renew(void *db, const struct store_fwd_begin_renew *b, store_outcome_cb cb,
			     void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_BEGIN_RENEW, cb);
	struct fake_cert *o = cert_by_id(fs, b->old_id);
	enum store_outcome ost = STORE_OUT_UNKNOWN, r;
	const struct fake_serial *s = NULL;
	const struct fake_vendor *v = NULL;
	char detail[256];

	if (o && o->alias && b->alias && strcmp(o->alias, b->alias) == 0) {
		ost = o->status;
		s = serial_row(fs, o->vendor_id, o->device_serial);
	}
	if (o && o->vendor_id)
		v = vendor_by_id(fs, o->vendor_id);
	r = admit(fs, b->tid, &ost, s, false, NULL, true);
	if (r != STORE_OUT_OK) {
		snprintf(detail, sizeof(detail), "%s (renewal): %s", b->body,
			 store_outcome_name(r));
		audit_add(fs, "rejected", b->alias, b->tid, v ? v->name : NULL,
			  o ? o->device_serial : NULL, b->peer, detail);
		return queue_status(p, r);
	}
	struct fake_txn t = {
		.tid = { (unsigned char *)b->tid.p, b->tid.len },
		.alias = (char *)b->alias,
		.body = (char *)b->body,
		.device_serial = o->device_serial,
		.state = STORE_OUT_PENDING,
		.sender_fp = { (unsigned char *)b->sender_fp, b->sender_fp ? 32 : 0 },
		.sender_cert = { (unsigned char *)b->sender_cert.p, b->sender_cert.len },
		.server_nonce = { (unsigned char *)b->server_nonce.p, b->server_nonce.len },
		.client_nonce = { (unsigned char *)b->client_nonce.p, b->client_nonce.len },
		.cert_req_id = b->cert_req_id,
		.vendor_id = o->vendor_id,
		.old_cert_id = b->old_id,
		.fail_info = -1
	};
	snprintf(detail, sizeof(detail), "%s (renewal of serial %s): to upstream", b->body,
		 o->serial_hex);
	audit_add(fs, "forwarded", b->alias, b->tid, v ? v->name : NULL, o->device_serial, b->peer,
		  detail);
	if (fake_store_add_txn(fs, &t) != 0)
		fs->oom = true;
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_fwd_done */
static int f_fwd_done(void *db, const struct store_fwd_done *d, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_DONE, cb);
	long i = txn_index(fs, d->tid.p, d->tid.len);
	char detail[160];

	if (i < 0 || fs->txns[i].state != STORE_OUT_PENDING)
		return queue_status(p, STORE_OUT_GONE);
	if (cert_lookup(fs, d->issuer, d->serial_hex, (struct store_bytes){ NULL, 0 }) >= 0)
		return queue_status(p, STORE_OUT_DUPLICATE);
	struct fake_txn *t = &fs->txns[i];
	char *alias = dup0(t->alias), *body = dup0(t->body), *serial = dup0(t->device_serial);
	snprintf(detail, sizeof(detail), "%s: by upstream, ", body ? body : "");
	struct issue is = { .tid = d->tid,
			    .pending = true,
			    .server_nonce = d->server_nonce,
			    .upstream_nonce = d->upstream_nonce,
			    .cert = d->cert,
			    .cert_hash = d->cert_hash,
			    .implicit = d->implicit,
			    .revoke_old = t->revoke_old,
			    .alias = alias,
			    .body = body,
			    .serial = serial,
			    .issuer = d->issuer,
			    .serial_hex = d->serial_hex,
			    .subject = d->subject,
			    .audit = detail,
			    .vendor_id = t->vendor_id,
			    .old_id = t->old_cert_id,
			    .key_fp = d->key_fp,
			    .bind_key = d->vendor_key_fp };
	issue(fs, &is);
	free(alias);
	free(body);
	free(serial);
	return queue_status(p, STORE_OUT_OK);
}

/* cmpgw_fwd_fail */
static int f_fwd_fail(void *db, struct store_bytes tid, int fail_info, const char *text,
		      const char *detail, store_outcome_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_FAIL, cb);
	long i = txn_index(fs, tid.p, tid.len);

	if (i < 0 || fs->txns[i].state != STORE_OUT_PENDING)
		return queue_status(p, STORE_OUT_GONE);
	struct fake_txn *t = &fs->txns[i];
	t->state = STORE_OUT_CLOSED;
	t->fail_info = fail_info;
	free(t->fail_text);
	t->fail_text = dup0(text);
	audit_add(fs, "upstream_failed", t->alias, tid, NULL, t->device_serial, NULL, detail);
	return queue_status(p, STORE_OUT_OK);
}

static int f_fwd_get(void *db, struct store_bytes tid, store_fwd_txn_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_GET, cb);
	p->idx = txn_lookup(fs, tid);
	return queue(p);
}

/* cmpgw_fwd_sweep: every pending transaction marked deadline_passed */
static int f_fwd_sweep(void *db, store_count_cb cb, void *arg)
{
	struct fake_store *fs = db;
	BEGIN(FAKE_FWD_SWEEP, cb);
	for (size_t i = 0; i < fs->n_txns; i++) {
		struct fake_txn *t = &fs->txns[i];
		if (t->state != STORE_OUT_PENDING || !t->deadline_passed)
			continue;
		t->state = STORE_OUT_CLOSED;
		t->fail_info = FAIL_SYSTEM_UNAVAIL_MASK;
		free(t->fail_text);
		t->fail_text = dup0("upstream CA did not answer");
		audit_add(fs, "upstream_failed", t->alias, sb(&t->tid), NULL, t->device_serial,
			  NULL, "pending past its deadline");
		p->n++;
	}
	return queue(p);
}

const struct store_ops fake_store_ops = {
	.nup = f_nup,
	.admit_ir = f_admit_ir,
	.admit_ra_ir = f_admit_ra_ir,
	.ir_commit = f_ir_commit,
	.ra_ir_commit = f_ra_ir_commit,
	.txn_get = f_txn_get,
	.confirm = f_confirm,
	.certconf = f_certconf,
	.sweep = f_sweep,
	.audit = f_audit,
	.vendors = f_vendors,
	.renew_lookup = f_renew_lookup,
	.renew_admit = f_renew_admit,
	.renew_commit = f_renew_commit,
	.revoke = f_revoke,
	.crl_current = f_crl_current,
	.crl_rows = f_crl_rows,
	.crl_store = f_crl_store,
	.token_get = f_token_get,
	.token_ir_commit = f_token_ir_commit,
	.fwd_begin = f_fwd_begin,
	.fwd_begin_renew = f_fwd_begin_renew,
	.fwd_done = f_fwd_done,
	.fwd_fail = f_fwd_fail,
	.fwd_get = f_fwd_get,
	.fwd_sweep = f_fwd_sweep,
};

/* ---- life, seeding, inspection ---- */

struct fake_store *fake_store_new(struct event_base *base)
{
	struct fake_store *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->base = base;
	fs->nup = 1;
	for (int i = 0; i < FAKE_OP_COUNT; i++)
		fs->force[i] = STORE_OUT_COUNT;
	return fs;
}

void fake_store_free(struct fake_store *fs)
{
	if (!fs)
		return;
	while (fs->pending) {
		struct pend *p = fs->pending;
		fs->pending = p->next;
		event_free(p->ev);
		free(p->issuer);
		free(p);
	}
	for (size_t i = 0; i < fs->n_vendors; i++) {
		struct fake_vendor *v = &fs->vendors[i];
		for (size_t j = 0; j < v->n; j++) {
			free(v->kinds[j]);
			fb_free(&v->ders[j]);
		}
		free(v->kinds);
		free(v->ders);
		free(v->name);
		free(v->rule);
	}
	free(fs->vendors);
	for (size_t i = 0; i < fs->n_serials; i++)
		free(fs->serials[i].serial);
	free(fs->serials);
	for (size_t i = 0; i < fs->n_certs; i++) {
		struct fake_cert *c = &fs->certs[i];
		free(c->issuer);
		free(c->serial_hex);
		free(c->subject);
		free(c->alias);
		free(c->device_serial);
		fb_free(&c->der);
	}
	free(fs->certs);
	for (size_t i = 0; i < fs->n_txns; i++)
		txn_clear(&fs->txns[i]);
	free(fs->txns);
	if (fs->tmpl)
		txn_clear(fs->tmpl);
	free(fs->tmpl);
	for (size_t i = 0; i < fs->n_tokens; i++) {
		free(fs->tokens[i].ref);
		free(fs->tokens[i].alias);
		free(fs->tokens[i].identity);
		fb_free(&fs->tokens[i].secret_enc);
	}
	free(fs->tokens);
	for (size_t i = 0; i < fs->n_crls; i++) {
		free(fs->crls[i].issuer);
		free(fs->crls[i].fp);
		fb_free(&fs->crls[i].der);
	}
	free(fs->crls);
	for (size_t i = 0; i < fs->n_audit; i++) {
		struct fake_audit *a = &fs->audit[i];
		free(a->event);
		free(a->alias);
		free(a->tid_hex);
		free(a->vendor);
		free(a->serial);
		free(a->peer);
		free(a->detail);
	}
	free(fs->audit);
	free(fs);
}

int fake_store_add_vendor(struct fake_store *fs, int64_t id, const char *name, const char *rule,
			  bool allow_reenroll)
{
	struct fake_vendor *v = grow(&fs->vendors, &fs->n_vendors, sizeof(*v));

	if (!v)
		return RC_NOMEM;
	v->id = id;
	v->name = dup0(name);
	v->rule = dup0(rule ? rule : "subject_serialnumber");
	v->allow_reenroll = allow_reenroll;
	return v->name && v->rule ? 0 : RC_NOMEM;
}

int fake_store_vendor_reenroll(struct fake_store *fs, int64_t id, bool allow)
{
	struct fake_vendor *v = vendor_by_id(fs, id);

	if (!v)
		return RC_INVAL;
	v->allow_reenroll = allow;
	return 0;
}

int fake_store_add_vendor_cert(struct fake_store *fs, int64_t vendor_id, const char *kind, X509 *x)
{
	struct fake_vendor *v = vendor_by_id(fs, vendor_id);
	unsigned char *der = NULL;
	int len;
	char **kinds;
	struct fake_bytes *ders;

	if (!v || (len = i2d_X509(x, &der)) <= 0)
		return RC_INVAL;
	kinds = realloc(v->kinds, (v->n + 1) * sizeof(*kinds));
	if (kinds)
		v->kinds = kinds;
	ders = realloc(v->ders, (v->n + 1) * sizeof(*ders));
	if (ders)
		v->ders = ders;
	if (!kinds || !ders || !(v->kinds[v->n] = strdup(kind))) {
		OPENSSL_free(der);
		return RC_NOMEM;
	}
	if (bdup(&v->ders[v->n], der, (size_t)len) != 0) {
		free(v->kinds[v->n]);
		OPENSSL_free(der);
		return RC_NOMEM;
	}
	v->n++;
	OPENSSL_free(der);
	return 0;
}

int fake_store_add_serial(struct fake_store *fs, int64_t vendor_id, const char *serial,
			  enum fake_serial_state state)
{
	struct fake_serial *s = serial_row(fs, vendor_id, serial);

	if (s) {
		s->state = state;
		return 0;
	}
	if (!(s = grow(&fs->serials, &fs->n_serials, sizeof(*s))))
		return RC_NOMEM;
	s->vendor_id = vendor_id;
	s->state = state;
	if (!(s->serial = strdup(serial))) {
		fs->n_serials--;
		return RC_NOMEM;
	}
	return 0;
}

int fake_store_bind_serial(struct fake_store *fs, int64_t vendor_id, const char *serial, X509 *x)
{
	struct fake_serial *s = serial_row(fs, vendor_id, serial);

	if (!s || ra_trust_spki_fp(x, s->key_fp) != 0)
		return RC_INVAL;
	s->bound = true;
	return 0;
}

int fake_store_add_cert(struct fake_store *fs, X509 *x, enum store_outcome status,
			int64_t vendor_id, const char *device_serial, const char *alias,
			int64_t *id)
{
	struct ra_issued f;
	struct fake_cert *c;
	int rc = ra_issued_facts(x, &f);

	if (rc != 0)
		return rc;
	if (!(c = grow(&fs->certs, &fs->n_certs, sizeof(*c)))) {
		ra_issued_clear(&f);
		return RC_NOMEM;
	}
	c->id = (int64_t)fs->n_certs;
	c->issuer = strdup(f.issuer);
	c->serial_hex = strdup(f.serial_hex);
	c->subject = strdup(f.subject);
	c->alias = dup0(alias);
	c->device_serial = dup0(device_serial);
	memcpy(c->key_fp, f.key_fp, 32);
	c->status = status;
	c->vendor_id = vendor_id;
	c->reason = status == STORE_OUT_REVOKED ? 1 : -1;
	rc = bdup(&c->der, f.der, f.len);
	ra_issued_clear(&f);
	if (id)
		*id = c->id;
	return rc || !c->issuer || !c->serial_hex ? RC_NOMEM : 0;
}

int fake_store_cert_set_status(struct fake_store *fs, int64_t id, enum store_outcome status)
{
	struct fake_cert *c = cert_by_id(fs, id);

	if (!c)
		return RC_INVAL;
	c->status = status;
	c->reason = status == STORE_OUT_REVOKED ? 1 : -1;
	return 0;
}

int fake_store_add_txn(struct fake_store *fs, const struct fake_txn *t)
{
	struct fake_txn *d;

	if (!t->tid.p)
		return RC_INVAL;
	if (!(d = grow(&fs->txns, &fs->n_txns, sizeof(*d))))
		return RC_NOMEM;
	if (txn_copy(d, t) != 0) {
		fs->n_txns--;
		return RC_NOMEM;
	}
	return 0;
}

int fake_store_add_token(struct fake_store *fs, const char *ref, const char *alias,
			 const char *identity, const unsigned char *sealed, size_t sealed_len,
			 enum fake_token_state state, bool expired)
{
	struct fake_token *k = grow(&fs->tokens, &fs->n_tokens, sizeof(*k));

	if (!k)
		return RC_NOMEM;
	k->ref = dup0(ref);
	k->alias = dup0(alias);
	k->identity = dup0(identity);
	k->state = state;
	k->expired = expired;
	if (!k->ref || !k->alias || !k->identity || bdup(&k->secret_enc, sealed, sealed_len))
		return RC_NOMEM;
	return 0;
}

int fake_store_token_set(struct fake_store *fs, const char *ref, enum fake_token_state state,
			 bool expired, const char *alias)
{
	long i = token_index(fs, ref);
	char *a;

	if (i < 0)
		return RC_INVAL;
	fs->tokens[i].state = state;
	fs->tokens[i].expired = expired;
	if (alias) {
		if (!(a = strdup(alias)))
			return RC_NOMEM;
		free(fs->tokens[i].alias);
		fs->tokens[i].alias = a;
	}
	return 0;
}

int fake_store_set_txn_template(struct fake_store *fs, const struct fake_txn *t)
{
	struct fake_txn *d = NULL;
	static const unsigned char none[1];

	if (t) {
		struct fake_txn c = *t;
		if (!c.tid.p) /* txn_copy wants one; replaced at each use */
			c.tid = (struct fake_bytes){ (unsigned char *)none, sizeof(none) };
		if (!(d = calloc(1, sizeof(*d))) || txn_copy(d, &c) != 0) {
			free(d);
			return RC_NOMEM;
		}
	}
	if (fs->tmpl)
		txn_clear(fs->tmpl);
	free(fs->tmpl);
	fs->tmpl = d;
	return 0;
}

void fake_store_fault(struct fake_store *fs, enum fake_op op, enum fake_fault f)
{
	fs->faults[op] = f;
}

void fake_store_force(struct fake_store *fs, enum fake_op op, enum store_outcome st)
{
	fs->force[op] = st;
}

void fake_store_on_call(struct fake_store *fs, void (*fn)(void *arg, enum fake_op op), void *arg)
{
	fs->on_call = fn;
	fs->on_call_arg = arg;
}

void fake_store_set_nup(struct fake_store *fs, int n)
{
	fs->nup = n;
}

unsigned fake_store_calls(const struct fake_store *fs, enum fake_op op)
{
	return fs->calls[op];
}

unsigned fake_store_calls_total(const struct fake_store *fs)
{
	unsigned n = 0;

	for (int i = 0; i < FAKE_OP_COUNT; i++)
		if (i != FAKE_NUP && i != FAKE_AUDIT)
			n += fs->calls[i];
	return n;
}

size_t fake_store_pending(const struct fake_store *fs)
{
	return fs->n_pending;
}

size_t fake_store_n_audit(const struct fake_store *fs)
{
	return fs->n_audit;
}

const struct fake_audit *fake_store_audit_at(const struct fake_store *fs, size_t i)
{
	return i < fs->n_audit ? &fs->audit[i] : NULL;
}

size_t fake_store_audit_count(const struct fake_store *fs, const char *event,
			      const char *detail_part)
{
	size_t n = 0;

	for (size_t i = 0; i < fs->n_audit; i++)
		if (fs->audit[i].event && strcmp(fs->audit[i].event, event) == 0 &&
		    (!detail_part ||
		     (fs->audit[i].detail && strstr(fs->audit[i].detail, detail_part))))
			n++;
	return n;
}

size_t fake_store_n_txn(const struct fake_store *fs)
{
	return fs->n_txns;
}

const struct fake_txn *fake_store_txn_at(const struct fake_store *fs, size_t i)
{
	return i < fs->n_txns ? &fs->txns[i] : NULL;
}

const struct fake_txn *fake_store_txn_find(const struct fake_store *fs, const unsigned char *tid,
					   size_t len)
{
	long i = txn_index(fs, tid, len);
	return i >= 0 ? &fs->txns[i] : NULL;
}

size_t fake_store_n_cert(const struct fake_store *fs)
{
	return fs->n_certs;
}

const struct fake_cert *fake_store_cert_at(const struct fake_store *fs, size_t i)
{
	return i < fs->n_certs ? &fs->certs[i] : NULL;
}

const struct fake_cert *fake_store_cert_by_id(const struct fake_store *fs, int64_t id)
{
	return cert_by_id((struct fake_store *)fs, id);
}

const struct fake_serial *fake_store_serial_find(const struct fake_store *fs, int64_t vendor_id,
						 const char *serial)
{
	return serial_row(fs, vendor_id, serial);
}

const struct fake_token *fake_store_token_find(const struct fake_store *fs, const char *ref)
{
	long i = token_index(fs, ref);
	return i >= 0 ? &fs->tokens[i] : NULL;
}

size_t fake_store_n_crl(const struct fake_store *fs)
{
	return fs->n_crls;
}

/* ---- a worker of ra/ on the fake ---- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	unsigned char buf[8192];
	FILE *in = fopen(from, "rb");
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, mode);
	FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
	size_t n;
	int rc = 0;

	if (!in || !out)
		rc = RC_IO;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = RC_IO;
	if (in)
		fclose(in);
	if (out) {
		if (fclose(out) != 0)
			rc = RC_IO;
	} else if (fd >= 0) {
		close(fd);
	}
	return rc;
}

int fake_cfg_load(const char *dir, struct cfg **out)
{
	char tmp[] = "/tmp/cmpgw-fake-XXXXXX", from[4096], to[4096], err[512];
	DIR *d = NULL;
	struct dirent *e;
	int rc = 0;

	*out = NULL;
	if (!mkdtemp(tmp) || !(d = opendir(dir))) {
		fprintf(stderr, "fake_cfg_load: %s: %s\n", dir, strerror(errno));
		return RC_IO;
	}
	while (rc == 0 && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", tmp, e->d_name);
		rc = copy_file(from, to,
			       (l > 4 && strcmp(e->d_name + l - 4, ".key") == 0) ? 0600 : 0644);
	}
	closedir(d);
	snprintf(to, sizeof(to), "%s/cmpgw.json", tmp);
	if (rc == 0 && (rc = cfg_load(to, out, err, sizeof(err))) != 0)
		fprintf(stderr, "fake_cfg_load: %s\n", err);
	if ((d = opendir(tmp))) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(to, sizeof(to), "%s/%s", tmp, e->d_name);
				unlink(to);
			}
		closedir(d);
	}
	rmdir(tmp);
	return rc;
}

struct ra_trust *fake_store_trust(const struct fake_store *fs)
{
	struct ra_trust *t = ra_trust_new();

	for (size_t i = 0; t && i < fs->n_vendors; i++) {
		const struct fake_vendor *v = &fs->vendors[i];
		if (ra_trust_add_vendor(t, v->id, v->name, v->rule, v->allow_reenroll) != 0)
			goto fail;
		for (size_t j = 0; j < v->n; j++)
			if (ra_trust_add_cert(t, v->id, v->kinds[j], v->ders[j].p,
					      v->ders[j].len) != 0)
				goto fail;
	}
	return t;
fail:
	ra_trust_free(t);
	return NULL;
}

struct fake_worker {
	struct ra_worker rw; /* first: the ra_worker * is the fake_worker * */
	struct worker w;
};

struct ra_worker *fake_worker_new(struct event_base *base, struct cfg *cfg, struct fake_store *fs)
{
	struct fake_worker *fw = calloc(1, sizeof(*fw));

	if (!fw)
		return NULL;
	fw->w.base = base;
	fw->w.cfg = cfg_get1(cfg);
	fw->w.app = &fw->rw;
	fw->rw.w = &fw->w;
	fw->rw.ops = &fake_store_ops;
	fw->rw.db = fs;
	if (!(fw->rw.trust = fake_store_trust(fs)) || !(fw->rw.certs = cmp_certcache_new()) ||
	    !(fw->rw.unauth = ra_unauth_new()) || !(fw->rw.crl = ra_crl_new(&fw->rw, false))) {
		fake_worker_free(&fw->rw);
		return NULL;
	}
	return &fw->rw;
}

void fake_worker_free(struct ra_worker *rw)
{
	struct fake_worker *fw = (struct fake_worker *)rw;

	if (!fw)
		return;
	ra_fwd_shutdown(rw);
	ra_fwd_fini(rw);
	ra_crl_free(rw->crl);
	ra_trust_free(rw->trust);
	cmp_certcache_free(rw->certs);
	ra_unauth_free(rw->unauth);
	cfg_free(fw->w.cfg);
	free(fw);
}

int fake_worker_reload(struct ra_worker *rw, const struct fake_store *fs)
{
	struct ra_trust *t = fake_store_trust(fs);

	if (!t)
		return RC_NOMEM;
	ra_trust_free(rw->trust);
	rw->trust = t;
	return 0;
}

static void sink_deliver(void *arg, enum ra_sink_what what, const unsigned char *der, size_t len,
			 bool continues)
{
	struct fake_answer *a = arg;

	a->n++;
	a->what = (int)what;
	a->continues = continues;
	free(a->der);
	a->der = NULL;
	a->len = 0;
	if (der && len && (a->der = malloc(len))) {
		memcpy(a->der, der, len);
		a->len = len;
	}
}

static bool sink_gone(void *arg)
{
	return ((struct fake_answer *)arg)->gone;
}

const struct ra_sink fake_sink = { sink_deliver, sink_gone, false };

void fake_answer_clear(struct fake_answer *a)
{
	free(a->der);
	memset(a, 0, sizeof(*a));
}

/* ---- the fixed environment of test/fuzz/data/ra/ ---- */

static X509 *env_cert(const char *dir, const char *file)
{
	char path[4096];
	FILE *f;
	X509 *x = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "r"))) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!x)
		fprintf(stderr, "fake_env: no certificate in %s\n", path);
	return x;
}

int fake_env_open(struct fake_env *e, const char *dir)
{
	struct ra_issued f;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = fake_cfg_load(dir, &e->cfg)) != 0)
		return rc;
	if (!(e->vendor_root = env_cert(dir, "vendor-root.pem")) ||
	    !(e->vendor_ca = env_cert(dir, "vendor-ca.pem")) ||
	    !(e->op_dev = env_cert(dir, "op-dev.pem")) || !(e->dev1 = env_cert(dir, "dev-1.pem")) ||
	    !(e->dev2 = env_cert(dir, "dev-2.pem")) || !(e->cmp = env_cert(dir, "cmp.pem")))
		return RC_IO;
	if ((rc = ra_issued_facts(e->op_dev, &f)) != 0)
		return rc;
	memcpy(e->op_dev_hash, f.hash, f.hlen);
	e->op_dev_hlen = f.hlen;
	ra_issued_clear(&f);
	if ((rc = ra_token_seal(e->cfg->token_key, FAKE_TOKEN_REF,
				(const unsigned char *)FAKE_TOKEN_SECRET, strlen(FAKE_TOKEN_SECRET),
				&e->sealed, &e->sealed_len)) != 0)
		return rc;
	if (!(e->base = event_base_new()))
		return RC_NOMEM;
	return fake_env_reset(e, false);
}

void fake_env_close(struct fake_env *e)
{
	if (e->base)
		event_base_loop(e->base, EVLOOP_NONBLOCK);
	fake_worker_free(e->rw);
	fake_store_free(e->fs);
	if (e->base)
		event_base_free(e->base);
	X509_free(e->vendor_root);
	X509_free(e->vendor_ca);
	X509_free(e->op_dev);
	X509_free(e->dev1);
	X509_free(e->dev2);
	X509_free(e->cmp);
	OPENSSL_free(e->sealed);
	cfg_free(e->cfg);
	if (e->log) {
		log_setup(LOG_INFO, false, 2);
		fclose(e->log);
	}
	memset(e, 0, sizeof(*e));
}

int fake_env_reset(struct fake_env *e, bool txn_template)
{
	struct fake_store *fs = fake_store_new(e->base);
	int rc;

	if (!fs)
		return RC_NOMEM;
	if ((rc = fake_store_add_vendor(fs, FAKE_VENDOR_ID, FAKE_VENDOR, NULL, true)) ||
	    (rc = fake_store_add_vendor_cert(fs, FAKE_VENDOR_ID, "anchor", e->vendor_root)) ||
	    (rc = fake_store_add_vendor_cert(fs, FAKE_VENDOR_ID, "intermediate", e->vendor_ca)) ||
	    (rc = fake_store_add_serial(fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_ALLOWED)) ||
	    (rc = fake_store_add_serial(fs, FAKE_VENDOR_ID, "FUZZ-0002", FAKE_SERIAL_BLOCKED)) ||
	    (rc = fake_store_add_cert(fs, e->op_dev, STORE_OUT_ACTIVE, FAKE_VENDOR_ID, "FUZZ-0001",
				      "3gpp", &e->op_dev_id)) ||
	    (rc = fake_store_add_token(fs, FAKE_TOKEN_REF, "3gpp", "token-device-1", e->sealed,
				       e->sealed_len, FAKE_TOKEN_ACTIVE, false)))
		goto fail;
	if (txn_template) {
		struct fake_txn t = { .alias = "3gpp",
				      .body = "ir",
				      .device_serial = "FUZZ-0001",
				      .state = STORE_OUT_ISSUED,
				      .cert_hash = { e->op_dev_hash, e->op_dev_hlen },
				      .cert_req_id = -1,
				      .cert_id = e->op_dev_id,
				      .vendor_id = FAKE_VENDOR_ID,
				      .fail_info = -1 };
		if ((rc = fake_store_set_txn_template(fs, &t)) != 0)
			goto fail;
	}
	if (!e->rw) {
		if (!(e->rw = fake_worker_new(e->base, e->cfg, fs))) {
			rc = RC_NOMEM;
			goto fail;
		}
	} else {
		struct ra_unauth *u = ra_unauth_new();
		if (!u || (rc = fake_worker_reload(e->rw, fs)) != 0) {
			ra_unauth_free(u);
			rc = rc ? rc : RC_NOMEM;
			goto fail;
		}
		ra_unauth_free(e->rw->unauth);
		e->rw->unauth = u;
	}
	fake_store_free(e->fs);
	e->fs = fs;
	e->rw->db = fs;
	fake_env_log_mark(e);
	return 0;
fail:
	fake_store_free(fs);
	return rc;
}

void fake_env_submit(struct fake_env *e, const char *label, const unsigned char *der, size_t len,
		     struct fake_answer *a)
{
	const struct cfg_alias *alias = cfg_alias_find(e->cfg, label);

	fake_answer_clear(a);
	ra_submit(e->rw, e->cfg, alias, der, len, FAKE_PEER, &fake_sink, a);
	event_base_dispatch(e->base);
}

int fake_env_capture_log(struct fake_env *e)
{
	if (!e->log && !(e->log = tmpfile()))
		return RC_IO;
	log_setup(LOG_INFO, false, fileno(e->log));
	fake_env_log_mark(e);
	return 0;
}

void fake_env_log_mark(struct fake_env *e)
{
	if (!e->log)
		return;
	fflush(e->log);
	fseek(e->log, 0, SEEK_END);
	e->log_mark = ftell(e->log);
}

int fake_env_log_count(struct fake_env *e, const char *needle)
{
	char line[2048];
	int n = 0;

	if (!e->log)
		return -1;
	fflush(e->log);
	fseek(e->log, e->log_mark, SEEK_SET);
	while (fgets(line, sizeof(line), e->log))
		if (strstr(line, needle))
			n++;
	return n;
}

void fake_env_run(struct fake_env *e, const char *label, const char *dir, const char *name,
		  struct fake_answer *a, struct fake_reply *r)
{
	char path[4096];
	unsigned char *der;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fake_read_file(path, &der, &len) != 0) {
		fprintf(stderr, "fake_env_run: cannot read %s\n", path);
		abort();
	}
	fake_env_submit(e, label, der, len, a);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
	free(der);
}

void fake_env_must_reset(struct fake_env *e)
{
	if (fake_env_reset(e, false) != 0) {
		printf("Bail out! cannot reset the store\n");
		exit(1);
	}
}

int fake_env_signatures(struct fake_env *e)
{
	int n = fake_env_log_count(e, "CA signature");

	fake_env_log_mark(e);
	return n;
}

static void gone_hook(void *arg, enum fake_op op)
{
	struct fake_env *e = arg;

	if (op == e->gone_at)
		e->gone_a->gone = true;
}

void fake_env_run_gone(struct fake_env *e, const char *label, const char *dir, const char *name,
		       enum fake_op at, struct fake_answer *a, struct fake_reply *r)
{
	e->gone_at = at;
	e->gone_a = a;
	fake_store_on_call(e->fs, gone_hook, e);
	fake_env_run(e, label, dir, name, a, r);
	fake_store_on_call(e->fs, NULL, NULL);
}

CMPGW_MSG *fake_load_msg(const char *dir, const char *name)
{
	char path[4096];
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	CMPGW_MSG *m;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fake_read_file(path, &der, &len) != 0) {
		fprintf(stderr, "fake_load_msg: cannot read %s\n", path);
		abort();
	}
	p = der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)len);
	free(der);
	return m;
}

/* One PEM object of RA_DATA_DIR/file through rd, or bail out. */
static void *load_pem(const char *file, void *(*rd)(FILE *f))
{
	char path[4096];
	FILE *f;
	void *obj = NULL;

	snprintf(path, sizeof(path), "%s/%s", RA_DATA_DIR, file);
	if ((f = fopen(path, "r"))) {
		obj = rd(f);
		fclose(f);
	}
	if (!obj) {
		printf("Bail out! %s\n", path);
		exit(1);
	}
	return obj;
}

static void *read_key(FILE *f)
{
	return PEM_read_PrivateKey(f, NULL, NULL, NULL);
}

static void *read_cert(FILE *f)
{
	return PEM_read_X509(f, NULL, NULL, NULL);
}

EVP_PKEY *fake_load_key(const char *file)
{
	return load_pem(file, read_key);
}

X509 *fake_load_cert(const char *file)
{
	return load_pem(file, read_cert);
}

int fake_read_file(const char *path, unsigned char **der, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*der = NULL;
	*len = 0;
	if (!f)
		return RC_IO;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(*der = malloc(n ? (size_t)n : 1)) || fread(*der, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*der);
		*der = NULL;
		return RC_IO;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static const CMPGW_STATUSINFO *reply_status(const CMPGW_MSG *m)
{
	switch (m->body->type) {
	case CMP_BODY_ERROR:
		return m->body->value.error->pKIStatusInfo;
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP: {
		STACK_OF(CMPGW_CERTRESPONSE) *r = m->body->value.ip->response;
		return sk_CMPGW_CERTRESPONSE_num(r) > 0 ? sk_CMPGW_CERTRESPONSE_value(r, 0)->status
							: NULL;
	}
	case CMP_BODY_RP:
		return sk_CMPGW_STATUSINFO_num(m->body->value.rp->status) > 0
			       ? sk_CMPGW_STATUSINFO_value(m->body->value.rp->status, 0)
			       : NULL;
	default:
		return NULL;
	}
}

int fake_reply_decode(const struct fake_answer *a, struct fake_reply *r)
{
	const unsigned char *p = a->der;
	const CMPGW_STATUSINFO *si;
	CMPGW_MSG *m;

	memset(r, 0, sizeof(*r));
	r->bit = -1;
	r->status = -1;
	if (a->n != 1 || a->what != RA_SINK_ANSWER || !a->der)
		return -1;
	if (!(m = d2i_CMPGW_MSG(NULL, &p, (long)a->len)) || p != a->der + a->len) {
		CMPGW_MSG_free(m);
		return -1;
	}
	r->msg = m;
	r->body = m->body->type;
	r->implicit = cmp_build_has_implicit_confirm(m);
	if ((si = reply_status(m))) {
		r->status = ASN1_INTEGER_get(si->status);
		for (int b = 0; b <= CMP_FAIL_MAX && r->bit < 0; b++)
			if (si->failInfo && ASN1_BIT_STRING_get_bit(si->failInfo, b))
				r->bit = b;
		for (int i = 0; i < sk_ASN1_UTF8STRING_num(si->statusString); i++) {
			const ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(si->statusString, i);
			size_t o = strlen(r->text);
			snprintf(r->text + o, sizeof(r->text) - o, "%s%.*s", i ? "; " : "",
				 s->length, (const char *)s->data);
		}
	}
	if (r->body == CMP_BODY_IP || r->body == CMP_BODY_CP || r->body == CMP_BODY_KUP) {
		const CMPGW_CERTREPMSG *rep = m->body->value.ip;
		const CMPGW_CERTRESPONSE *cr =
			sk_CMPGW_CERTRESPONSE_num(rep->response) > 0
				? sk_CMPGW_CERTRESPONSE_value(rep->response, 0)
				: NULL;
		r->has_cert = cr && cr->certifiedKeyPair && cr->certifiedKeyPair->certOrEncCert &&
			      cr->certifiedKeyPair->certOrEncCert->type == CMPGW_CERTORENC_CERT;
		r->n_capubs = rep->caPubs ? sk_X509_num(rep->caPubs) : 0;
	}
	return 0;
}

void fake_reply_clear(struct fake_reply *r)
{
	CMPGW_MSG_free(r->msg);
	memset(r, 0, sizeof(*r));
}
