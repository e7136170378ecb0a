/*
 * ra/certreq.h - the state the certificate-request flows share (ir, cr,
 * kur, p10cr; token, downstream RA and forwarded ones; pollReq answering
 * the certificate): struct ra_certreq, embedded in struct ra_req (ra/req.h)
 * as req->cr, so it comes in the request's own allocation.
 *
 * Ownership per field: "owned" is freed with the request (ra_req_free);
 * "borrowed" points into memory the request holds a reference on (msg,
 * the registry snapshot, the config) or into static storage.
 * Threads: the owning worker's loop only.
 */
#ifndef CMPGW_RA_CERTREQ_H
#define CMPGW_RA_CERTREQ_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cmp/asn1.h"

struct ra_vendor;

struct ra_certreq {
	const CMPGW_CERTREQMSG *crm;	/* the single CertReqMsg (borrowed from msg) */
	EVP_PKEY *pub;			/* the key asked for (owned) */
	X509 *cert;			/* the certificate issued (owned) */
	const struct ra_vendor *vendor; /* borrowed from the request's trust snapshot */
	/* ${vendor} of the profile for the identity serial: the vendor's name,
	 * "ra" (downstream RA without vendor), "token"; borrowed (trust,
	 * cfg, ext or static) */
	const char *id_vendor;
	char serial[130];
	long cert_req_id;
	bool implicit;
	bool waiting; /* RA mode: the upstream is slow; the answer says waiting */
	unsigned char server_nonce[16];
	int rep_body;		/* answer body type; 0: from the request */
	const X509_NAME *asked; /* subject the device suggested (borrowed from msg) */
	/* shared-secret transactions (ra/token_ir.c): when set, answers are
	 * PBMAC-protected with it instead of signed; owned, cleansed on free */
	unsigned char *mac_secret;
	size_t mac_secret_len;
};

#endif
