/*
 * cmp/pop.c - signature proof-of-possession (RFC 4211 4.1).
 */
#include "cmp/pop.h"

#include "cmp/sig.h"

int cmp_pop_verify(const CMPGW_CERTREQMSG *crm, EVP_PKEY **pubkey_out)
{
	const CMPGW_POPOSIGNINGKEY *sk;
	const CMPGW_CERTTEMPLATE *tmpl;
	EVP_PKEY *pkey = NULL;
	unsigned char *der = NULL;
	int n, rc = RC_INVAL;

	if (crm == NULL || crm->certReq == NULL || crm->popo == NULL)
		goto out;
	if (crm->popo->type == CMPGW_POPO_RAVERIFIED) {
		rc = RC_UNSUPPORTED;
		goto out;
	}
	if (crm->popo->type != CMPGW_POPO_SIGNATURE || (sk = crm->popo->value.signature) == NULL)
		goto out;
	/*
	 * RFC 4211 4.1: poposkInput is used only when the template lacks
	 * subject or publicKey; RFC 9483 4.1.1 does not use it. Not supported.
	 */
	if (sk->poposkInput != NULL)
		goto out;
	tmpl = crm->certReq->certTemplate;
	if (tmpl == NULL || tmpl->publicKey == NULL)
		goto out;
	if ((pkey = X509_PUBKEY_get(tmpl->publicKey)) == NULL)
		goto out;
	rc = RC_NOMEM;
	if ((n = i2d_CMPGW_CERTREQ(crm->certReq, &der)) <= 0)
		goto out;
	if ((rc = cmp_sig_verify(sk->algorithmIdentifier, sk->signature, der, (size_t)n, pkey)) !=
	    0)
		goto out;
	if (pubkey_out != NULL) {
		*pubkey_out = pkey;
		pkey = NULL;
	}
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	return rc;
}
