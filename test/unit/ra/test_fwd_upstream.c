/*
 * test/unit/ra/test_fwd_upstream.c - ra/fwd with an upstream CA that
 * answers: an in-process CMP server (libevent HTTP on the worker's own
 * loop, 127.0.0.1, a free port) plays the upstream of alias "ra", signed
 * by the CMP signer cmp.pem (id-kp-cmcRA, chaining to op-root.pem, the
 * alias' upstream.trusted) and issuing with ca.key. A device's ir is
 * forwarded, the upstream's certificate stored (fwd_done: transaction
 * issued, serial bound to the vendor key) and answered; an upstream error
 * is relayed to the device and closes the row; an upstream certificate
 * whose issuer and serial the gateway already holds is refused
 * (fwd_done "duplicate"); a database fault when storing it; an upstream
 * slower than wait_after_s: status waiting, pollRep, then the ip.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/trust.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

static struct fake_env env;
static const unsigned char tid1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

/* the upstream */
enum up_mode { UP_ISSUE, UP_ERROR };
static struct {
	struct evhttp *http;
	enum up_mode mode;
	long serial; /* of the next certificate; fixed: the duplicate case */
	int requests;
	int delay_ms; /* answer this late (the device is told to poll meanwhile) */
	X509 *ca;
	EVP_PKEY *ca_key, *cmp_key;
	STACK_OF(X509) *chain; /* cmp.pem, ca.pem */
} up;

/* A certificate for the template of crm, issued by ca.pem. */
static X509 *issue(const CMPGW_CERTREQMSG *crm)
{
	const CMPGW_CERTTEMPLATE *t = crm->certReq->certTemplate;
	EVP_PKEY *pub = X509_PUBKEY_get(t->publicKey);
	X509 *x = X509_new();

	if (!pub || !x || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), up.serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(up.ca)) ||
	    !X509_set_subject_name(x, t->subject) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, pub) ||
	    !X509_sign(x, up.ca_key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	EVP_PKEY_free(pub);
	return x;
}

static CMPGW_MSG *answer(const CMPGW_MSG *req)
{
	int t = req->body->type;
	CMPGW_MSG *rsp = NULL;

	if (up.mode == UP_ERROR)
		return cmp_build_error(req, sk_X509_value(up.chain, 0), CMP_FAIL_BAD_CERT_TEMPLATE,
				       "upstream says no");
	if (t == CMP_BODY_IR || t == CMP_BODY_CR || t == CMP_BODY_KUR) {
		const CMPGW_CERTREQMSG *crm = sk_CMPGW_CERTREQMSG_value(req->body->value.ir, 0);
		X509 *cert = crm ? issue(crm) : NULL;
		CMPGW_STATUSINFO *si = cmp_build_statusinfo(CMP_STATUS_ACCEPTED, -1, NULL);
		rsp = cmp_build_response(req, sk_X509_value(up.chain, 0),
					 t == CMP_BODY_CR    ? CMP_BODY_CP
					 : t == CMP_BODY_KUR ? CMP_BODY_KUP
							     : CMP_BODY_IP);
		if (!cert || !si || !rsp ||
		    cmp_build_certrep_add(rsp, ASN1_INTEGER_get(crm->certReq->certReqId), si,
					  cert)) {
			CMPGW_STATUSINFO_free(si);
			CMPGW_MSG_free(rsp);
			rsp = NULL;
		}
		X509_free(cert);
		return rsp;
	}
	return cmp_build_response(req, sk_X509_value(up.chain, 0), CMP_BODY_PKICONF);
}

struct late {
	struct evhttp_request *hr;
	struct evbuffer *out;
};

static void send_late(evutil_socket_t fd, short what, void *arg)
{
	struct late *l = arg;
	(void)fd;
	(void)what;
	evhttp_add_header(evhttp_request_get_output_headers(l->hr), "Content-Type",
			  "application/pkixcmp");
	evhttp_send_reply(l->hr, 200, "OK", l->out);
	evbuffer_free(l->out);
	free(l);
}

static void on_upstream(struct evhttp_request *hr, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(hr);
	size_t len = evbuffer_get_length(in);
	unsigned char *body = evbuffer_pullup(in, -1), *der = NULL;
	const unsigned char *p = body;
	CMPGW_MSG *req = len ? d2i_CMPGW_MSG(NULL, &p, (long)len) : NULL, *rsp;
	size_t dlen = 0;
	struct evbuffer *out = evbuffer_new();
	(void)arg;

	up.requests++;
	rsp = req ? answer(req) : NULL;
	if (!rsp || cmp_build_extracerts_push1(rsp, up.chain) != 0 ||
	    cmp_prot_sign_der(rsp, up.cmp_key, &der, &dlen) != 0 || !out ||
	    evbuffer_add(out, der, dlen) != 0) {
		evhttp_send_error(hr, 500, NULL);
	} else if (up.delay_ms > 0) {
		struct late *l = malloc(sizeof(*l));
		struct timeval tv = { up.delay_ms / 1000, (up.delay_ms % 1000) * 1000 };
		if (l) {
			l->hr = hr;
			l->out = out;
			out = NULL;
			if (event_base_once(env.base, -1, EV_TIMEOUT, send_late, l, &tv) != 0)
				send_late(-1, 0, l);
		}
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(hr), "Content-Type",
				  "application/pkixcmp");
		evhttp_send_reply(hr, 200, "OK", out);
	}
	if (out)
		evbuffer_free(out);
	OPENSSL_free(der);
	CMPGW_MSG_free(req);
	CMPGW_MSG_free(rsp);
}

