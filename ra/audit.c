/*
 * ra/audit.c - bounds on unauthenticated work: audit rows and failed MAC
 * checks per peer address and token reference (ra/audit.h).
 */
#include "ra/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ratelimit.h"
#include "store/enroll.h"
#include "store/ops.h"

#define WINDOW_S 60

struct ra_unauth {
	struct ratelimit *audit;       /* audit rows per peer address */
	struct ratelimit *mac_peer;    /* failed MAC checks per peer address */
	struct ratelimit *mac_ref;     /* failed MAC checks per token reference */
	struct ratelimit *key_peer;    /* failed admin API key checks per peer address */
	unsigned long long suppressed; /* audit rows held back since start */
};

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* "addr:port" -> "addr" (IPv6 addresses keep their colons). */
static void peer_addr(const char *peer, char *out, size_t len)
{
	const char *colon = peer ? strrchr(peer, ':') : NULL;
	size_t n = colon ? (size_t)(colon - peer) : (peer ? strlen(peer) : 0);

	snprintf(out, len, "%.*s", (int)n, peer ? peer : "");
}

struct ra_unauth *ra_unauth_new(void)
{
	struct ra_unauth *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->audit = ratelimit_new(WINDOW_S);
	u->mac_peer = ratelimit_new(WINDOW_S);
	u->mac_ref = ratelimit_new(WINDOW_S);
	u->key_peer = ratelimit_new(WINDOW_S);
	if (!u->audit || !u->mac_peer || !u->mac_ref || !u->key_peer) {
		ra_unauth_free(u);
		return NULL;
	}
	return u;
}

void ra_unauth_free(struct ra_unauth *u)
{
	if (!u)
		return;
	ratelimit_free(u->audit);
	ratelimit_free(u->mac_peer);
	ratelimit_free(u->mac_ref);
	ratelimit_free(u->key_peer);
	free(u);
}

/* The count row of a peer's minute that ended with rows held back. */
static void write_count(struct ra_worker *rw, const char *alias, const char *addr, unsigned count,
			int limit)
{
	struct store_bytes none = { NULL, 0 };
	char detail[160];

	if (count <= (unsigned)limit)
		return;
	snprintf(detail, sizeof(detail), "%u rows suppressed for peer %s", count - (unsigned)limit,
		 addr);
	log_warn(NULL, "audit: %s (%llu since start on this worker)", detail,
		 rw->unauth->suppressed);
	rw->ops->audit(rw->db, "audit_suppressed", alias, none, NULL, NULL, addr, detail);
}

void ra_audit_unauth(struct ra_req *req, const char *event, const char *vendor, const char *serial,
		     const char *detail)
{
	const ASN1_OCTET_STRING *t = req->msg ? req->msg->header->transactionID : NULL;
	struct store_bytes tid = { t ? t->data : NULL, t ? (size_t)t->length : 0 };
	struct ra_unauth *u = req->rw->unauth;
	int limit = req->cfg->audit_unauth_per_min;
	unsigned n, ended = 0;
	char addr[80], text[200];

	peer_addr(req->log.peer, addr, sizeof(addr));
	n = ratelimit_hit(u->audit, addr, now_s(), &ended);
	write_count(req->rw, req->alias ? req->alias->label : NULL, addr, ended, limit);
	if (n <= (unsigned)limit) {
		req->rw->ops->audit(req->rw->db, event, req->alias ? req->alias->label : NULL, tid,
				    vendor, serial, req->log.peer, detail);
		return;
	}
	u->suppressed++;
	if (n != (unsigned)limit + 1)
		return;
	/* first row over the budget this minute: say so once; the count
	 * follows when the minute ends (here or in ra_unauth_sweep) */
	snprintf(text, sizeof(text),
		 "rows suppressed for peer %s: over %d per minute; the count follows when the "
		 "minute ends",
		 addr, limit);
	log_warn(&req->log, "audit: %s", text);
	req->rw->ops->audit(req->rw->db, "audit_suppressed", req->alias ? req->alias->label : NULL,
			    tid, NULL, NULL, addr, text);
}

bool ra_unauth_mac_blocked(struct ra_req *req, const char *ref)
{
	struct ra_unauth *u = req->rw->unauth;
	unsigned limit = (unsigned)req->cfg->mac_fail_per_min;
	int64_t now = now_s();
	char addr[80];

	peer_addr(req->log.peer, addr, sizeof(addr));
	return ratelimit_count(u->mac_peer, addr, now) >= limit ||
	       (ref && ratelimit_count(u->mac_ref, ref, now) >= limit);
}

void ra_unauth_mac_failed(struct ra_req *req, const char *ref)
{
	struct ra_unauth *u = req->rw->unauth;
	int64_t now = now_s();
	char addr[80];

	peer_addr(req->log.peer, addr, sizeof(addr));
	ratelimit_hit(u->mac_peer, addr, now, NULL);
	if (ref)
		ratelimit_hit(u->mac_ref, ref, now, NULL);
}

bool ra_unauth_key_blocked(struct ra_worker *rw, const char *peer)
{
	char addr[80];

	peer_addr(peer, addr, sizeof(addr));
	return ratelimit_count(rw->unauth->key_peer, addr, now_s()) >=
	       (unsigned)rw->w->cfg->admin_key_fail_per_min;
}

void ra_unauth_key_failed(struct ra_worker *rw, const char *peer)
{
	char addr[80];

	peer_addr(peer, addr, sizeof(addr));
	ratelimit_hit(rw->unauth->key_peer, addr, now_s(), NULL);
}

struct sweep {
	struct ra_worker *rw;
	int limit;
};

static void on_ended(void *arg, const char *addr, unsigned count)
{
	struct sweep *s = arg;

	write_count(s->rw, NULL, addr, count, s->limit);
}

void ra_unauth_sweep(struct ra_worker *rw)
{
	struct sweep s = { rw, rw->w->cfg->audit_unauth_per_min };
	int64_t now = now_s();

	ratelimit_expire(rw->unauth->audit, now, on_ended, &s);
	ratelimit_expire(rw->unauth->mac_peer, now, NULL, NULL);
	ratelimit_expire(rw->unauth->mac_ref, now, NULL, NULL);
	ratelimit_expire(rw->unauth->key_peer, now, NULL, NULL);
}

void ra_audit_req(struct ra_req *req, const char *event, const char *detail)
{
	struct store_bytes tid = { req->msg->header->transactionID->data,
				   (size_t)req->msg->header->transactionID->length };
	req->rw->ops->audit(req->rw->db, event, req->alias->label, tid,
			    req->cr.vendor ? req->cr.vendor->name : NULL,
			    req->cr.serial[0] ? req->cr.serial : NULL, req->log.peer, detail);
}
