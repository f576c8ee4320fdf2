// The batch database on its own (no models): one row per content and task however often an
// outcome is stored, a changed file's old rows removed, unread attempts replaced, embeddings as
// float32 BLOBs, and databases it must refuse. Read back with plain SQL (sqlite_query.hpp).
#include "cluster/result_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "sqlite_query.hpp"
#include "test_support.hpp"

namespace corun::cluster {
namespace {

using test::sql_count;
using test::sql_rows;
using test::sql_value;

std::string scratch_db(const std::string& name) {
    static const std::string dir = [] {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "corun-store-test.XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) std::abort();
        return pattern;
    }();
    return dir + "/" + name;
}

TaskResult detect_result(const std::string& hash, const std::string& path, int objects) {
    TaskResult result;
    result.content_hash = hash;
    result.path = path;
    result.size = 100;
    result.task = "detect";
    result.model = "nanodet";
    result.model_version = "v1";
    result.times.decode_ms = 1.5;
    result.times.pre_ms = 0.5;
    result.times.infer_ms = 10.0;
    result.times.post_ms = 0.25;
    result.times.total_ms = 11.0;
    result.result = {{"objects", objects}};
    return result;
}

FileOutcome outcome(const std::string& path, const std::string& hash,
                    std::vector<TaskResult> results) {
    return {path, FileRecord{hash, 100, 7, InputKind::IMAGE}, std::move(results)};
}

TEST(ResultStoreTest, StoringAnOutcomeAgainReplacesItsRows) {
    const std::string db = scratch_db("replace.db");
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    ASSERT_OK_AND_ASSIGN(const int64_t run, store->begin_run({{"test", 1}}));
    ASSERT_OK(store->store(outcome("/a.jpg", "h1", {detect_result("h1", "/a.jpg", 1)}), run));
    ASSERT_OK(store->store(outcome("/a.jpg", "h1", {detect_result("h1", "/a.jpg", 2)}), run));
    // The same bytes at a second path: one more file, still one result.
    ASSERT_OK(store->store(outcome("/copy.jpg", "h1", {}), run));

    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results"), 1);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM files"), 2);
    EXPECT_EQ(sql_value(db, "SELECT result FROM results"), R"({"objects":2})");
    EXPECT_EQ(sql_rows(db,
                       "SELECT status, error_kind, decode_ms, pre_ms, infer_ms, post_ms, "
                       "total_ms, run_id FROM results"),
              (test::SqlRows{{"ok", "NULL", "1.5", "0.5", "10.0", "0.25", "11.0", "1"}}));
    ASSERT_OK_AND_ASSIGN(const auto done, store->done_results());
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done.at(result_key("h1", "detect")), "v1");
}

TEST(ResultStoreTest, AChangedFileLosesTheRowsOfItsOldContent) {
    const std::string db = scratch_db("changed.db");
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    ASSERT_OK(store->store(outcome("/a.jpg", "old", {detect_result("old", "/a.jpg", 1)}), 1));
    ASSERT_OK(store->store(outcome("/b.jpg", "shared", {detect_result("shared", "/b.jpg", 1)}), 1));
    ASSERT_OK(store->store(outcome("/c.jpg", "shared", {}), 1));

    ASSERT_OK(store->store(outcome("/a.jpg", "new", {detect_result("new", "/a.jpg", 3)}), 2));
    // /b.jpg changes too, but /c.jpg still holds its old bytes: their rows stay.
    ASSERT_OK(store->store(outcome("/b.jpg", "other", {detect_result("other", "/b.jpg", 4)}), 2));

    EXPECT_EQ(sql_rows(db, "SELECT content_hash, run_id FROM results ORDER BY content_hash"),
              (test::SqlRows{{"new", "2"}, {"other", "2"}, {"shared", "1"}}));
    EXPECT_EQ(sql_rows(db, "SELECT path, content_hash FROM files ORDER BY path"),
              (test::SqlRows{{"/a.jpg", "new"}, {"/b.jpg", "other"}, {"/c.jpg", "shared"}}));
}