/* Start the upstream and point alias "ra" at it. */
static int upstream_start(void)
{
	struct evhttp_bound_socket *s;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct cfg_alias *ra = (struct cfg_alias *)cfg_alias_find(env.cfg, "ra");
	char url[64];

	up.ca = fake_load_cert("ca.pem");
	up.ca_key = fake_load_key("ca.key");
	up.cmp_key = fake_load_key("cmp.key");
	up.chain = sk_X509_new_null();
	if (!up.chain || !sk_X509_push(up.chain, fake_load_cert("cmp.pem")) ||
	    !sk_X509_push(up.chain, fake_load_cert("ca.pem")))
		return -1;
	if (!(up.http = evhttp_new(env.base)) ||
	    !(s = evhttp_bind_socket_with_handle(up.http, "127.0.0.1", 0)) ||
	    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	evhttp_set_gencb(up.http, on_upstream, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	/* the loaded snapshot is the test's own */
	free(ra->upstream.url);
	ra->upstream.url = strdup(url);
	return ra->upstream.url ? 0 : -1;
}

static void upstream_stop(void)
{
	if (up.http)
		evhttp_free(up.http);
	X509_free(up.ca);
	EVP_PKEY_free(up.ca_key);
	EVP_PKEY_free(up.cmp_key);
	sk_X509_pop_free(up.chain, X509_free);
}

static void reset(enum up_mode mode)
{
	fake_env_must_reset(&env);
	up.mode = mode;
	up.requests = 0;
	up.delay_ms = 0;
	if (RAND_bytes((unsigned char *)&up.serial, sizeof(up.serial)) != 1)
		up.serial = 4711;
	up.serial = (up.serial & 0x7fffffff) | 1;
}

/* fake_env_run, but the listening upstream keeps the loop alive: run it
 * until the device's answer came and the store is idle (10 s at most). */
static void run(const char *label, const char *name, struct fake_answer *a, struct fake_reply *r)
{
	char path[4096];
	unsigned char *der;
	size_t len;
	struct timeval limit = { 10, 0 };
	time_t end = time(NULL) + limit.tv_sec;

	snprintf(path, sizeof(path), "%s/%s", RA_CORPUS_DIR, name);
	if (fake_read_file(path, &der, &len) != 0) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fake_answer_clear(a);
	ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, label), der, len, FAKE_PEER, &fake_sink,
		  a);
	while ((a->n == 0 || fake_store_pending(env.fs) > 0) && time(NULL) < end)
		event_base_loop(env.base, EVLOOP_ONCE);
	for (int i = 0; i < 10; i++)
		event_base_loop(env.base, EVLOOP_NONBLOCK);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
	free(der);
}

static void test_issued(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;
	const struct fake_cert *c;
	unsigned char fp[32];

	reset(UP_ISSUE);
	run("ra", "ir_dev1.der", &a, &r);
	is_int(up.requests, 1, "forwarded: one upstream request");
	is_int(r.body, CMP_BODY_IP, "forwarded: ip to the device");
	ok(r.has_cert, "forwarded: with the upstream's certificate");
	ok(a.continues, "forwarded: certConf expected");
	ok(r.msg && cmp_prot_verify_sig(a.der, a.len, r.msg, env.cmp) == 0,
	   "forwarded: re-signed by the gateway");
	is_int(fake_store_calls(env.fs, FAKE_FWD_BEGIN), 1, "forwarded: one fwd_begin");
	is_int(fake_store_calls(env.fs, FAKE_FWD_DONE), 1, "forwarded: one fwd_done");
	is_int(fake_env_log_count(&env, "CA signature"), 0, "forwarded: our CA signs nothing");
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_ISSUED, "forwarded: transaction issued");
	ok(t && t->upstream_nonce.p != NULL, "forwarded: the upstream's nonce kept (its certConf)");
	c = t ? fake_store_cert_by_id(env.fs, t->cert_id) : NULL;
	ok(c && c->status == STORE_OUT_UNCONFIRMED && c->serial_hex &&
		   strtol(c->serial_hex, NULL, 16) == up.serial,
	   "forwarded: the upstream's certificate stored, unconfirmed");
	ok(ra_trust_spki_fp(env.dev1, fp) == 0 &&
		   fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001")->bound &&
		   memcmp(fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001")->key_fp, fp,
			  32) == 0,
	   "forwarded: serial bound to the vendor key");
	is_int(fake_store_audit_count(env.fs, "issued", "ir: by upstream, serial "), 1,
	       "forwarded: audit issued by upstream");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	/* the same serial from the upstream again: refused, nothing stored */
	run("ra", "cr_dev1.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_MESSAGE_CHECK &&
		   strcmp(r.text, "upstream CA returned a certificate whose serial number is "
				  "already used") == 0,
	   "duplicate serial from the upstream: badMessageCheck");
	is_int(fake_store_n_cert(env.fs), 2, "duplicate serial: no second certificate stored");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* The device's certConf for the certificate in ip (the request's header
 * with new nonces), signed with its vendor key. */
