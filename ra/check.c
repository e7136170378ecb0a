/*
 * ra/check.c - the factory dry run of a vendor chain (ra/check.h).
 */
#include "ra/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp/asn1.h"
#include "cmp/pop.h"
#include "cmp/prot.h"
#include "policy/profile.h"
#include "store/admin.h"
#include "store/api_stats.h"
#include "store/vendor.h"

void ra_check_add(struct ra_check *c, const char *check, bool pass, const char *fmt, ...)
{
	struct ra_check_step *s;
	va_list ap;

	if (c->n >= RA_CHECK_STEPS_MAX)
		return;
	s = &c->s[c->n++];
	snprintf(s->check, sizeof(s->check), "%s", check);
	s->pass = pass;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
}

bool ra_check_passed(const struct ra_check *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (!c->s[i].pass)
			return false;
	return c->n > 0;
}

/* Days from now to t (negative: past); INT_MIN-ish on a bad time. */
static int days_left(const ASN1_TIME *t)
{
	int days = 0, secs = 0;

	if (!ASN1_TIME_diff(&days, &secs, NULL, t))
		return -99999;
	return days;
}

/* The path leaf..anchor as X509_verify_cert builds it for vendor v (the
 * registry's intermediates and extra), one step per certificate. */
static void report_path(struct ra_check *c, const struct ra_vendor *v, X509 *leaf,
			STACK_OF(X509) *extra)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *un = extra ? sk_X509_dup(extra) : sk_X509_new_null();
	STACK_OF(X509) *chain;
	char subject[200];

	for (int i = 0; un && i < sk_X509_num(v->intermediates); i++)
		sk_X509_push(un, sk_X509_value(v->intermediates, i));
	if (!ctx || !un || !X509_STORE_CTX_init(ctx, v->anchors, leaf, un))
		goto out;
	/* the path only: times and profile were judged by the chain step */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	(void)X509_verify_cert(ctx);
	chain = X509_STORE_CTX_get0_chain(ctx);
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		int left = days_left(X509_get0_notAfter(x));
		bool top =
			i == sk_X509_num(chain) - 1 && i >= X509_STORE_CTX_get_num_untrusted(ctx);
		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		ra_check_add(c, "certificate", left >= 0 && days_left(X509_get0_notBefore(x)) <= 0,
			     "depth %d, %s: %s; %d day%s of validity left", i,
			     i == 0 ? "vendor certificate"
			     : top  ? "vendor trust anchor"
				    : "vendor CA certificate",
			     subject, left, left == 1 || left == -1 ? "" : "s");
	}
out:
	sk_X509_free(un);
	X509_STORE_CTX_free(ctx);
}

/* No registered vendor's anchors are reached: the certificates as sent,
 * from the device certificate up, and where the path breaks off (a
 * self-signed root no vendor registered, an issuer neither sent nor
 * registered, or a signature that does not verify). */
static void report_sent(struct ra_check *c, X509 *leaf, STACK_OF(X509) *extra)
{
	X509 *cur = leaf;
	char subject[200], issuer[200];

	for (int depth = 0; cur && depth < 10; depth++) {
		X509 *up = NULL;
		int left = days_left(X509_get0_notAfter(cur));
		bool self = X509_check_issued(cur, cur) == X509_V_OK, sig = true;
		const char *why = NULL;

		for (int i = 0; !self && !up && i < sk_X509_num(extra); i++) {
			X509 *x = sk_X509_value(extra, i);
			if (X509_cmp(x, cur) != 0 && X509_check_issued(x, cur) == X509_V_OK)
				up = x;
		}
		if (up && X509_verify(cur, X509_get0_pubkey(up)) != 1)
			sig = false;
		if (self)
			why = "self-signed, and no vendor registered it as a trust anchor";
		else if (!up)
			why = "its issuer was neither sent nor registered for any vendor";
		else if (!sig)
			why = "the signature of the issuer sent does not verify";
		X509_NAME_oneline(X509_get_subject_name(cur), subject, sizeof(subject));
		X509_NAME_oneline(X509_get_issuer_name(cur), issuer, sizeof(issuer));
		ra_check_add(c, "certificate",
			     !why && left >= 0 && days_left(X509_get0_notBefore(cur)) <= 0,
			     "depth %d (as sent), %s, issued by %s; %d day%s of validity left%s%s",
			     depth, subject, issuer, left, left == 1 || left == -1 ? "" : "s",
			     why ? ": " : "", why ? why : "");
		ERR_clear_error();
		cur = why ? NULL : up;
	}
}

