/*
 * ra/audit.c - audit rows for unauthenticated refusals (ra/audit.h).
 */
#include "ra/audit.h"

#include "store/enroll.h"

void ra_audit_unauth(struct ra_req *req, const char *event, const char *vendor, const char *serial,
		     const char *detail)
{
	const ASN1_OCTET_STRING *t = req->msg ? req->msg->header->transactionID : NULL;
	struct store_bytes tid = { t ? t->data : NULL, t ? (size_t)t->length : 0 };

	store_enroll_audit(req->rw->db, event, req->alias->label, tid, vendor, serial,
			   req->log.peer, detail);
}