static size_t certconf_for(const CMPGW_MSG *ip, unsigned char **der)
{
	static const unsigned char my_nonce[16] = {
		0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77,
		0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77
	};
	char path[4096];
	unsigned char *req_der, hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	const unsigned char *p;
	size_t len;
	const CMPGW_CERTRESPONSE *cr = sk_CMPGW_CERTRESPONSE_value(ip->body->value.ip->response, 0);
	X509 *cert = cr->certifiedKeyPair->certOrEncCert->value.certificate;
	EVP_PKEY *key = fake_load_key("dev-1.key");
	CMPGW_CERTSTATUS *cs = CMPGW_CERTSTATUS_new();
	CMPGW_MSG *m;
	int n;

	snprintf(path, sizeof(path), "%s/ir_dev1.der", RA_CORPUS_DIR);
	if (fake_read_file(path, &req_der, &len) != 0)
		return 0;
	p = req_der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)len);
	free(req_der);
	X509_digest(cert, EVP_sha256(), hash, &hlen); /* ecdsa-with-SHA256 (RFC 4210 5.3.18) */
	ASN1_OCTET_STRING_set(m->header->senderNonce, my_nonce, sizeof(my_nonce));
	m->header->recipNonce = ASN1_OCTET_STRING_dup(ip->header->senderNonce);
	CMPGW_BODY_free(m->body);
	m->body = CMPGW_BODY_new();
	m->body->type = CMP_BODY_CERTCONF;
	m->body->value.certConf = sk_CMPGW_CERTSTATUS_new_null();
	ASN1_OCTET_STRING_set(cs->certHash, hash, (int)hlen);
	ASN1_INTEGER_set(cs->certReqId, 0);
	sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs);
	*der = NULL;
	n = cmp_prot_sign(m, key) == 0 ? i2d_CMPGW_MSG(m, der) : 0;
	CMPGW_MSG_free(m);
	EVP_PKEY_free(key);
	return n > 0 ? (size_t)n : 0;
}

/* certConf: checked here, confirmed with the upstream, then stored */
static void test_certconf(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der = NULL;
	size_t len;
	time_t end;
	const struct fake_txn *t;

	reset(UP_ISSUE);
	run("ra", "ir_dev1.der", &a, &r);
	len = r.body == CMP_BODY_IP ? certconf_for(r.msg, &der) : 0;
	fake_reply_clear(&r);
	fake_answer_clear(&a);
	ok(len > 0, "certConf: built from the ip");
	ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, "ra"), der, len, FAKE_PEER, &fake_sink,
		  &a);
	for (end = time(NULL) + 10;
	     (a.n == 0 || fake_store_pending(env.fs) > 0) && time(NULL) < end;)
		event_base_loop(env.base, EVLOOP_ONCE);
	ok(fake_reply_decode(&a, &r) == 0 && r.body == CMP_BODY_PKICONF, "certConf: pkiConf");
	is_int(up.requests, 2, "certConf: forwarded to the upstream too");
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_CONFIRMED, "certConf: transaction confirmed");
	ok(t && fake_store_cert_by_id(env.fs, t->cert_id)->status == STORE_OUT_ACTIVE,
	   "certConf: certificate active");
	OPENSSL_free(der);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* A pollReq for the transaction of ir_dev1, signed by the device. */
