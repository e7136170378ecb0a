/* test/unit/store/test_store.h - parts of the store test program. */
#ifndef CMPGW_TEST_STORE_H
#define CMPGW_TEST_STORE_H

#include "store/db.h"

void test_db(const char *conninfo, struct store_conn *c);
void test_data(struct store_conn *c);

#endif
