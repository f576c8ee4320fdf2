// Reading a batch database from a test with plain SQL, apart from the ResultStore that wrote
// it: what a user's script would see.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

namespace corun::test {

using SqlRows = std::vector<std::vector<std::string>>;

// The rows of `sql` (NULL as "NULL"); one row {"ERROR", message} when the query fails.
inline SqlRows sql_rows(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    SqlRows rows;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        rows.push_back({"ERROR", db ? sqlite3_errmsg(db) : "cannot open"});
        sqlite3_close(db);
        return rows;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
        rows.push_back({"ERROR", sqlite3_errmsg(db)});
        sqlite3_close(db);
        return rows;
    }
    int code = 0;
    while ((code = sqlite3_step(statement)) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(statement); ++c) {
            if (sqlite3_column_type(statement, c) == SQLITE_NULL) {
                row.push_back("NULL");
            } else {
                const auto* bytes = static_cast<const char*>(sqlite3_column_blob(statement, c));
                row.emplace_back(bytes ? bytes : "",
                                 static_cast<size_t>(sqlite3_column_bytes(statement, c)));
            }
        }
        rows.push_back(std::move(row));
    }
    if (code != SQLITE_DONE) rows.push_back({"ERROR", sqlite3_errmsg(db)});
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return rows;
}

// The single value of a query returning one row and one column ("" when there is none).
inline std::string sql_value(const std::string& db_path, const std::string& sql) {
    const SqlRows rows = sql_rows(db_path, sql);
    if (rows.empty() || rows[0].empty()) return "";
    if (rows[0][0] == "ERROR" && rows[0].size() > 1) return "ERROR: " + rows[0][1];
    return rows[0][0];
}

inline long long sql_count(const std::string& db_path, const std::string& sql) {
    const std::string value = sql_value(db_path, sql);
    try {
        return std::stoll(value);
    } catch (...) {
        return -1;
    }
}

}  // namespace corun::test
