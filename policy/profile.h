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
#include <openssl/x509v3.h>

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
 * following profile p: policy_profile_subject, policy_profile_sans,
 * validity (notAfter capped at the issuing CA's), random positive 127-bit
 * serial, AKI/SKI, keyUsage, EKU, basicConstraints CA:FALSE,
 * cRLDistributionPoints and authorityInfoAccess from the profile; signed
 * by cfg->ca_key. *out gets a new X509 (caller frees). RC_INVAL if the
 * template yields an invalid name: why (whylen bytes, caller's) then holds
 * the statusString naming it; RC_CRYPTO on signing failure.
 */
int policy_profile_issue(const struct cfg *cfg, const struct cfg_profile *p,
			 const struct policy_identity *id, const X509_NAME *requested,
			 EVP_PKEY *pub, X509 **out, char *why, size_t whylen) WUR;

/*
 * The subject p gives id, for every path (CA, RA reprotect, downstream RA,
 * token, renewal): the template is parsed first and ${serial}/${vendor}
 * substituted into attribute values afterwards, so device input never adds
 * or changes an attribute; the requested subject instead when p allows it
 * and one is given. *out: new X509_NAME (caller frees). 0, or RC_INVAL with
 * the statusString in why (whylen bytes, caller's).
 */
int policy_profile_subject(const struct cfg_profile *p, const struct policy_identity *id,
			   const X509_NAME *requested, X509_NAME **out, char *why,
			   size_t whylen) WUR;

/*
 * The subjectAltNames p gives id, each validated after expansion (RFC 5280
 * 4.2.1.6): dNSName LDH labels of 1-63 octets, at most 253, no wildcard;
 * uniformResourceIdentifier an absolute URI; rfc822Name local@host;
 * iPAddress only a literal of the template. *out: new GENERAL_NAMES, or
 * NULL when p has none. 0, or RC_INVAL with why naming the refused SAN
 * (e.g. `subjectAltName dNSName "*.dev.example" is not a valid host
 * name`), or RC_NOMEM.
 */
int policy_profile_sans(const struct cfg_profile *p, const struct policy_identity *id,
			GENERAL_NAMES **out, char *why, size_t whylen) WUR;

/* Was cert's notAfter capped at the issuing CA's (cfg->ca_cert) notAfter by
 * policy_profile_issue? Then the answer is grantedWithMods. */
bool policy_profile_capped(const struct cfg *cfg, X509 *cert);

/* Would a certificate of p issued now reach past the issuing CA's notAfter
 * (and so be capped)? For start-up warnings. */
bool policy_profile_outlives_ca(const struct cfg *cfg, const struct cfg_profile *p);

/* Expand ${serial} and ${vendor} in tmpl into buf. RC_TOOBIG if it does not
 * fit, RC_INVAL for an unknown placeholder. */
int policy_profile_expand(const char *tmpl, const struct policy_identity *id, char *buf,
			  size_t buflen) WUR;

#endif
