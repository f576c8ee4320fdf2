#include "cluster/result_store.hpp"

#include <sqlite3.h>

#include <utility>

namespace corun::cluster {
namespace {

constexpr const char* SCHEMA_NAME = "corun-batch";
constexpr const char* NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

// The schema, version 1. docs/BATCH.md explains every column.
constexpr const char* SCHEMA_SQL = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  command TEXT NOT NULL,
  summary TEXT);
CREATE TABLE files(
  path TEXT PRIMARY KEY,
  content_hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  kind TEXT NOT NULL,
  run_id INTEGER NOT NULL);
CREATE INDEX files_by_content ON files(content_hash);
CREATE TABLE results(
  content_hash TEXT NOT NULL,
  task TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  model TEXT NOT NULL,
  model_version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error_kind TEXT,
  error TEXT,
  decode_ms REAL NOT NULL,
  pre_ms REAL,
  infer_ms REAL,
  post_ms REAL,
  total_ms REAL NOT NULL,
  result TEXT,
  stages TEXT,
  run_id INTEGER NOT NULL,
  finished_at TEXT NOT NULL,
  node TEXT,
  PRIMARY KEY (content_hash, task));
CREATE TABLE embeddings(
  content_hash TEXT NOT NULL,
  task TEXT NOT NULL,
  face_index INTEGER NOT NULL,
  dimension INTEGER NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY (content_hash, task, face_index));
)sql";

// One prepared statement, finalized when it goes out of scope.
class Statement {
public:
    Statement(sqlite3* db, const std::string& sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) {
            error_ = sqlite3_errmsg(db);
        }
    }
    ~Statement() { sqlite3_finalize(statement_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Status prepared() const {
        if (error_.empty()) return Status::ok();
        return Status(StatusCode::FILE_OPERATION_FAILURE, "SQLite: " + error_);
    }
    Statement& bind(int index, const std::string& text) {
        sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind(int index, int64_t value) {
        sqlite3_bind_int64(statement_, index, value);
        return *this;
    }
    Statement& bind(int index, double value) {
        sqlite3_bind_double(statement_, index, value);
        return *this;
    }
    Statement& bind(int index, const std::optional<double>& value) {
        if (value) return bind(index, *value);
        sqlite3_bind_null(statement_, index);
        return *this;
    }
    Statement& bind_null(int index) {
        sqlite3_bind_null(statement_, index);
        return *this;
    }
    Statement& bind_blob(int index, const void* data, size_t size) {
        sqlite3_bind_blob64(statement_, index, data, size, SQLITE_TRANSIENT);
        return *this;
    }
    // SQLITE_ROW (true) or SQLITE_DONE (false); anything else is an error.
    Expected<bool> step() {
        CORUN_RETURN_IF_ERROR(prepared());
        const int code = sqlite3_step(statement_);
        if (code == SQLITE_ROW) return true;
        if (code == SQLITE_DONE) return false;
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      std::string("SQLite: ") + sqlite3_errmsg(db_));
    }
    Status run() {
        CORUN_TRY(const bool row, step());
        (void)row;
        return Status::ok();
    }
    std::string text(int column) const {
        const auto* value = sqlite3_column_text(statement_, column);
        return value ? reinterpret_cast<const char*>(value) : "";
    }
    int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }

private:
    sqlite3* db_;
    sqlite3_stmt* statement_ = nullptr;
    std::string error_;
};