TEST(ResultStoreTest, UnreadAttemptsAreReplacedAndNotCountedDone) {
    const std::string db = scratch_db("unread.db");
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    TaskResult unread = detect_result(unread_input_key("/a.jpg"), "/a.jpg", 0);
    unread.error_kind = input_error::UNREADABLE;
    unread.error = "'/a.jpg' cannot be read: Permission denied";
    unread.result = nullptr;
    ASSERT_OK(store->store({"/a.jpg", std::nullopt, {unread}}, 1));
    ASSERT_OK(store->store({"/a.jpg", std::nullopt, {unread}}, 2));
    EXPECT_EQ(sql_rows(db, "SELECT content_hash, status, error_kind, error, result FROM results"),
              (test::SqlRows{{"unread:/a.jpg", "error", "unreadable",
                              "'/a.jpg' cannot be read: Permission denied", "NULL"}}));
    ASSERT_OK_AND_ASSIGN(const auto done, store->done_results());
    EXPECT_TRUE(done.empty());  // tried again by the next run

    // Readable now: the unread row goes, the result comes.
    ASSERT_OK(store->store(outcome("/a.jpg", "h", {detect_result("h", "/a.jpg", 1)}), 3));
    EXPECT_EQ(sql_rows(db, "SELECT content_hash, status FROM results"),
              (test::SqlRows{{"h", "ok"}}));
}

TEST(ResultStoreTest, EmbeddingsAreFloat32BlobsWithTheirDimension) {
    const std::string db = scratch_db("embeddings.db");
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    TaskResult faces = detect_result("h", "/f.jpg", 0);
    faces.task = "faces";
    faces.embeddings = {{1.0f, -2.0f, 0.5f}, {0.25f, 0.0f, 3.0f}};
    ASSERT_OK(store->store(outcome("/f.jpg", "h", {faces}), 1));
    faces.embeddings = {{9.0f, 8.0f, 7.0f}};  // stored again: one face now, not three
    ASSERT_OK(store->store(outcome("/f.jpg", "h", {faces}), 1));

    const auto rows =
        sql_rows(db, "SELECT face_index, dimension, vector FROM embeddings ORDER BY face_index");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0], "0");
    EXPECT_EQ(rows[0][1], "3");
    ASSERT_EQ(rows[0][2].size(), 3 * sizeof(float));
    float vector[3];
    std::memcpy(vector, rows[0][2].data(), sizeof vector);
    EXPECT_EQ(vector[0], 9.0f);
    EXPECT_EQ(vector[1], 8.0f);
    EXPECT_EQ(vector[2], 7.0f);
}

TEST(ResultStoreTest, TheSchemaIsVersioned) {
    const std::string db = scratch_db("schema.db");
    ASSERT_OK(ResultStore::open(db).status());
    EXPECT_EQ(sql_value(db, "PRAGMA user_version"), std::to_string(RESULT_STORE_SCHEMA_VERSION));
    EXPECT_EQ(sql_rows(db, "SELECT key, value FROM meta WHERE key LIKE 'schema%' ORDER BY key"),
              (test::SqlRows{{"schema", "corun-batch"},
                             {"schema_version", std::to_string(RESULT_STORE_SCHEMA_VERSION)}}));
    ASSERT_OK(ResultStore::open(db).status());  // opens again

    // A newer schema is refused, naming both versions.
    { ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db)); }
    ASSERT_EQ(sql_value(db, "SELECT 1"), "1");
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
    const auto newer = ResultStore::open(db);
    EXPECT_STATUS(newer, StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(newer.status().message().find("schema version 99"), std::string::npos)
        << newer.status();
}

// Version 2 added results.node (the cluster worker of a row): a version-1 database, as an
// earlier corun wrote it, is upgraded on open and keeps its rows.
TEST(ResultStoreTest, AVersionOneDatabaseGainsTheNodeColumn) {
    const std::string db = scratch_db("v1.db");
    {
        ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
        ASSERT_OK_AND_ASSIGN(const int64_t run, store->begin_run({{"test", 1}}));
        ASSERT_OK(store->store(outcome("/a.jpg", "h1", {detect_result("h1", "/a.jpg", 1)}), run));
    }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "ALTER TABLE results DROP COLUMN node; PRAGMA user_version = 1; "
                           "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    ASSERT_EQ(sql_value(db, "PRAGMA user_version"), "1");

    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    EXPECT_EQ(sql_value(db, "PRAGMA user_version"), "2");
    EXPECT_EQ(sql_value(db, "SELECT value FROM meta WHERE key = 'schema_version'"), "2");
    EXPECT_EQ(sql_rows(db, "SELECT content_hash, coalesce(node, 'NULL') FROM results"),
              (test::SqlRows{{"h1", "NULL"}}));
    ASSERT_OK_AND_ASSIGN(const int64_t run, store->begin_run({{"test", 2}}));
    TaskResult remote = detect_result("h2", "/b.jpg", 3);
    remote.node = "worker-7";
    ASSERT_OK(store->store(outcome("/b.jpg", "h2", {remote}), run));
    EXPECT_EQ(sql_value(db, "SELECT node FROM results WHERE content_hash = 'h2'"), "worker-7");
}

