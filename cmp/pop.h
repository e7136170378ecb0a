/*
 * cmp/pop.h - proof-of-possession of a certificate request's private key
 * (RFC 4211 4, RFC 9483 4.1.1). Decides nothing about policy: the caller
 * maps the result to a PKIFailureInfo (badPOP) or accepts raVerified.
 *
 * Pure function over its arguments: any thread may call it.
 */
#ifndef CMPGW_CMP_POP_H
#define CMPGW_CMP_POP_H

#include <openssl/evp.h>

#include "cmp/asn1.h"
#include "core/rc.h"

/*
 * Verify the signature POP of crm: a POPOSigningKey without poposkInput
 * (RFC 4211 4.1: the certTemplate carries subject and publicKey) whose
 * signature, made with algorithmIdentifier (see cmp/sig.h), covers the DER
 * of crm->certReq. The DER is our re-encoding of the decoded CertRequest,
 * which equals the received bytes for any DER-encoded request.
 *
 * Returns:
 *   0               valid; if pubkey_out is not NULL, *pubkey_out = the
 *                   template's public key (new reference, caller frees);
 *   RC_UNSUPPORTED  popo is raVerified: nothing to check here, the caller
 *                   decides whether the sender may vouch for the key
 *                   (RFC 4211 4; RFC 9483 4.1.1 only for RAs);
 *                   also for a signature algorithm we do not accept;
 *   RC_INVAL        popo missing, keyEncipherment/keyAgreement, a
 *                   poposkInput present, no publicKey in the template, or
 *                   a publicKey that cannot be decoded;
 *   RC_CRYPTO       bad signature, or algorithm vs. key type mismatch;
 *   RC_NOMEM.
 * *pubkey_out is untouched unless 0 is returned. Borrows crm.
 */
int cmp_pop_verify(const CMPGW_CERTREQMSG *crm, EVP_PKEY **pubkey_out) WUR;

#endif