/* What the vendor's other X.509 mode would answer (a strictness finding
 * is reported, it does not fail the check on its own). */
static void report_strictness(struct ra_check *c, const struct ra_vendor *v, X509 *leaf,
			      STACK_OF(X509) *extra)
{
	struct ra_trust *t = ra_trust_new();
	struct ra_auth a;
	char name[8] = "v";
	char *only[] = { name };
	int rc = RC_NOMEM;

	if (t && ra_trust_add_vendor(t, v->id, name, "subject_serialnumber", true) == 0 &&
	    ra_trust_set_strict(t, v->id, !v->x509_strict) == 0) {
		struct ra_vendor *w = &t->v[0];
		X509_STORE_free(w->anchors);
		w->anchors = v->anchors;
		X509_STORE_up_ref(w->anchors);
		for (int i = 0; i < sk_X509_num(v->intermediates); i++) {
			X509 *x = sk_X509_value(v->intermediates, i);
			if (sk_X509_push(w->intermediates, x))
				X509_up_ref(x);
		}
		rc = ra_trust_authenticate(t, only, 1, leaf, extra, &a);
	}
	if (rc == RC_NOMEM)
		ra_check_add(c, "strictness", false, "out of memory");
	else if (v->x509_strict)
		ra_check_add(c, "strictness", true,
			     "vendor %s is strict X.509; lenient mode would %s", v->name,
			     rc == 0 ? "accept the chain" : "also refuse it");
	else
		ra_check_add(c, "strictness", true,
			     "vendor %s is lenient X.509; strict X.509 would %s%s", v->name,
			     rc == 0 ? "accept the chain" : "refuse it: ", rc == 0 ? "" : a.text);
	ra_trust_free(t);
}

/* The vendor whose anchors the path reaches when neither time nor the
 * strict profile count: the chain failed, but the report can go on. */
static const struct ra_vendor *path_vendor(const struct ra_trust *t, X509 *leaf,
					   STACK_OF(X509) *extra)
{
	const struct ra_vendor *found = NULL;

	for (size_t i = 0; t && i < t->n && !found; i++) {
		const struct ra_vendor *v = &t->v[i];
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		STACK_OF(X509) *un = extra ? sk_X509_dup(extra) : sk_X509_new_null();
		for (int k = 0; un && k < sk_X509_num(v->intermediates); k++)
			sk_X509_push(un, sk_X509_value(v->intermediates, k));
		if (ctx && un && X509_STORE_CTX_init(ctx, v->anchors, leaf, un)) {
			X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
			if (X509_verify_cert(ctx) == 1)
				found = v;
		}
		sk_X509_free(un);
		X509_STORE_CTX_free(ctx);
	}
	return found;
}

int ra_check_chain(const struct ra_trust *t, const struct cfg_alias *alias, X509 *leaf,
		   STACK_OF(X509) *extra, struct ra_check *c)
{
	struct ra_auth a, any;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = ra_trust_authenticate_alias(t, alias->vendors, alias->n_vendors, leaf, extra, &a);
	/* the vendor whatever the alias says, for the rest of the report */
	if (ra_trust_authenticate(t, NULL, 0, leaf, extra, &any) != 0)
		any.vendor = NULL;
	c->vendor = rc == 0 || a.not_accepted ? a.vendor : any.vendor;
	if (!c->vendor)
		c->vendor = path_vendor(t, leaf, extra);
	c->accepted = rc == 0;
	if (rc == 0 || a.not_accepted)
		ra_check_add(c, "chain", true, "vendor certificate chains to vendor %s",
			     a.vendor->name);
	else
		ra_check_add(c, "chain", false, "%s", a.text ? a.text : "refused");
	if (c->vendor) {
		report_path(c, c->vendor, leaf, extra);
		report_strictness(c, c->vendor, leaf, extra);
	} else {
		report_sent(c, leaf, extra);
	}
	if (a.not_accepted)
		ra_check_add(c, "alias", false, "vendor %s is not accepted on alias %s",
			     a.vendor->name, alias->label);
	else if (c->vendor)
		ra_check_add(c, "alias", true, "vendor %s is accepted on alias %s", c->vendor->name,
			     alias->label);
	if (!c->vendor)
		return ra_trust_spki_fp(leaf, c->spki_fp) == 0 ? 0 : RC_NOMEM;
	if (ra_trust_device_serial(c->vendor->rule, leaf, c->serial, sizeof(c->serial)) == 0)
		ra_check_add(c, "serial", true, "device serial \"%s\" (rule of vendor %s)",
			     c->serial, c->vendor->name);
	else
		ra_check_add(c, "serial", false,
			     "vendor certificate carries no usable device serial");
	return ra_trust_spki_fp(leaf, c->spki_fp) == 0 ? 0 : RC_NOMEM;
}