// Rolls back unless committed: a failed write leaves the database as it was.
class Transaction {
public:
    explicit Transaction(sqlite3* db) : db_(db) {}
    ~Transaction() {
        if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Status begin() {
        CORUN_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
        open_ = true;
        return Status::ok();
    }
    Status commit() {
        CORUN_RETURN_IF_ERROR(exec("COMMIT"));
        open_ = false;
        return Status::ok();
    }

private:
    Status exec(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK) return Status::ok();
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      std::string("SQLite ") + sql + ": " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    bool open_ = false;
};

Status delete_results_of(sqlite3* db, const std::string& content_hash, const std::string& where) {
    for (const char* table : {"results", "embeddings"}) {
        Statement remove(db,
                         std::string("DELETE FROM ") + table + " WHERE content_hash = ?1" + where);
        CORUN_RETURN_IF_ERROR(remove.bind(1, content_hash).run());
    }
    return Status::ok();
}

Status store_result(sqlite3* db, const TaskResult& result, int64_t run) {
    Statement embeddings(db, "DELETE FROM embeddings WHERE content_hash = ?1 AND task = ?2");
    CORUN_RETURN_IF_ERROR(embeddings.bind(1, result.content_hash).bind(2, result.task).run());
    Statement insert(db, std::string(R"sql(
        INSERT OR REPLACE INTO results(content_hash, task, path, size, model, model_version,
          status, error_kind, error, decode_ms, pre_ms, infer_ms, post_ms, total_ms, result,
          stages, run_id, node, finished_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
          )sql") + NOW + ")");
    insert.bind(1, result.content_hash)
        .bind(2, result.task)
        .bind(3, result.path)
        .bind(4, static_cast<int64_t>(result.size))
        .bind(5, result.model)
        .bind(6, result.model_version)
        .bind(7, std::string(result.ok() ? "ok" : "error"))
        .bind(10, result.times.decode_ms)
        .bind(11, result.times.pre_ms)
        .bind(12, result.times.infer_ms)
        .bind(13, result.times.post_ms)
        .bind(14, result.times.total_ms)
        .bind(17, run);
    if (result.node.empty()) {
        insert.bind_null(18);
    } else {
        insert.bind(18, result.node);
    }
    if (result.ok()) {
        insert.bind_null(8).bind_null(9).bind(15, result.result.dump());
    } else {
        insert.bind(8, result.error_kind).bind(9, result.error).bind_null(15);
    }
    if (result.stages.is_null()) {
        insert.bind_null(16);
    } else {
        insert.bind(16, result.stages.dump());
    }
    CORUN_RETURN_IF_ERROR(insert.run());
    for (size_t i = 0; i < result.embeddings.size(); ++i) {
        const auto& vector = result.embeddings[i];
        Statement add(db,
                      "INSERT INTO embeddings(content_hash, task, face_index, dimension, vector) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)");
        add.bind(1, result.content_hash)
            .bind(2, result.task)
            .bind(3, static_cast<int64_t>(i))
            .bind(4, static_cast<int64_t>(vector.size()))
            .bind_blob(5, vector.data(), vector.size() * sizeof(float));
        CORUN_RETURN_IF_ERROR(add.run());
    }
    return Status::ok();
}

}  // namespace

std::string result_key(const std::string& content_hash, const std::string& task) {
    return content_hash + '\x1f' + task;
}

Expected<std::unique_ptr<ResultStore>> ResultStore::open(const std::string& path) {
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    if (code != SQLITE_OK) {
        std::string reason = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
        sqlite3_close(db);
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot open the database '" + path + "' (--db): " + reason);
    }
    std::unique_ptr<ResultStore> store(new ResultStore(db, path));
    // A killed process must not lose committed rows; WAL with synchronous NORMAL keeps every
    // committed transaction through a process crash (only a power loss can drop the last ones).
    sqlite3_busy_timeout(db, 10000);
    CORUN_RETURN_IF_ERROR(store->create_or_check_schema());
    return store;
}

ResultStore::~ResultStore() {
    sqlite3_close(db_);
}

Status ResultStore::execute(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) {
        return Status::ok();
    }
    std::string reason = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return Status(StatusCode::FILE_OPERATION_FAILURE,
                  "the database '" + path_ + "' (--db): SQLite: " + reason);
}

Status ResultStore::create_or_check_schema() {
    const std::string what = "the database '" + path_ + "' (--db)";
    // The first read tells a SQLite file from anything else.
    // Statements in their own scopes: a statement left mid-step keeps a read transaction
    // open, and the journal mode cannot change inside one.
    int64_t user_version = 0;
    int64_t table_count = 0;
    {
        Statement version(db_, "PRAGMA user_version");
        auto row = version.step();
        if (!row.has_value()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " is not a SQLite database (" + row.status().message() +
                              "); give a new file name or one an earlier corun batch wrote");
        }
        user_version = version.integer(0);
        Statement tables(db_, "SELECT count(*) FROM sqlite_master");
        CORUN_RETURN_IF_ERROR(tables.step().status());
        table_count = tables.integer(0);
    }

    if (user_version == 0 && table_count == 0) {
        CORUN_RETURN_IF_ERROR(execute("PRAGMA journal_mode=WAL"));
        Transaction transaction(db_);
        CORUN_RETURN_IF_ERROR(transaction.begin());
        CORUN_RETURN_IF_ERROR(execute(SCHEMA_SQL));
        CORUN_RETURN_IF_ERROR(execute(std::string("INSERT INTO meta VALUES ('schema', '") +
                                      SCHEMA_NAME + "'), ('schema_version', '" +
                                      std::to_string(RESULT_STORE_SCHEMA_VERSION) +
                                      "'), ('created_at', " + NOW + ")"));
        CORUN_RETURN_IF_ERROR(
            execute("PRAGMA user_version = " + std::to_string(RESULT_STORE_SCHEMA_VERSION)));
        CORUN_RETURN_IF_ERROR(transaction.commit());
    } else {
        bool ours = false;
        {
            Statement schema(db_, "SELECT value FROM meta WHERE key = 'schema'");
            auto found = schema.step();
            ours = found.has_value() && *found && schema.text(0) == SCHEMA_NAME;
        }
        if (!ours) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what +
                              " is a SQLite database of something else (no corun batch "
                              "schema); give a new file name");
        }
        if (user_version > RESULT_STORE_SCHEMA_VERSION) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          what + " has schema version " + std::to_string(user_version) +
                              ", written by a newer corun; this corun reads version " +
                              std::to_string(RESULT_STORE_SCHEMA_VERSION));
        }
        CORUN_RETURN_IF_ERROR(execute("PRAGMA journal_mode=WAL"));
        if (user_version < 2) {
            // Version 2 added results.node (the cluster worker that computed a row).
            Transaction transaction(db_);
            CORUN_RETURN_IF_ERROR(transaction.begin());
            CORUN_RETURN_IF_ERROR(execute("ALTER TABLE results ADD COLUMN node TEXT"));
            CORUN_RETURN_IF_ERROR(
                execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'"));
            CORUN_RETURN_IF_ERROR(execute("PRAGMA user_version = 2"));
            CORUN_RETURN_IF_ERROR(transaction.commit());
        }
    }
    return execute("PRAGMA synchronous=NORMAL");
}

