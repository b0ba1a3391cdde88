// One connection to a SQL database, the small surface the Store needs from SQLite and from
// PostgreSQL. Private to src/store/: the Store writes its SQL once (portable SQL with `?`
// placeholders) and runs it through either driver, so both backends behave the same by
// construction.
//
// Values travel as text or raw bytes: a parameter is NULL, an integer, text or a blob; a result
// cell is NULL or bytes (integers as decimal text, blobs as their raw bytes on both backends).
// Thread-safety: none; the Store serialises every call under its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace sinan::store {

enum class Dialect { kSqlite, kPostgres };

struct Blob {
    std::string bytes;
};

// A bound parameter.
using SqlValue = std::variant<std::nullptr_t, int64_t, std::string, Blob>;

// One result row; cells in SELECT order.
struct SqlRow {
    std::vector<std::optional<std::string>> cells;

    bool is_null(size_t i) const { return !cells.at(i).has_value(); }
    std::string text(size_t i) const { return cells.at(i).value_or(std::string()); }    // "" for NULL
    int64_t integer(size_t i) const { return is_null(i) ? 0 : std::stoll(*cells[i]); }  // 0 for NULL
};

class SqlConnection {
  public:
    virtual ~SqlConnection() = default;

    virtual Dialect dialect() const = 0;
    // Runs one statement with `?` placeholders bound to `params` in order, and returns its rows
    // (none for statements without a result). Errors carry the database's message.
    virtual Result<std::vector<SqlRow>> query(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;
    // Starts a write transaction (SQLite: BEGIN IMMEDIATE, so it never has to upgrade a read lock
    // and deadlock with another writer; PostgreSQL: BEGIN).
    virtual Status begin() = 0;
};

// SQLite database file at `path` (created when missing): WAL journal, synchronous=FULL (a
// committed transaction survives power loss or kill -9), foreign keys on, 10 s busy timeout.
Result<std::unique_ptr<SqlConnection>> open_sqlite(const std::string& path);

// PostgreSQL through libpq; `conninfo` is a postgres://user@host:port/db URI or a key=value
// connection string.
Result<std::unique_ptr<SqlConnection>> open_postgres(const std::string& conninfo);

}  // namespace sinan::store