/* The subject, subjectAltNames and validity the profile gives the device:
 * the same functions as the issuance (policy/profile.h). */
static void report_issue(struct ra_check *c, const struct cfg_profile *p, const X509_NAME *asked)
{
	struct policy_identity id = { c->serial, c->vendor ? c->vendor->name : "" };
	X509_NAME *name = NULL;
	GENERAL_NAMES *sans = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char why[256], subject[256], *mem = NULL;
	long n = 0;

	if (!c->vendor || !c->serial[0] || !b)
		goto out;
	if (policy_profile_subject(p, &id, asked, &name, why, sizeof(why)) != 0) {
		ra_check_add(c, "issuance", false, "%s", why);
		goto out;
	}
	if (policy_profile_sans(p, &id, &sans, why, sizeof(why)) != 0) {
		ra_check_add(c, "issuance", false, "%s", why);
		goto out;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		BIO_puts(b, i ? ", " : "");
		GENERAL_NAME_print(b, sk_GENERAL_NAME_value(sans, i));
	}
	n = BIO_get_mem_data(b, &mem);
	X509_NAME_oneline(name, subject, sizeof(subject));
	ra_check_add(c, "issuance", true,
		     "the certificate would get subject %s, subjectAltNames %.*s, %d days of "
		     "validity (capped at the issuing CA's)",
		     subject, n > 0 ? (int)n : 6, n > 0 ? mem : "(none)", p->validity_days);
out:
	BIO_free(b);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(name);
}

void ra_check_issuance(struct ra_check *c, const struct cfg_alias *alias)
{
	report_issue(c, alias->profile, NULL);
}

/* Protection by leaf (RFC 9483 3.2: the first extraCerts certificate). */
static void report_protection(struct ra_check *c, const CMPGW_MSG *m, X509 *leaf,
			      const unsigned char *der, size_t len)
{
	X509 *signer = m->extraCerts ? sk_X509_value(m->extraCerts, 0) : NULL;

	if (cmp_prot_is_pbmac(m))
		ra_check_add(c, "protection", false,
			     "PasswordBasedMac: a vendor-certificate enrollment is signed");
	else if (!signer)
		ra_check_add(c, "protection", false, "no extraCerts: the signer is not sent");
	else if (X509_cmp(signer, leaf) != 0)
		ra_check_add(c, "protection", false,
			     "signed by a certificate other than the vendor certificate checked");
	else if (cmp_prot_verify_sig(der, len, m, signer) != 0)
		ra_check_add(c, "protection", false, "signature protection does not verify");
	else
		ra_check_add(c, "protection", true,
			     "signed by the vendor certificate; the signature verifies");
}