Expected<std::unordered_map<std::string, FileRecord>> ResultStore::files() {
    std::unordered_map<std::string, FileRecord> files;
    Statement query(db_, "SELECT path, content_hash, size, mtime_ns, kind FROM files");
    while (true) {
        CORUN_TRY(const bool row, query.step());
        if (!row) break;
        files[query.text(0)] = {query.text(1), static_cast<uint64_t>(query.integer(2)),
                                query.integer(3), input_kind_from_name(query.text(4))};
    }
    return files;
}

Expected<std::unordered_map<std::string, std::string>> ResultStore::done_results() {
    std::unordered_map<std::string, std::string> done;
    Statement query(db_,
                    "SELECT content_hash, task, model_version FROM results "
                    "WHERE content_hash NOT LIKE 'unread:%'");
    while (true) {
        CORUN_TRY(const bool row, query.step());
        if (!row) break;
        done[result_key(query.text(0), query.text(1))] = query.text(2);
    }
    return done;
}

Expected<int64_t> ResultStore::begin_run(const nlohmann::json& command) {
    Statement insert(db_,
                     std::string("INSERT INTO runs(started_at, command) VALUES (") + NOW + ", ?1)");
    CORUN_RETURN_IF_ERROR(insert.bind(1, command.dump()).run());
    return sqlite3_last_insert_rowid(db_);
}

Status ResultStore::finish_run(int64_t run, const nlohmann::json& summary) {
    Statement update(
        db_, std::string("UPDATE runs SET finished_at = ") + NOW + ", summary = ?1 WHERE id = ?2");
    return update.bind(1, summary.dump()).bind(2, run).run();
}

Status ResultStore::store(const FileOutcome& outcome, int64_t run) {
    Transaction transaction(db_);
    CORUN_RETURN_IF_ERROR(transaction.begin());
    std::string previous_hash;
    if (outcome.file) {
        Statement previous(db_, "SELECT content_hash FROM files WHERE path = ?1");
        CORUN_TRY(const bool found, previous.bind(1, outcome.path).step());
        if (found) previous_hash = previous.text(0);
        Statement upsert(db_, R"sql(
            INSERT INTO files(path, content_hash, size, mtime_ns, kind, run_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT(path) DO UPDATE SET content_hash = excluded.content_hash,
              size = excluded.size, mtime_ns = excluded.mtime_ns, kind = excluded.kind,
              run_id = excluded.run_id)sql");
        upsert.bind(1, outcome.path)
            .bind(2, outcome.file->content_hash)
            .bind(3, static_cast<int64_t>(outcome.file->size))
            .bind(4, outcome.file->mtime_ns)
            .bind(5, std::string(input_kind_name(outcome.file->kind)))
            .bind(6, run);
        CORUN_RETURN_IF_ERROR(upsert.run());
        // The path is readable now: an earlier unread attempt's rows are stale.
        CORUN_RETURN_IF_ERROR(delete_results_of(db_, unread_input_key(outcome.path), ""));
    }
    for (const auto& result : outcome.results) {
        CORUN_RETURN_IF_ERROR(store_result(db_, result, run));
    }
    if (!previous_hash.empty() && outcome.file && previous_hash != outcome.file->content_hash) {
        CORUN_RETURN_IF_ERROR(delete_results_of(
            db_, previous_hash,
            " AND NOT EXISTS (SELECT 1 FROM files WHERE files.content_hash = ?1)"));
    }
    return transaction.commit().with_context("the database '" + path_ + "' (--db)");
}

Expected<std::string> ResultStore::meta_value(const std::string& key) {
    Statement query(db_, "SELECT value FROM meta WHERE key = ?1");
    CORUN_TRY(const bool found, query.bind(1, key).step());
    return found ? query.text(0) : std::string();
}

Status ResultStore::set_meta_value(const std::string& key, const std::string& value) {
    Statement upsert(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
    return upsert.bind(1, key).bind(2, value).run().with_context("the database '" + path_ +
                                                                 "' (--db)");
}

Expected<int64_t> ResultStore::count(const std::string& table) {
    Statement query(db_, "SELECT count(*) FROM " + table);
    CORUN_RETURN_IF_ERROR(query.step().status());
    return query.integer(0);
}

}  // namespace corun::cluster