TEST(ResultStoreTest, KeepsMetaValues) {
    const std::string db = scratch_db("meta.db");
    ASSERT_OK_AND_ASSIGN(auto store, ResultStore::open(db));
    ASSERT_OK_AND_ASSIGN(const std::string absent, store->meta_value("cluster_batch"));
    EXPECT_EQ(absent, "");
    ASSERT_OK(store->set_meta_value("cluster_batch", "0123abcd"));
    ASSERT_OK(store->set_meta_value("cluster_batch", "4567ef01"));
    ASSERT_OK_AND_ASSIGN(const std::string value, store->meta_value("cluster_batch"));
    EXPECT_EQ(value, "4567ef01");
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM meta WHERE key = 'cluster_batch'"), 1);
}

TEST(ResultStoreTest, RefusesFilesThatAreNotItsDatabase) {
    const std::string text = scratch_db("notes.txt");
    std::ofstream(text) << "shopping list: bread, milk, eggs, and a long enough line to look "
                           "like a file of some size rather than an empty one\n";
    const auto not_sqlite = ResultStore::open(text);
    EXPECT_STATUS(not_sqlite, StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(not_sqlite.status().message().find("is not a SQLite database"), std::string::npos)
        << not_sqlite.status();

    const std::string other = scratch_db("other.db");
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(other.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE photos(id INTEGER)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    const auto foreign = ResultStore::open(other);
    EXPECT_STATUS(foreign, StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(foreign.status().message().find("of something else"), std::string::npos)
        << foreign.status();
    EXPECT_EQ(sql_value(other, "SELECT count(*) FROM sqlite_master"), "1");  // left as it was

    const auto no_folder = ResultStore::open(scratch_db("missing/folder/x.db"));
    EXPECT_STATUS(no_folder, StatusCode::OPEN_FILE_FAILURE);
    EXPECT_NE(no_folder.status().message().find("missing/folder/x.db"), std::string::npos);
}

TEST(WorkItemTest, ItemsAndResultsRoundTripThroughJson) {
    const WorkItem item{"/p/a.jpg", "abc", 12, InputKind::IMAGE, {"detect", "faces"}};
    ASSERT_OK_AND_ASSIGN(const WorkItem back, work_item_from_json(to_json(item)));
    EXPECT_EQ(back.path, item.path);
    EXPECT_EQ(back.content_hash, item.content_hash);
    EXPECT_EQ(back.size, item.size);
    EXPECT_EQ(back.kind, item.kind);
    EXPECT_EQ(back.tasks, item.tasks);

    TaskResult result = detect_result("h", "/a.jpg", 2);
    result.times.pre_ms.reset();
    result.embeddings = {{0.5f, -1.0f}};
    ASSERT_OK_AND_ASSIGN(const TaskResult copy, task_result_from_json(to_json(result)));
    EXPECT_EQ(to_json(copy), to_json(result));
    EXPECT_FALSE(copy.times.pre_ms.has_value());
    EXPECT_EQ(copy.embeddings, result.embeddings);

    EXPECT_STATUS(task_result_from_json({{"task", "detect"}}), StatusCode::INVALID_ARGUMENT);
}

TEST(WorkItemTest, KindsComeFromExtensionsAndBytes) {
    EXPECT_EQ(input_kind_of_extension("/x/Photo.JPG"), InputKind::IMAGE);
    EXPECT_EQ(input_kind_of_extension("/x/a.tiff"), InputKind::IMAGE);
    EXPECT_EQ(input_kind_of_extension("/x/talk.wav"), InputKind::AUDIO);
    EXPECT_EQ(input_kind_of_extension("/x.jpg/notes"), InputKind::UNKNOWN);
    const std::string wav("RIFF\x24\0\0\0WAVEfmt ", 16);
    EXPECT_EQ(
        input_kind_of_bytes(std::span(reinterpret_cast<const uint8_t*>(wav.data()), wav.size())),
        InputKind::AUDIO);
    const std::string png = "\x89PNG\r\n\x1a\n";
    EXPECT_EQ(
        input_kind_of_bytes(std::span(reinterpret_cast<const uint8_t*>(png.data()), png.size())),
        InputKind::IMAGE);  // a PNG signature with a damaged header: an image, damaged
    const std::string text = "hello, this is text";
    EXPECT_EQ(
        input_kind_of_bytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())),
        InputKind::UNKNOWN);
}

}  // namespace
}  // namespace corun::cluster
