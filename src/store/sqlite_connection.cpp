// SqlConnection over the SQLite C API (sql_connection.h).
#include <sqlite3.h>

#include <cstring>

#include "store/sql_connection.h"

namespace sinan::store {

namespace {

class SqliteConnection final : public SqlConnection {
  public:
    explicit SqliteConnection(sqlite3* db) : db_(db) {}
    ~SqliteConnection() override { sqlite3_close_v2(db_); }

    Dialect dialect() const override { return Dialect::kSqlite; }

    Result<std::vector<SqlRow>> query(const std::string& sql, const std::vector<SqlValue>& params) override {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
            return error("preparing");
        struct Finalize {
            sqlite3_stmt* s;
            ~Finalize() { sqlite3_finalize(s); }
        } finalize{stmt};
        for (size_t i = 0; i < params.size(); ++i) {
            const int at = static_cast<int>(i) + 1;
            int rc = SQLITE_OK;
            if (std::holds_alternative<std::nullptr_t>(params[i])) {
                rc = sqlite3_bind_null(stmt, at);
            } else if (const int64_t* v = std::get_if<int64_t>(&params[i])) {
                rc = sqlite3_bind_int64(stmt, at, *v);
            } else if (const std::string* t = std::get_if<std::string>(&params[i])) {
                rc = sqlite3_bind_text64(stmt, at, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
            } else {
                const std::string& b = std::get<Blob>(params[i]).bytes;
                rc = sqlite3_bind_blob64(stmt, at, b.data(), b.size(), SQLITE_STATIC);
            }
            if (rc != SQLITE_OK) return error("binding");
        }
        std::vector<SqlRow> rows;
        for (;;) {
            const int rc = sqlite3_step(stmt);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) return error("running");
            SqlRow row;
            const int n = sqlite3_column_count(stmt);
            row.cells.resize(n);
            for (int c = 0; c < n; ++c) {
                if (sqlite3_column_type(stmt, c) == SQLITE_NULL) continue;
                const bool blob = sqlite3_column_type(stmt, c) == SQLITE_BLOB;
                const void* data = blob ? sqlite3_column_blob(stmt, c) : sqlite3_column_text(stmt, c);
                const int size = sqlite3_column_bytes(stmt, c);
                row.cells[c] = std::string(static_cast<const char*>(data), static_cast<size_t>(size));
            }
            rows.push_back(std::move(row));
        }
        return rows;
    }

    Status begin() override { return query("BEGIN IMMEDIATE", {}).status(); }

  private:
    Status error(const char* what) const {
        return Status::error(std::string("SQLite: ") + what + " a statement failed: " + sqlite3_errmsg(db_));
    }

    sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> open_sqlite(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return Status::error(path + ": cannot open the SQLite database (" + message +
                             "); check that the data directory exists and is writable");
    }
    auto conn = std::make_unique<SqliteConnection>(db);
    sqlite3_busy_timeout(db, 10000);
    // WAL lets readers run beside the writer; FULL syncs the WAL on every commit, so what a
    // commit acknowledged survives kill -9 and power loss.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
        Result<std::vector<SqlRow>> r = conn->query(pragma, {});
        if (!r.ok()) return r.status().annotate(path + ": ");
    }
    return std::unique_ptr<SqlConnection>(std::move(conn));
}

}  // namespace sinan::store
