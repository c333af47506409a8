#include "SQLiteOptions.h"
#include <sqlite_nio_sqlite3.h>

int shop_sqlite_enable_stable_plans(sqlite3 *db) {
    int enabled = 0;
    int status = sqlite_nio_sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &enabled);
    if (status == SQLITE_OK && enabled != 1) return SQLITE_ERROR;
    return status;
}
