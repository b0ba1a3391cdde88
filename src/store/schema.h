// The store's schema and its migrations (private to src/store/). Migration N takes a database at
// schema version N-1 to version N; the version lives in the one-row table schema_version.
// migrate() applies every missing migration in one transaction, so a crash leaves the old or the
// new schema, never a mix. Thread-safety: call with the connection held by one thread.
#pragma once

#include "base/status.h"
#include "store/sql_connection.h"

namespace sinan::store {

inline constexpr int kSchemaVersion = 2;

// Brings the database to kSchemaVersion. Fails when the database is newer than this binary
// ("... schema version 3 is newer than this sinan (1); upgrade sinan").
Status migrate(SqlConnection& conn);

}  // namespace sinan::store
