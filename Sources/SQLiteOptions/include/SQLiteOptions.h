#ifndef SHOP_SQLITE_OPTIONS_H
#define SHOP_SQLITE_OPTIONS_H

// The settings of a SQLite connection that SQLite only offers through its variadic
// sqlite3_db_config, which Swift cannot call.

typedef struct sqlite3 sqlite3;

/// Turns on the query planner stability guarantee: a statement keeps the plan it was
/// compiled with whatever values are bound to it, so a kept statement is never compiled
/// again because a bound value changed. Returns SQLite's result code.
int shop_sqlite_enable_stable_plans(sqlite3 *db);

#endif
