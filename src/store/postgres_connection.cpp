// SqlConnection over libpq (sql_connection.h). Parameters go as text, blobs as binary; results
// come back as text, with bytea cells decoded from PostgreSQL's hex output to raw bytes.
#include <libpq-fe.h>

#include <string>

#include "store/sql_connection.h"

namespace sinan::store {

namespace {

constexpr Oid kByteaOid = 17;  // pg_type.oid of bytea (catalog/pg_type_d.h, stable across versions)

// The Store writes `?` placeholders (SQLite's); PostgreSQL numbers them: $1, $2, ... The Store's
// SQL never has a `?` inside a string literal.
std::string number_placeholders(const std::string& sql) {
    std::string out;
    out.reserve(sql.size() + 16);
    int n = 0;
    for (char c : sql) {
        if (c == '?') {
            out += '$';
            out += std::to_string(++n);
        } else {
            out += c;
        }
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

// bytea text output ("\x0a1b...", the default bytea_output since PostgreSQL 9.0) -> raw bytes.
std::string decode_bytea(const char* text, int size) {
    std::string out;
    if (size < 2) return out;
    out.reserve((size - 2) / 2);
    for (int i = 2; i + 1 < size; i += 2) out += static_cast<char>(hex_value(text[i]) * 16 + hex_value(text[i + 1]));
    return out;
}

// The URI without its password (postgres://user:secret@host -> postgres://user:***@host), for
// error messages.
std::string redact_password(const std::string& conninfo) {
    const size_t scheme = conninfo.find("://");
    const size_t at = conninfo.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return conninfo;
    const size_t colon = conninfo.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return conninfo;
    return conninfo.substr(0, colon + 1) + "***" + conninfo.substr(at);
}

class PostgresConnection final : public SqlConnection {
  public:
    explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
    ~PostgresConnection() override { PQfinish(conn_); }

    Dialect dialect() const override { return Dialect::kPostgres; }

    Result<std::vector<SqlRow>> query(const std::string& sql, const std::vector<SqlValue>& params) override {
        const size_t n = params.size();
        std::vector<std::string> storage(n);
        std::vector<const char*> values(n, nullptr);
        std::vector<int> lengths(n, 0), formats(n, 0);
        for (size_t i = 0; i < n; ++i) {
            if (std::holds_alternative<std::nullptr_t>(params[i])) continue;
            if (const int64_t* v = std::get_if<int64_t>(&params[i])) {
                storage[i] = std::to_string(*v);
            } else if (const std::string* t = std::get_if<std::string>(&params[i])) {
                storage[i] = *t;
            } else {
                storage[i] = std::get<Blob>(params[i]).bytes;
                formats[i] = 1;  // binary
            }
            values[i] = storage[i].data();
            lengths[i] = static_cast<int>(storage[i].size());
        }
        const std::string numbered = number_placeholders(sql);
        PGresult* res = PQexecParams(conn_, numbered.c_str(), static_cast<int>(n), nullptr, values.data(),
                                     lengths.data(), formats.data(), 0);
        struct Clear {
            PGresult* r;
            ~Clear() { PQclear(r); }
        } clear{res};
        const ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            std::string message = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
            while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
            return Status::error("PostgreSQL: " + message);
        }
        std::vector<SqlRow> rows;
        const int n_rows = PQntuples(res), n_cols = PQnfields(res);
        rows.resize(n_rows);
        for (int r = 0; r < n_rows; ++r) {
            rows[r].cells.resize(n_cols);
            for (int c = 0; c < n_cols; ++c) {
                if (PQgetisnull(res, r, c)) continue;
                const char* v = PQgetvalue(res, r, c);
                const int size = PQgetlength(res, r, c);
                rows[r].cells[c] = PQftype(res, c) == kByteaOid ? decode_bytea(v, size) : std::string(v, size);
            }
        }
        return rows;
    }

    Status begin() override { return query("BEGIN", {}).status(); }

  private:
    PGconn* conn_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> open_postgres(const std::string& conninfo) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        std::string message = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
        for (char& c : message)
            if (c == '\n') c = ' ';
        PQfinish(conn);
        return Status::error("PostgreSQL store " + redact_password(conninfo) + ": cannot connect (" + message +
                             "); check that the server runs and the URI's user, host, port and database");
    }
    auto pg = std::make_unique<PostgresConnection>(conn);
    // Quiet NOTICEs ("relation already exists, skipping") would otherwise go to stderr.
    Result<std::vector<SqlRow>> r = pg->query("SET client_min_messages = warning", {});
    if (!r.ok()) return r.status();
    return std::unique_ptr<SqlConnection>(std::move(pg));
}

}  // namespace sinan::store
