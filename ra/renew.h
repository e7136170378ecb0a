/*
 * ra/renew.h - renewal with an operator certificate this CA issued (kur,
 * p10cr, ir/cr signed with it; a downstream RA's kur for a device): its
 * flow tables (ra/pipeline.h) and its state on the request.
 * Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_RENEW_H
#define CMPGW_RA_RENEW_H

#include <stdint.h>

#include <openssl/x509.h>

struct ra_flow;

/* Renewal state (struct ra_req, ext.renew), filled at admission. */
struct ra_renew_ext {
	/* the stored certificate's vendor, "ra" for an identity enrolled
	 * through a downstream RA: ${vendor} of the profile */
	char vendor[256];
	/* kur by a downstream RA: the device's certificate it renews
	 * (borrowed from msg->extraCerts); NULL: the signer's own */
	X509 *old_cert;
	int64_t old_id; /* the stored certificate being renewed (certificates.id) */
};

/* kur (CA mode: issue; RA mode: forward), p10cr, and the tail an ir/cr
 * signed with an operator certificate jumps to (ra_req_goto). */
extern const struct ra_flow ra_flow_kur_ca;
extern const struct ra_flow ra_flow_kur_ra;
extern const struct ra_flow ra_flow_p10cr;
extern const struct ra_flow ra_flow_renew_ca;

#endif