int ra_check_request(struct ra_check *c, const struct cfg_alias *alias, X509 *leaf,
		     const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMPGW_MSG *m = len < (1u << 24) ? d2i_CMPGW_MSG(NULL, &p, (long)len) : NULL;
	const CMPGW_CERTREQMSG *crm;
	EVP_PKEY *pub = NULL;
	const char *why = NULL;
	int rc;

	if (!m || p != der + len ||
	    (m->body->type != CMP_BODY_IR && m->body->type != CMP_BODY_CR)) {
		ra_check_add(c, "request", false, "not a DER PKIMessage with an ir or cr body");
		goto out;
	}
	if (sk_CMPGW_CERTREQMSG_num(m->body->value.ir) != 1 ||
	    ASN1_INTEGER_get(sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0)->certReq->certReqId) !=
		    0) {
		ra_check_add(c, "request", false, "exactly one CertReqMsg with certReqId 0");
		goto out;
	}
	crm = sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0);
	ra_check_add(c, "request", true, "%s with one CertReqMsg",
		     m->body->type == CMP_BODY_IR ? "ir" : "cr");
	report_protection(c, m, leaf, der, len);
	rc = cmp_pop_verify(crm, &pub);
	if (rc == RC_NOMEM)
		goto out;
	ra_check_add(c, "pop", rc == 0, "%s",
		     rc == 0		    ? "the POP signature verifies for the template key"
		     : rc == RC_UNSUPPORTED ? "raVerified is accepted only from an authorized "
					      "downstream RA"
					    : "the proof of possession does not verify");
	if (pub) {
		bool ok = policy_profile_key_ok(alias->profile, pub, &why);
		ra_check_add(c, "key policy", ok, "%s key of %d bits: %s",
			     EVP_PKEY_get0_type_name(pub), EVP_PKEY_get_bits(pub),
			     ok ? "accepted by the profile" : why);
	}
	report_issue(c, alias->profile,
		     crm->certReq->certTemplate ? crm->certReq->certTemplate->subject : NULL);
out:
	EVP_PKEY_free(pub);
	CMPGW_MSG_free(m);
	return 0;
}

/* ---- the whole dry run on a blocking connection ---- */

/* The registry as a worker loads it (ra/worker.c), strictness included.
 * A registered certificate that does not decode is left out, as the
 * worker does. 0, RC_DB or RC_NOMEM. */
static int trust_load(struct store_conn *c, struct ra_trust **out)
{
	struct store_vendor *v = NULL;
	struct ra_trust *t = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (store_vendor_load_all(c, &v, &n) != 0)
		return RC_DB;
	rc = (t = ra_trust_new()) ? 0 : RC_NOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((rc = ra_trust_add_vendor(t, v[i].id, v[i].name, v[i].serial_rule,
					      v[i].allow_reenroll)) != 0 ||
		    (rc = ra_trust_set_strict(t, v[i].id, v[i].x509_strict)) != 0)
			break;
		for (size_t k = 0; k < v[i].n_certs; k++)
			if (ra_trust_add_cert(t, v[i].id, v[i].certs[k].kind, v[i].certs[k].der,
					      v[i].certs[k].derlen) != 0)
				continue; /* it cannot anchor anything: as the worker */
	}
	store_vendor_free_all(v, n);
	if (rc != 0)
		ra_trust_free(t);
	else
		*out = t;
	return rc;
}

/* Which key holds the serial (and the newest certificate of the serial):
 * what the factory compares with its own records of the device. */
static void report_clone(struct store_conn *c, struct ra_check *r)
{
	struct store_stats_binding b;
	char fp[65], cert[100] = "";
	bool known = store_stats_binding(c, r->vendor->id, r->serial, &b) == 0 && b.key_fp[0];

	for (size_t i = 0; i < 32; i++)
		snprintf(fp + 2 * i, 3, "%02x", r->spki_fp[i]);
	if (known && b.cert_serial[0])
		snprintf(cert, sizeof(cert), ", certificate %s (%s)", b.cert_serial, b.cert_status);
	ra_check_add(r, "clone binding", false,
		     "serial \"%s\" is bound to another vendor key (a clone of an enrolled "
		     "device?): key SHA-256 %.16s…%s; this certificate's key is %.16s…",
		     r->serial, known ? b.key_fp : "(unknown)", cert, fp);
}

/* The serial list and clone binding, as the enrollment's admission
 * (cmpgw_admit, read-only) answers for this serial and key. */
