/*
 * test/unit/store/test_vendor.c - vendors and vendor certificates against
 * a real, migrated database.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/vendor.h"
#include "test/unit/tap.h"
#include "test/unit/store/fixture.h"

static void test_vendor(struct store_conn *c)
{
	unsigned char der[40], fp[32];
	struct store_vendor *v = NULL;
	int64_t id = 0, id2 = 0;
	size_t n = 0;

	memset(der, 0x30, sizeof(der));
	der[5] = 0; /* binary-safe */
	memset(fp, 0xab, sizeof(fp));
	is_int(store_vendor_add(c, "acme", NULL, true, &id), RC_OK, "vendor: add");
	ok(id > 0, "vendor: id %lld", (long long)id);
	is_int(store_vendor_add(c, "acme", "subject_cn", false, &id2), RC_EXISTS,
	       "vendor: duplicate name");
	is_int(store_vendor_add(c, "bad", "nonsense", true, &id2), RC_INVAL, "vendor: bad rule");
	is_int(store_vendor_add(c, "beta", "cert_serial", false, &id2), RC_OK, "vendor: add 2");
	is_int(store_vendor_find(c, "acme", &id2), RC_OK, "vendor: find");
	is_int(id2, id, "vendor: find returns id");
	is_int(store_vendor_find(c, "nobody", &id2), RC_NOTFOUND, "vendor: find missing");
	is_int(store_vendor_cert_add(c, id, "anchor", der, sizeof(der), fp, "CN=Acme Root",
				     4102444800),
	       RC_OK, "vendor: cert add");
	is_int(store_vendor_cert_add(c, id, "anchor", der, sizeof(der), fp, "CN=Acme Root",
				     4102444800),
	       RC_EXISTS, "vendor: duplicate fingerprint");
	fp[0] = 1;
	is_int(store_vendor_cert_add(c, id, "intermediate", der, 10, fp, "CN=Acme Sub", 4102444800),
	       RC_OK, "vendor: second cert");
	fp[0] = 2;
	is_int(store_vendor_cert_add(c, 999999, "anchor", der, 10, fp, "CN=x", 0), RC_NOTFOUND,
	       "vendor: cert for missing vendor");
	is_int(store_vendor_cert_add(c, id, "root", der, 10, fp, "CN=x", 0), RC_INVAL,
	       "vendor: bad kind");
	is_int(store_vendor_load_all(c, &v, &n), RC_OK, "vendor: load all");
	is_int(n, 2, "vendor: two vendors");
	if (n == 2) {
		ok(v[0].id == id && strcmp(v[0].name, "acme") == 0 &&
			   strcmp(v[0].serial_rule, "subject_serialnumber") == 0 &&
			   v[0].allow_reenroll,
		   "vendor: first vendor fields");
		is_int(v[0].n_certs, 2, "vendor: first has two certs");
		ok(v[0].n_certs == 2 && strcmp(v[0].certs[0].kind, "anchor") == 0 &&
			   v[0].certs[0].derlen == sizeof(der) &&
			   memcmp(v[0].certs[0].der, der, sizeof(der)) == 0 &&
			   strcmp(v[0].certs[1].kind, "intermediate") == 0 &&
			   v[0].certs[1].derlen == 10,
		   "vendor: cert DER round-trips");
		ok(strcmp(v[1].name, "beta") == 0 && !v[1].allow_reenroll && v[1].n_certs == 0 &&
			   strcmp(v[1].serial_rule, "cert_serial") == 0,
		   "vendor: second vendor fields");
	}
	store_vendor_free_all(v, n);
}

int main(void)
{
	struct fixture f;

	if (!fixture_start(&f, true))
		return 1;
	test_vendor(f.c);
	fixture_stop(&f);
	return tap_done();
}
