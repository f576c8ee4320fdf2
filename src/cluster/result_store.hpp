// The SQLite database of a batch (docs/BATCH.md has the schema): the files seen (path -> content
// hash), one row per input and task with the model, its version, the timings and the result as
// JSON, face embeddings as float32 BLOBs, and one row per run. Every file's outcome is written in
// one transaction, keyed by (content hash, task): a process killed at any point leaves either
// the whole outcome or none of it, and storing an outcome again replaces it rather than adding
// a row, so a resumed batch (or a redelivered cluster item) never duplicates one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/work_item.hpp"
#include "corun/expected.hpp"

struct sqlite3;

namespace corun::cluster {

// The schema version in the database's user_version (and its meta table).
// Version 2 added results.node; a version 1 database is upgraded when opened.
constexpr int RESULT_STORE_SCHEMA_VERSION = 2;

// A path as the last run that read it found it. The size and modification time let a rerun
// trust the recorded hash without reading the file again.
struct FileRecord {
    std::string content_hash;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    InputKind kind = InputKind::UNKNOWN;
};

// What one input came to: its path record (absent when its bytes could not be read) and its
// task results (none when every task was already done on the same bytes).
struct FileOutcome {
    std::string path;
    std::optional<FileRecord> file;
    std::vector<TaskResult> results;
};

// The key of a result in done_results().
std::string result_key(const std::string& content_hash, const std::string& task);

class ResultStore {
public:
    // Opens or creates the database. INVALID_ARGUMENT for a file that is not SQLite, a SQLite
    // database of something else, or one written by a newer schema; OPEN_FILE_FAILURE when the
    // file cannot be created (the message names the path and SQLite's reason).
    static Expected<std::unique_ptr<ResultStore>> open(const std::string& path);
    ~ResultStore();
    ResultStore(const ResultStore&) = delete;
    ResultStore& operator=(const ResultStore&) = delete;

    // Every path recorded, for the rerun's fast path.
    Expected<std::unordered_map<std::string, FileRecord>> files();
    // The results stored, as result_key -> model version (the rerun redoes a result whose model
    // changed). Unread inputs' error rows are left out: they are tried again.
    Expected<std::unordered_map<std::string, std::string>> done_results();

    // A row in `runs` for this run: its id marks the results it writes.
    Expected<int64_t> begin_run(const nlohmann::json& command);
    Status finish_run(int64_t run, const nlohmann::json& summary);

    // Writes one input's outcome in one transaction: the path's record, its results (each
    // replacing the row of the same content and task, embeddings included), the removal of the
    // rows of an unread attempt at the path, and of the rows of the path's previous content
    // when no other path holds that content any more (a changed file's old results).
    Status store(const FileOutcome& outcome, int64_t run);

    // A value of the meta table ("" when absent), and setting one (the cluster batch's id).
    Expected<std::string> meta_value(const std::string& key);
    Status set_meta_value(const std::string& key, const std::string& value);

    // Number of rows of a table (tests, summaries).
    Expected<int64_t> count(const std::string& table);

private:
    explicit ResultStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    Status execute(const std::string& sql);
    Status create_or_check_schema();

    sqlite3* db_;
    std::string path_;
};

}  // namespace corun::cluster