static void check_serial(struct store_conn *c, struct ra_check *r)
{
	const struct ra_vendor *v = r->vendor;
	char reason[32], state[16];
	bool bound = false;

	if (!v || !r->serial[0])
		return;
	if (store_vendor_serial_admit(c, v->id, r->serial, r->spki_fp, v->allow_reenroll, reason,
				      state, &bound) != 0) {
		ra_check_add(r, "serial list", false, "the database did not answer");
		return;
	}
	if (!state[0]) {
		ra_check_add(r, "serial list", false, "serial \"%s\" is not on vendor %s's list",
			     r->serial, v->name);
		return;
	}
	ra_check_add(r, "serial list", strcmp(state, "blocked") != 0,
		     "serial \"%s\" is on vendor %s's list: %s", r->serial, v->name, state);
	if (strcmp(reason, "clone") == 0)
		report_clone(c, r);
	else
		ra_check_add(
			r, "clone binding", true,
			bound ? "serial \"%s\" is bound to this certificate's key"
			      : "serial \"%s\" is bound to no key yet: the first enrollment binds "
				"it to this certificate's key",
			r->serial);
	if (strcmp(state, "enrolled") == 0)
		ra_check_add(r, "re-enrollment", strcmp(reason, "reenroll_denied") != 0,
			     "serial \"%s\" is enrolled; vendor %s %s a second enrollment",
			     r->serial, v->name,
			     strcmp(reason, "reenroll_denied") ? "allows" : "refuses");
}

static bool trust_has(const struct ra_trust *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return true;
	return false;
}

int ra_check_run(struct store_conn *c, const struct ra_check_input *in, struct ra_check *r)
{
	struct ra_trust *t = NULL;
	X509 *leaf = sk_X509_value(in->certs, 0);
	int rc;

	memset(r, 0, sizeof(*r));
	if (!leaf || !in->alias)
		return RC_INVAL;
	if ((rc = trust_load(c, &t)) != 0)
		return rc;
	if (in->vendor && !trust_has(t, in->vendor)) {
		ra_trust_free(t);
		return RC_NOTFOUND;
	}
	rc = ra_check_chain(t, in->alias, leaf, in->certs, r);
	r->trust = t; /* r->vendor points into it */
	if (rc != 0)
		return rc;
	/* the caller speaks for one vendor: another vendor's serial state is
	 * not its business */
	if (in->vendor && r->vendor && strcmp(r->vendor->name, in->vendor) != 0)
		return RC_PERM;
	check_serial(c, r);
	if (!in->req)
		ra_check_issuance(r, in->alias);
	else if ((rc = ra_check_request(r, in->alias, leaf, in->req, in->reqlen)) != 0)
		return rc;
	return 0;
}

void ra_check_release(struct ra_check *r)
{
	if (!r)
		return;
	ra_trust_free(r->trust);
	r->trust = NULL;
	r->vendor = NULL;
}

int ra_check_audit(struct store_conn *c, const char *principal, const struct ra_check *r,
		   const char *alias, const char *what)
{
	char detail[STORE_ADMIN_DETAIL_MAX / 4];
	bool pass = ra_check_passed(r);

	snprintf(detail, sizeof(detail), "dry run of %.200s: %s", what, pass ? "PASS" : "FAIL");
	for (size_t i = 0; !pass && i < r->n; i++)
		if (!r->s[i].pass) {
			snprintf(detail, sizeof(detail), "dry run of %.200s: FAIL: %s: %s", what,
				 r->s[i].check, r->s[i].detail);
			break;
		}
	return store_audit_admin(c, principal, "vendor_check", r->vendor ? r->vendor->name : NULL,
				 r->serial[0] ? r->serial : NULL, alias, detail);
}

json_t *ra_check_json(const struct ra_check *r, const char *alias)
{
	json_t *steps = json_array();

	for (size_t i = 0; steps && i < r->n; i++)
		if (json_array_append_new(steps, json_pack("{s:s, s:b, s:s}", "check",
							   r->s[i].check, "pass", r->s[i].pass,
							   "detail", r->s[i].detail)) != 0) {
			json_decref(steps);
			return NULL;
		}
	return steps ? json_pack("{s:s, s:s?, s:s?, s:b, s:o}", "alias", alias, "vendor",
				 r->vendor ? r->vendor->name : NULL, "serial",
				 r->serial[0] ? r->serial : NULL, "pass", ra_check_passed(r),
				 "steps", steps)
		     : NULL;
}
