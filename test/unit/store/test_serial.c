/*
 * test/unit/store/test_serial.c - serial list import against a real,
 * migrated database: counts, idempotence, blocking, rejected input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/serial.h"
#include "store/vendor.h"
#include "test/unit/tap.h"
#include "test/unit/store/fixture.h"

static void copy_text(void *arg, const struct store_result *r)
{
	char *out = arg;

	snprintf(out, 64, "%s", r->rc == RC_OK && r->nrows == 1 ? store_val(r, 0, 0) : "?");
}

/* One text value from a query with one parameter. */
static const char *q1(struct store_conn *c, const char *sql, const char *p, char out[64])
{
	if (store_db_exec(c, sql, p ? 1 : 0, p ? &p : NULL, NULL, NULL, false, copy_text, out))
		snprintf(out, 64, "error");
	return out;
}

static int import_str(struct store_conn *c, int64_t vid, const char *text, const char *state,
		      long *ins, long *upd, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	*ins = *upd = -1;
	rc = store_serial_import(c, vid, f, state, ins, upd, err, errlen);
	fclose(f);
	return rc;
}

static void test_serial_basic(struct store_conn *c, int64_t vid)
{
	const char *list = "\xef\xbb\xbf"
			   "A1\r\nB2\n# comment\n\n   C3  \nA1\nback\\slash\n";
	char err[256], v[64];
	long ins, upd;

	is_int(import_str(c, vid, list, "allowed", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: import (%s)", err);
	ok(ins == 4 && upd == 0, "serial: 4 new, 0 changed (%ld, %ld)", ins, upd);
	is_int(import_str(c, vid, list, "allowed", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: import again");
	ok(ins == 0 && upd == 0, "serial: idempotent (%ld, %ld)", ins, upd);
	ok(strcmp(q1(c, "SELECT count(*) FROM serials WHERE serial = 'back\\slash'", NULL, v),
		  "1") == 0,
	   "serial: backslash kept");
	ok(strcmp(q1(c, "SELECT state FROM serials WHERE serial = 'C3'", NULL, v), "allowed") == 0,
	   "serial: trimmed, allowed");
	is_int(store_db_exec(c, "UPDATE serials SET state = 'enrolled' WHERE serial = 'B2'", 0,
			     NULL, NULL, NULL, false, NULL, NULL),
	       RC_OK, "serial: enroll B2");
	is_int(import_str(c, vid, "B2\nD4\n", "blocked", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: block (%s)", err);
	ok(ins == 1 && upd == 1, "serial: block 1 new, 1 changed (%ld, %ld)", ins, upd);
	is_int(import_str(c, vid, "B2\nD4\n", "blocked", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: block again");
	ok(ins == 0 && upd == 0, "serial: block idempotent (%ld, %ld)", ins, upd);
	ok(strcmp(q1(c, "SELECT state FROM serials WHERE serial = 'B2'", NULL, v), "blocked") == 0,
	   "serial: enrolled serial blocked");
	is_int(import_str(c, vid, "D4\n", "allowed", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: allow a blocked one");
	ok(ins == 0 && strcmp(q1(c, "SELECT state FROM serials WHERE serial = 'D4'", NULL, v),
			      "blocked") == 0,
	   "serial: allowed import does not unblock");
}

static void test_serial_bad(struct store_conn *c, int64_t vid)
{
	char err[256], v[64], big[300];
	long ins, upd;

	is_int(import_str(c, vid, "E5\nF\x01G\nH7\n", "allowed", &ins, &upd, err, sizeof(err)),
	       RC_INVAL, "serial: control byte rejected");
	ok(strstr(err, "line 2") != NULL, "serial: error names line 2 (%s)", err);
	ok(strcmp(q1(c, "SELECT count(*) FROM serials WHERE serial IN ('E5', 'H7')", NULL, v),
		  "0") == 0,
	   "serial: nothing written");
	memset(big, 'x', sizeof(big));
	memcpy(big, "ok\n# x\n", 7);
	memcpy(big + 7 + 129, "\n", 2);
	is_int(import_str(c, vid, big, "allowed", &ins, &upd, err, sizeof(err)), RC_INVAL,
	       "serial: 129-byte serial rejected");
	ok(strstr(err, "line 3") != NULL, "serial: error names line 3 (%s)", err);
	is_int(import_str(c, vid, "caf\xc3\xa9\n", "allowed", &ins, &upd, err, sizeof(err)),
	       RC_INVAL, "serial: non-ASCII rejected");
	is_int(import_str(c, 424242, "Z\n", "allowed", &ins, &upd, err, sizeof(err)), RC_NOTFOUND,
	       "serial: unknown vendor");
	is_int(import_str(c, vid, "Z\n", "enrolled", &ins, &upd, err, sizeof(err)), RC_INVAL,
	       "serial: bad state");
}

static void test_serial_bulk(struct store_conn *c, int64_t vid)
{
	const long rows = 1000000;
	struct timespec t0, t1;
	FILE *f = tmpfile();
	char err[256];
	long ins = 0, upd = 0;
	double s;
	int rc;

	for (long i = 0; f && i < rows; i++)
		fprintf(f, "SN-%010ld\n", i);
	if (!f) {
		ok(0, "serial: tmpfile");
		return;
	}
	rewind(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_serial_import(c, vid, f, "allowed", &ins, &upd, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fclose(f);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	is_int(rc, RC_OK, "serial: bulk import (%s)", err);
	is_int(ins, rows, "serial: bulk rows inserted");
	printf("# bulk import: %ld rows in %.2f s (%.0f rows/s)\n", rows, s, (double)rows / s);
}

/* Migration 008 replaced the foreign key serials -> vendors by statement
 * triggers: the same refusals and the same cascade. */
static void test_serial_vendor_integrity(struct store_conn *c)
{
	char v[64], sql[160];
	int64_t vid = 0;
	long ins, upd;
	char err[256];

	is_int(store_vendor_add(c, "gone", NULL, true, &vid), RC_OK, "serial: second vendor");
	is_int(import_str(c, vid, "G1\nG2\n", "allowed", &ins, &upd, err, sizeof(err)), RC_OK,
	       "serial: import for the second vendor");
	q1(c, "SELECT count(*) FROM serials WHERE vendor_id = 999999", NULL, v);
	ok(strcmp(v, "0") == 0, "serial: no rows for a vendor that does not exist");
	is_int(store_db_exec(c, "INSERT INTO serials (vendor_id, serial) VALUES (999999, 'X')", 0,
			     NULL, NULL, NULL, false, NULL, NULL),
	       RC_DB, "serial: a row naming no vendor is refused");
	snprintf(sql, sizeof(sql), "UPDATE serials SET vendor_id = 999999 WHERE vendor_id = %lld",
		 (long long)vid);
	is_int(store_db_exec(c, sql, 0, NULL, NULL, NULL, false, NULL, NULL), RC_DB,
	       "serial: a serial cannot move to another vendor id");
	snprintf(sql, sizeof(sql), "UPDATE vendors SET id = 999999 WHERE id = %lld",
		 (long long)vid);
	is_int(store_db_exec(c, sql, 0, NULL, NULL, NULL, false, NULL, NULL), RC_DB,
	       "serial: a vendor id cannot change");
	snprintf(sql, sizeof(sql), "DELETE FROM vendors WHERE id = %lld", (long long)vid);
	is_int(store_db_exec(c, sql, 0, NULL, NULL, NULL, false, NULL, NULL), RC_OK,
	       "serial: vendor deleted");
	ok(strcmp(q1(c, "SELECT count(*) FROM serials WHERE serial IN ('G1', 'G2')", NULL, v),
		  "0") == 0,
	   "serial: deleting a vendor deletes its serials");
}

int main(void)
{
	struct fixture f;
	int64_t vid = 0;

	if (!fixture_start(&f, true))
		return 1;
	is_int(store_vendor_add(f.c, "acme", NULL, true, &vid), RC_OK, "serial: vendor");
	test_serial_basic(f.c, vid);
	test_serial_bad(f.c, vid);
	test_serial_bulk(f.c, vid);
	test_serial_vendor_integrity(f.c);
	fixture_stop(&f);
	return tap_done();
}
