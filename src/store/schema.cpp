#include "store/schema.h"

#include <string>
#include <vector>

namespace sinan::store {

namespace {

// Written once for both backends; {pk} and {blob} are the only spellings that differ.
const std::vector<std::vector<std::string>> kMigrations = {
    // 1: knowledge bases, documents, chunks, ingestion jobs.
    {
        "CREATE TABLE knowledge_bases ("
        " id {pk},"
        " name TEXT NOT NULL UNIQUE,"
        " description TEXT NOT NULL DEFAULT '',"
        " created_at BIGINT NOT NULL)",

        "CREATE TABLE documents ("
        " id {pk},"
        " kb_id BIGINT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,"
        " source TEXT NOT NULL,"
        " content_sha256 TEXT NOT NULL,"
        " version INTEGER NOT NULL,"
        " metadata TEXT NOT NULL DEFAULT '{}',"
        " status TEXT NOT NULL,"
        " error TEXT NOT NULL DEFAULT '',"
        " n_chunks INTEGER NOT NULL DEFAULT 0,"
        " size_bytes BIGINT NOT NULL DEFAULT 0,"
        " updated_at BIGINT NOT NULL,"
        " UNIQUE (kb_id, source))",

        "CREATE TABLE chunks ("
        " id {pk},"
        " document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
        " ordinal INTEGER NOT NULL,"
        " text TEXT NOT NULL,"
        " location TEXT NOT NULL DEFAULT '',"
        " page INTEGER NOT NULL DEFAULT 0,"
        " n_tokens INTEGER NOT NULL DEFAULT 0,"
        " embedding {blob},"
        " UNIQUE (document_id, ordinal))",

        "CREATE TABLE jobs ("
        " id {pk},"
        " kb_id BIGINT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,"
        " status TEXT NOT NULL,"
        " n_total INTEGER NOT NULL,"
        " upload_dir TEXT NOT NULL,"
        " host TEXT NOT NULL,"
        " metadata TEXT NOT NULL DEFAULT '{}',"
        " error TEXT NOT NULL DEFAULT '',"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL)",

        "CREATE INDEX jobs_by_status ON jobs (status)",

        "CREATE TABLE job_files ("
        " job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
        " ordinal INTEGER NOT NULL,"
        " source TEXT NOT NULL,"
        " upload_name TEXT NOT NULL,"
        " size_bytes BIGINT NOT NULL,"
        " status TEXT NOT NULL,"
        " message TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (job_id, ordinal))",
    },
    // 2: the embedding model a knowledge base's vectors come from ('' = none yet).
    {
        "ALTER TABLE knowledge_bases ADD COLUMN embedding_model TEXT NOT NULL DEFAULT ''",
    },
};

std::string spell(std::string sql, Dialect d) {
    auto replace = [&](const std::string& from, const std::string& to) {
        for (size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size()))
            sql.replace(at, from.size(), to);
    };
    // SQLite's AUTOINCREMENT never reuses the id of a deleted row, like a PostgreSQL sequence.
    replace("{pk}", d == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY");
    replace("{blob}", d == Dialect::kSqlite ? "BLOB" : "BYTEA");
    return sql;
}

Status apply_missing(SqlConnection& conn) {
    if (conn.dialect() == Dialect::kPostgres) {
        // Replicas starting together: the first migrates, the others wait here and find it done.
        SINAN_RETURN_IF_ERROR(conn.query("SELECT pg_advisory_xact_lock(7365726)").status());
    }
    SINAN_RETURN_IF_ERROR(conn.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").status());
    Result<std::vector<SqlRow>> rows = conn.query("SELECT version FROM schema_version");
    if (!rows.ok()) return rows.status();
    const int current = rows->empty() ? 0 : static_cast<int>(rows->front().integer(0));
    if (current > kSchemaVersion)
        return Status::error("the store's schema version " + std::to_string(current) + " is newer than this sinan (" +
                             std::to_string(kSchemaVersion) + "); upgrade sinan");
    if (current == kSchemaVersion) return Status::ok();
    for (int v = current + 1; v <= kSchemaVersion; ++v)
        for (const std::string& sql : kMigrations[v - 1])
            SINAN_RETURN_IF_ERROR(conn.query(spell(sql, conn.dialect()))
                                      .status()
                                      .annotate("schema migration " + std::to_string(v) + ": "));
    if (rows->empty())
        return conn.query("INSERT INTO schema_version (version) VALUES (?)", {int64_t{kSchemaVersion}}).status();
    return conn.query("UPDATE schema_version SET version = ?", {int64_t{kSchemaVersion}}).status();
}

}  // namespace

Status migrate(SqlConnection& conn) {
    SINAN_RETURN_IF_ERROR(conn.begin());
    Status s = apply_missing(conn);
    if (!s.is_ok()) {
        (void)conn.query("ROLLBACK");
        return s;
    }
    return conn.query("COMMIT").status();
}

}  // namespace sinan::store
