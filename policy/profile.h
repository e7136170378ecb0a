/*
 * policy/profile.h - what a profile allows and what it issues.
 *
 * Pure functions over the immutable config snapshot; any thread.
 */
#ifndef CMPGW_POLICY_PROFILE_H
#define CMPGW_POLICY_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/cfg.h"
#include "core/rc.h"

/* Identity of the device a certificate is issued for. */
struct policy_identity {
	const char *serial; /* device serial, e.g. "ACME-0001" */
	const char *vendor; /* vendor name, e.g. "acme" */
};

/* Is the subject public key acceptable to the profile? On false, *why gets
 * a static human string for the statusString (e.g. "RSA key below 2048
 * bits"). */
bool policy_profile_key_ok(const struct cfg_profile *p, EVP_PKEY *pub, const char **why);

/*
 * Build and sign the certificate for id with public key pub (not consumed)
 * following profile p: subject from the template (or the requested subject
 * if the profile allows and one is given), SANs, validity, random positive
 * 127-bit serial, AKI/SKI, keyUsage, EKU, basicConstraints CA:FALSE; signed
 * by cfg->ca_key. *out gets a new X509 (caller frees). RC_INVAL if the
 * template yields an invalid name: why (whylen bytes, caller's) then holds
 * the statusString naming it; RC_CRYPTO on signing failure.
 */
int policy_profile_issue(const struct cfg *cfg, const struct cfg_profile *p,
			 const struct policy_identity *id, const X509_NAME *requested,
			 EVP_PKEY *pub, X509 **out, char *why, size_t whylen) WUR;

/* Expand ${serial} and ${vendor} in tmpl into buf. RC_TOOBIG if it does not
 * fit, RC_INVAL for an unknown placeholder. */
int policy_profile_expand(const char *tmpl, const struct policy_identity *id, char *buf,
			  size_t buflen) WUR;

#endif