static size_t pollreq(unsigned char **der)
{
	char path[4096];
	unsigned char *req_der;
	const unsigned char *p;
	size_t len;
	EVP_PKEY *key = fake_load_key("dev-1.key");
	CMPGW_POLLREQ *pr = CMPGW_POLLREQ_new();
	CMPGW_MSG *m;
	int n;

	snprintf(path, sizeof(path), "%s/ir_dev1.der", RA_CORPUS_DIR);
	if (fake_read_file(path, &req_der, &len) != 0)
		return 0;
	p = req_der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)len);
	free(req_der);
	CMPGW_BODY_free(m->body);
	m->body = CMPGW_BODY_new();
	m->body->type = CMP_BODY_POLLREQ;
	m->body->value.pollReq = sk_CMPGW_POLLREQ_new_null();
	ASN1_INTEGER_set(pr->certReqId, 0);
	sk_CMPGW_POLLREQ_push(m->body->value.pollReq, pr);
	*der = NULL;
	n = cmp_prot_sign(m, key) == 0 ? i2d_CMPGW_MSG(m, der) : 0;
	CMPGW_MSG_free(m);
	EVP_PKEY_free(key);
	return n > 0 ? (size_t)n : 0;
}

static void submit_wait(const unsigned char *der, size_t len, struct fake_answer *a,
			struct fake_reply *r)
{
	time_t end = time(NULL) + 10;

	fake_answer_clear(a);
	ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, "ra"), der, len, FAKE_PEER, &fake_sink,
		  a);
	while ((a->n == 0 || fake_store_pending(env.fs) > 0) && time(NULL) < end)
		event_base_loop(env.base, EVLOOP_ONCE);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
}

/* RFC 9483 5.1.2 / 4.4: the upstream is slower than upstream.wait_after_s
 * (1 s here): the device gets status waiting, polls, gets a pollRep while
 * the upstream has not answered and the ip once it has (fwd_poll.c). */
static void test_poll(void)
{
	struct cfg_alias *ra = (struct cfg_alias *)cfg_alias_find(env.cfg, "ra");
	int wait_after = ra->upstream.wait_after_s;
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der = NULL;
	size_t len = pollreq(&der);
	time_t end;
	const struct fake_txn *t;

	reset(UP_ISSUE);
	ra->upstream.wait_after_s = 1;
	up.delay_ms = 2500;
	run("ra", "ir_dev1.der", &a, &r);
	ok(r.body == CMP_BODY_IP && r.status == CMP_STATUS_WAITING && !r.has_cert,
	   "slow upstream: ip with status waiting, no certificate yet");
	ok(a.continues, "slow upstream: the device will poll");
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_PENDING, "slow upstream: transaction pending");
	fake_reply_clear(&r);

	submit_wait(der, len, &a, &r);
	ok(r.body == CMP_BODY_POLLREP, "poll before the upstream answered: pollRep");
	is_int(fake_store_calls(env.fs, FAKE_FWD_GET), 1, "pollReq: one fwd_get");
	fake_reply_clear(&r);

	/* let the upstream answer and the gateway store it */
	for (end = time(NULL) + 10;
	     fake_store_calls(env.fs, FAKE_FWD_DONE) == 0 && time(NULL) < end;)
		event_base_loop(env.base, EVLOOP_ONCE);
	while (fake_store_pending(env.fs) > 0 && time(NULL) < end)
		event_base_loop(env.base, EVLOOP_ONCE);
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_ISSUED, "the upstream answered: transaction issued");

	submit_wait(der, len, &a, &r);
	ok(r.body == CMP_BODY_IP && r.has_cert &&
		   (r.status == CMP_STATUS_ACCEPTED || r.status == CMP_STATUS_GRANTED_WITH_MODS),
	   "poll after the upstream answered: ip with the certificate");
	ok(a.continues, "then certConf");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
	OPENSSL_free(der);
	ra->upstream.wait_after_s = wait_after;
	up.delay_ms = 0;
}

static void test_relayed(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;

	reset(UP_ERROR);
	run("ra", "ir_dev1.der", &a, &r);
	is_int(up.requests, 1, "upstream refuses: one upstream request");
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_CERT_TEMPLATE &&
		   strstr(r.text, "upstream says no") != NULL,
	   "upstream refuses: its bit and text relayed (%s)", r.text);
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_CLOSED && t->fail_info == (1 << CMP_FAIL_BAD_CERT_TEMPLATE),
	   "upstream refuses: row closed with its failInfo");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_store_fault(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset(UP_ISSUE);
	fake_store_fault(env.fs, FAKE_FWD_DONE, FAKE_FAULT_CALLBACK);
	run("ra", "ir_dev1.der", &a, &r);
	ok(a.n == 1 && r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
		   strcmp(r.text, "service temporarily unavailable") == 0,
	   "fwd_done fault: systemUnavail");
	is_int(fake_store_n_cert(env.fs), 1, "fwd_done fault: nothing stored");
	is_int(fake_store_pending(env.fs), 0, "fwd_done fault: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0 ||
	    upstream_start() != 0) {
		printf("Bail out! cannot set up\n");
		return 1;
	}
	test_issued();
	test_certconf();
	test_poll();
	test_relayed();
	test_store_fault();
	upstream_stop();
	fake_env_close(&env);
	return tap_done();
}
