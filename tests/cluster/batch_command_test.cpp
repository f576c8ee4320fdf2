// `corun batch` as users run it, the real binary on real models and Debian's test images: it
// finds per file what `corun detect/faces/ocr/vad` find; a batch killed with SIGKILL resumes
// with every input exactly once; a rerun does only new and changed files; bad inputs are
// recorded with their reasons; bad flags give clear errors. The database is read with plain SQL.
// Model tests skip, saying why, when scripts/fetch_models.sh has not filled the cache.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>

#include "sqlite_query.hpp"
#include "tasks/text_rendering.hpp"
#include "test_support.hpp"
#include "tools/cli_process.hpp"

namespace corun::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string CACHE = CORUN_CACHE_DIR;
const std::string DATA = CACHE + "/data";
const std::string DOG = DATA + "/darknet/dog.jpg";
const std::string EAGLE = DATA + "/darknet/eagle.jpg";
const std::string PERSON = DATA + "/darknet/person.jpg";
const std::string MESSI = DATA + "/opencv-doc/messi5.jpg";
const std::string TEXT = DATA + "/opencv-doc/imageTextN.png";

bool have_models(const std::vector<std::string>& files) {
    for (const auto& file : files) {
        if (!fs::exists(CACHE + "/" + file)) return false;
    }
    return fs::exists(DOG) && fs::exists(MESSI) && fs::exists(TEXT);
}
#define SKIP_WITHOUT(...)            \
    if (!have_models({__VA_ARGS__})) \
    GTEST_SKIP() << "the models or test images are missing; run scripts/fetch_models.sh"

const char* const NANODET = "models/nanodet/nanodet.onnx";
const char* const BLAZEFACE = "models/blazeface-256/face_detection_back_256x256_barracuda.onnx";
const char* const FACERES = "models/faceres/faceres.onnx";
const char* const PPOCR = "models/ppocr-det/ch_PP-OCRv4_det_infer.onnx";
const char* const SILERO = "models/silero-vad/silero_vad_v5_16k.onnx";

// A fresh folder under the test's scratch folder.
std::string fresh_dir(const std::string& name) {
    const fs::path dir = scratch_directory() / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

void copy_to(const std::string& from, const std::string& to, const std::string& trailer = "") {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    if (!trailer.empty()) std::ofstream(to, std::ios::app | std::ios::binary) << trailer;
}

// `corun batch ARGS... --models CACHE --no-progress`.
CliResult batch(std::vector<std::string> args) {
    args.insert(args.begin(), "batch");
    args.insert(args.end(), {"--models", CACHE, "--no-progress"});
    return corun(args);
}

json summary_of(const CliResult& run) {
    EXPECT_EQ(run.exit_code, 0) << run;
    try {
        return json::parse(run.out);
    } catch (const json::exception&) {
        ADD_FAILURE() << "no JSON summary: " << run;
        return json::object();
    }
}

// The result JSON stored for a path and task.
json stored_result(const std::string& db, const std::string& path, const std::string& task) {
    const std::string text =
        sql_value(db,
                  "SELECT r.result FROM results r JOIN files f ON f.content_hash = r.content_hash "
                  "WHERE f.path = '" +
                      fs::absolute(path).lexically_normal().string() + "' AND r.task = '" + task +
                      "' AND r.status = 'ok'");
    try {
        return json::parse(text);
    } catch (const json::exception&) {
        ADD_FAILURE() << "no " << task << " result for " << path << ": " << text;
        return json::object();
    }
}

json command_json(const std::vector<std::string>& args) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--json", "--models", CACHE});
    const CliResult run = corun(full);
    EXPECT_EQ(run.exit_code, 0) << run;
    return json::parse(run.out);
}

TEST(BatchCommandTest, FindsWhatTheTaskCommandsFindForEachFile) {
    SKIP_WITHOUT(NANODET, BLAZEFACE, FACERES, PPOCR);
    // Photos for detect and faces, a line of text this test renders for ocr (OCR's cost grows
    // with the text's area, and a page of it takes seconds), one database.
    const std::string dir = fresh_dir("same");
    fs::create_directories(dir + "/photos");
    fs::create_directories(dir + "/text");
    const std::vector<std::string> photos = {dir + "/photos/dog.jpg", dir + "/photos/messi5.jpg"};
    const std::string page = dir + "/text/line.png";
    copy_to(DOG, photos[0]);
    copy_to(MESSI, photos[1]);
    ASSERT_OK_AND_ASSIGN(const cv::Mat text, tasks::render_text_lines({"Hello World 2024"}));
    ASSERT_TRUE(cv::imwrite(page, text));
    std::ofstream(dir + "/photos/notes.txt") << "not an input of an image task";
    const std::string db = dir + "/../same.db";

    const json summary = summary_of(
        batch({"detect", "faces", dir + "/photos", "--db", db, "--json", "--workers", "2"}));
    EXPECT_EQ(summary["inputs"], 2);
    EXPECT_EQ(summary["processed"], 2);
    EXPECT_EQ(summary["bad"], 0);
    EXPECT_EQ(summary["results"], 4);
    EXPECT_EQ(summary["other_files"], 1);  // notes.txt: no task takes it
    const json ocr_summary = summary_of(batch({"ocr", page, "--db", db, "--json"}));
    EXPECT_EQ(ocr_summary["processed"], 1);

    const json ocr = command_json({"ocr", page});
    EXPECT_EQ(stored_result(db, page, "ocr")["lines"], ocr["lines"]);
    EXPECT_GT(ocr["lines"].size(), 0u);

    size_t detections = 0, faces = 0;
    for (const auto& image : photos) {
        SCOPED_TRACE(image);
        const json detect = command_json({"detect", image});
        const json stored_detect = stored_result(db, image, "detect");
        EXPECT_EQ(stored_detect["detections"], detect["detections"]);
        EXPECT_EQ(stored_detect["width"], detect["width"]);
        detections += detect["detections"].size();

        const json face_run = command_json({"faces", image, "--embed"});
        json stored_faces = stored_result(db, image, "faces")["faces"];
        ASSERT_EQ(stored_faces.size(), face_run["faces"].size());
        for (size_t f = 0; f < stored_faces.size(); ++f) {
            const json& expected = face_run["faces"][f];
            EXPECT_EQ(stored_faces[f]["score"], expected["score"]);
            EXPECT_EQ(stored_faces[f]["box"], expected["box"]);
            EXPECT_EQ(stored_faces[f]["keypoints"], expected["keypoints"]);
            EXPECT_EQ(stored_faces[f]["embedding"]["dimension"],
                      expected["embedding"]["dimension"]);
            EXPECT_EQ(stored_faces[f]["embedding"]["norm"], expected["embedding"]["norm"]);
            // The BLOB holds the whole vector: its first values are the ones `faces` prints.
            const auto blob =
                sql_rows(db,
                         "SELECT e.dimension, e.vector FROM embeddings e JOIN files p ON "
                         "p.content_hash = e.content_hash WHERE p.path = '" +
                             image + "' AND e.face_index = " + std::to_string(f));
            ASSERT_EQ(blob.size(), 1u);
            const size_t dimension = std::stoul(blob[0][0]);
            EXPECT_EQ(dimension, expected["embedding"]["dimension"].get<size_t>());
            ASSERT_EQ(blob[0][1].size(), dimension * sizeof(float));
            std::vector<float> vector(dimension);
            std::memcpy(vector.data(), blob[0][1].data(), blob[0][1].size());
            for (size_t i = 0; i < expected["embedding"]["first"].size(); ++i) {
                EXPECT_EQ(std::round(vector[i] * 1e5) / 1e5,
                          expected["embedding"]["first"][i].get<double>());
            }
        }
        faces += stored_faces.size();
    }
    // The comparison compared something: the photos hold objects and a face.
    EXPECT_GT(detections, 0u);
    EXPECT_GT(faces, 0u);

    // Every row names its model and version and has its timings; detect splits them.
    EXPECT_EQ(sql_rows(db,
                       "SELECT task, model, length(model_version) FROM results "
                       "GROUP BY task ORDER BY task"),
              (SqlRows{{"detect", "nanodet", "16"},
                       {"faces", "blazeface-256+faceres", "16"},
                       {"ocr", "ppocr-v4", "16"}}));
    EXPECT_EQ(sql_count(db,
                        "SELECT count(*) FROM results WHERE task = 'detect' AND decode_ms > 0 "
                        "AND pre_ms > 0 AND infer_ms > 0 AND post_ms >= 0 AND total_ms > 0"),
              2);
    // faces: the detection's and the embeddings' stages summed (tasks::StageTiming).
    EXPECT_EQ(sql_count(db,
                        "SELECT count(*) FROM results WHERE task = 'faces' AND pre_ms > 0 "
                        "AND infer_ms > 0 AND post_ms >= 0 AND total_ms >= infer_ms"),
              2);
    EXPECT_EQ(sql_count(db,
                        "SELECT count(*) FROM results WHERE task = 'ocr' AND infer_ms IS NULL "
                        "AND json_extract(stages, '$.detect_ms') > 0"),
              1);
}

TEST(BatchCommandTest, VadFindsWhatTheVadCommandFinds) {
    SKIP_WITHOUT(SILERO);
    const std::string dir = fresh_dir("vad");
    const std::string wav = dir + "/speech.wav";
    const std::string command = "espeak-ng -w '" + wav +
                                "' 'corun reads every file in the folder and keeps the results' "
                                ">/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) GTEST_SKIP() << "espeak-ng is not installed";
    const std::string jsonl = dir + "/../vad.jsonl";
    const std::string db = dir + "/../vad.db";
    const json summary = summary_of(batch({"vad", dir, "--db", db, "--jsonl", jsonl, "--json"}));
    EXPECT_EQ(summary["processed"], 1);

    const json expected = command_json({"vad", wav});
    const json stored = stored_result(db, wav, "vad");
    ASSERT_FALSE(expected["segments"].empty());
    for (const char* field : {"segments", "sample_rate", "duration_s", "resampled", "speech_s"}) {
        EXPECT_EQ(stored[field], expected[field]) << field;
    }
    EXPECT_EQ(sql_count(db,
                        "SELECT count(*) FROM results WHERE infer_ms > 0 AND post_ms >= 0 "
                        "AND decode_ms > 0"),
              1);
    // The JSONL line carries the same result.
    std::ifstream lines(jsonl);
    std::string line;
    ASSERT_TRUE(std::getline(lines, line));
    const json logged = json::parse(line);
    EXPECT_EQ(logged["result"], stored);
    EXPECT_EQ(logged["task"], "vad");
    EXPECT_EQ(logged["status"], "ok");
    EXPECT_FALSE(std::getline(lines, line));
}

// Starts `corun batch ARGS...` as a child process of its own; returns its pid.
pid_t start_batch(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> full = {CORUN_BINARY, "batch"};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), {"--models", CACHE, "--no-progress"});
    const pid_t pid = fork();
    if (pid == 0) {
        FILE* out = std::freopen(log.c_str(), "w", stdout);
        FILE* err = out ? std::freopen((log + ".err").c_str(), "w", stderr) : nullptr;
        if (err == nullptr) _exit(127);
        std::vector<char*> argv;
        for (auto& arg : full) argv.push_back(arg.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

TEST(BatchCommandTest, AKilledBatchResumesWithEveryInputExactlyOnce) {
    SKIP_WITHOUT(NANODET);
    const std::string dir = fresh_dir("killed");
    constexpr int INPUTS = 24;
    // Distinct bytes per file (a trailer after the JPEG's end), so each is an input of its own.
    const std::vector<std::string> sources = {DOG, EAGLE, PERSON, MESSI};
    for (int i = 0; i < INPUTS; ++i) {
        copy_to(sources[i % sources.size()], dir + "/img" + std::to_string(100 + i) + ".jpg",
                "copy " + std::to_string(i));
    }
    const std::string db = dir + "/../killed.db";

    const pid_t pid = start_batch({"detect", dir, "--db", db, "--workers", "1"},
                                  (scratch_directory() / "killed.log").string());
    ASSERT_GT(pid, 0);
    // Kill it once some inputs are stored, polling the database (bounded in time and count).
    long long stored_before_kill = 0;
    bool exited = false;
    const auto give_up = std::chrono::steady_clock::now() + WAIT_LIMIT;
    while (std::chrono::steady_clock::now() < give_up) {
        stored_before_kill = sql_count(db, "SELECT count(*) FROM results");
        if (stored_before_kill >= 3) break;
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(exited) << "the batch ended before it could be killed";
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the batch finished before the kill; the test saw nothing mid-batch";

    // What the killed run left: whole outcomes only (each result with its file row).
    const long long stored = sql_count(db, "SELECT count(*) FROM results");
    ASSERT_GE(stored, stored_before_kill);
    ASSERT_LT(stored, INPUTS);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM files"), stored);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM runs WHERE finished_at IS NULL"), 1);

    // The rerun does exactly the rest.
    const json summary = summary_of(batch({"detect", dir, "--db", db, "--json"}));
    EXPECT_EQ(summary["inputs"], INPUTS);
    EXPECT_EQ(summary["unchanged"], stored);
    EXPECT_EQ(summary["processed"], INPUTS - stored);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results"), INPUTS);
    EXPECT_EQ(sql_count(db, "SELECT count(DISTINCT content_hash) FROM results"), INPUTS);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM files"), INPUTS);
    // Every file has exactly one detect row, done by one of the two runs.
    EXPECT_EQ(sql_count(db,
                        "SELECT count(*) FROM files f JOIN results r ON r.content_hash = "
                        "f.content_hash AND r.task = 'detect' AND r.status = 'ok'"),
              INPUTS);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results WHERE run_id = 1"), stored);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results WHERE run_id = 2"), INPUTS - stored);
}

TEST(BatchCommandTest, ARerunDoesOnlyNewAndChangedFiles) {
    SKIP_WITHOUT(NANODET);
    const std::string dir = fresh_dir("rerun");
    copy_to(DOG, dir + "/a.jpg");
    copy_to(EAGLE, dir + "/b.jpg");
    copy_to(PERSON, dir + "/c.jpg");
    const std::string db = dir + "/../rerun.db";
    const json first = summary_of(batch({"detect", dir, "--db", db, "--json"}));
    EXPECT_EQ(first["processed"], 3);
    const std::string old_b =
        sql_value(db, "SELECT content_hash FROM files WHERE path LIKE '%/b.jpg'");

    copy_to(EAGLE, dir + "/b.jpg", "edited");  // changed bytes at the same path
    copy_to(DOG, dir + "/d.jpg");              // a.jpg's bytes at a new path: nothing to run
    copy_to(MESSI, dir + "/e.jpg");            // new
    // c.jpg touched, bytes unchanged: read and hashed again, not run again.
    fs::last_write_time(dir + "/c.jpg",
                        fs::last_write_time(dir + "/c.jpg") + std::chrono::hours(1));

    const json second = summary_of(batch({"detect", dir, "--db", db, "--json"}));
    EXPECT_EQ(second["inputs"], 5);
    EXPECT_EQ(second["processed"], 2);
    EXPECT_EQ(second["unchanged"], 3);
    EXPECT_EQ(
        sql_rows(db,
                 "SELECT substr(f.path, length(f.path) - 4), r.run_id FROM files f "
                 "JOIN results r ON r.content_hash = f.content_hash ORDER BY f.path"),
        (SqlRows{{"a.jpg", "1"}, {"b.jpg", "2"}, {"c.jpg", "1"}, {"d.jpg", "1"}, {"e.jpg", "2"}}));
    // b.jpg's old content is gone with its row; four contents, four rows.
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results WHERE content_hash = '" + old_b + "'"),
              0);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results"), 4);

    const json third = summary_of(batch({"detect", dir, "--db", db, "--json"}));
    EXPECT_EQ(third["processed"], 0);
    EXPECT_EQ(third["unchanged"], 5);

    // A list on stdin (`--files-from -`), as `find ... |` gives it: the same files, nothing to do.
    const std::string list = (scratch_directory() / "rerun-list.txt").string();
    std::ofstream(list) << dir << "/a.jpg\n" << dir << "/e.jpg\n";
    const std::string out = (scratch_directory() / "rerun-stdin.json").string();
    const std::string command = quoted(CORUN_BINARY) + " batch detect --files-from - --db " +
                                quoted(db) + " --json --no-progress --models " + quoted(CACHE) +
                                " < " + quoted(list) + " > " + quoted(out);
    ASSERT_EQ(std::system(command.c_str()), 0);
    std::ifstream summary_file(out);
    const json from_stdin = json::parse(summary_file);
    EXPECT_EQ(from_stdin["inputs"], 2);
    EXPECT_EQ(from_stdin["unchanged"], 2);

    // Bytes changed behind the same size and mtime: the fast path trusts the recorded hash;
    // --rehash reads the file and finds the change.
    const std::string b = dir + "/b.jpg";
    const auto mtime = fs::last_write_time(b);
    copy_to(EAGLE, b, "EDITED");  // as long as "edited"
    fs::last_write_time(b, mtime);
    EXPECT_EQ(summary_of(batch({"detect", dir, "--db", db, "--json"}))["processed"], 0);
    const json rehashed = summary_of(batch({"detect", dir, "--db", db, "--json", "--rehash"}));
    EXPECT_EQ(rehashed["processed"], 1);
    EXPECT_EQ(rehashed["unchanged"], 4);
}

TEST(BatchCommandTest, ANewModelVersionRedoesItsTask) {
    SKIP_WITHOUT(NANODET);
    const std::string dir = fresh_dir("version");
    copy_to(DOG, dir + "/a.jpg");
    copy_to(EAGLE, dir + "/b.jpg");
    const std::string db = dir + "/../version.db";
    EXPECT_EQ(summary_of(batch({"detect", dir, "--db", db, "--json"}))["processed"], 2);
    const std::string first_version = sql_value(db, "SELECT DISTINCT model_version FROM results");

    // A cache whose label file differs by a trailing blank line: the same findings, but other
    // files, so another model version.
    const std::string cache = fresh_dir("version-cache");
    fs::create_directories(cache + "/models/nanodet");
    fs::create_directories(cache + "/data/darknet");
    fs::create_symlink(CACHE + "/" + NANODET, cache + "/" + NANODET);
    copy_to(CACHE + "/data/darknet/coco.names", cache + "/data/darknet/coco.names", "\n");
    const CliResult rerun =
        corun({"batch", "detect", dir, "--db", db, "--json", "--no-progress", "--models", cache});
    const json summary = summary_of(rerun);
    EXPECT_EQ(summary["processed"], 2);
    EXPECT_EQ(summary["unchanged"], 0);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results"), 2);  // replaced, not added
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results WHERE run_id = 2 AND model_version != '" +
                                first_version + "'"),
              2);
}

std::string minimal_wav() {
    std::string wav(
        "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data", 40);
    const uint32_t data_bytes = 3200;
    wav.append(reinterpret_cast<const char*>(&data_bytes), 4);
    wav.append(data_bytes, '\0');
    const uint32_t riff = static_cast<uint32_t>(wav.size() - 8);
    std::memcpy(wav.data() + 4, &riff, 4);
    return wav;
}

TEST(BatchCommandTest, BadInputsAreRecordedWithTheirReasonsAndTheBatchGoesOn) {
    SKIP_WITHOUT(NANODET);
    const std::string dir = fresh_dir("bad");
    copy_to(DOG, dir + "/good.jpg");
    std::ofstream(dir + "/text.jpg") << "this is a shopping list, not a photo\n";
    {
        const auto bytes = read_bytes(EAGLE);
        std::ofstream(dir + "/truncated.jpg", std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size() / 2));
    }
    std::ofstream(dir + "/huge.png", std::ios::binary) << std::string(2 << 20, '\0');
    const std::string wav = scratch_directory() / "speech.wav";
    std::ofstream(wav, std::ios::binary) << minimal_wav();
    const std::string list = scratch_directory() / "bad-list.txt";
    std::ofstream(list) << (scratch_directory() / "vanished.jpg").string() << "\n\n";
    const std::string db = dir + "/../bad.db";

    const CliResult run = batch({"detect", dir, wav, "--files-from", list, "--db", db,
                                 "--max-input-bytes", "1048576", "--json"});
    const json summary = summary_of(run);  // exit code 0: the batch ran
    EXPECT_EQ(summary["inputs"], 6);
    EXPECT_EQ(summary["processed"], 6);
    EXPECT_EQ(summary["bad"], 5);
    std::map<std::string, std::pair<std::string, std::string>> by_file;
    for (const auto& row : sql_rows(db, "SELECT path, status, error_kind FROM results")) {
        by_file[fs::path(row[0]).filename().string()] = {row[1], row[2]};
    }
    using Row = std::pair<std::string, std::string>;
    EXPECT_EQ(by_file, (std::map<std::string, Row>{{"good.jpg", {"ok", "NULL"}},
                                                   {"huge.png", {"error", "too_large"}},
                                                   {"text.jpg", {"error", "not_an_image"}},
                                                   {"truncated.jpg", {"error", "damaged"}},
                                                   {"speech.wav", {"error", "wrong_kind"}},
                                                   {"vanished.jpg", {"error", "unreadable"}}}));
    // Each message says what was wrong.
    const auto error_of = [&](const std::string& kind) {
        return sql_value(db, "SELECT error FROM results WHERE error_kind = '" + kind + "'");
    };
    EXPECT_NE(error_of("too_large").find("above --max-input-bytes 1048576"), std::string::npos);
    EXPECT_NE(error_of("not_an_image").find("is not an image"), std::string::npos);
    EXPECT_NE(error_of("damaged").find("truncated"), std::string::npos);
    EXPECT_NE(error_of("wrong_kind").find("is WAV audio; the detect task takes images"),
              std::string::npos);
    EXPECT_NE(error_of("unreadable").find("No such file or directory"), std::string::npos);

    // A rerun tries again only what could not be read; the others' reasons stand.
    const json again = summary_of(batch({"detect", dir, wav, "--files-from", list, "--db", db,
                                         "--max-input-bytes", "1048576", "--json"}));
    EXPECT_EQ(again["processed"], 2);  // huge.png and vanished.jpg were never read
    EXPECT_EQ(again["unchanged"], 4);
    EXPECT_EQ(sql_count(db, "SELECT count(*) FROM results"), 6);
}

void expect_error(const CliResult& run, const std::string& text) {
    EXPECT_NE(run.exit_code, 0) << run;
    EXPECT_NE(run.err.find(text), std::string::npos) << "expected '" << text << "' in\n" << run;
}

TEST(BatchCommandTest, BadFlagsAndArgumentsGiveClearErrors) {
    const std::string dir = fresh_dir("flags");
    copy_to(DOG, dir + "/a.jpg");
    expect_error(batch({"detect", dir}), "--db is required");
    expect_error(batch({dir, "--db", dir + "/x.db"}), "no task given");
    expect_error(batch({"detect", "--db", dir + "/x.db"}), "no input given");
    expect_error(batch({"detect", dir + "/nowhere", "--db", dir + "/x.db"}),
                 "nowhere' does not exist");
    expect_error(batch({"detect", dir, "--files-from", dir + "/no-list", "--db", dir + "/x.db"}),
                 "no-list' (--files-from) cannot be opened");
    expect_error(batch({"detect", "detect", dir, "--db", dir + "/x.db"}), "given twice");
    expect_error(batch({"detect", dir, "--db", dir + "/x.db", "--workers", "0"}), "--workers");
    expect_error(batch({"detect", dir, "--db", dir + "/x.db", "--max-input-bytes", "lots"}),
                 "--max-input-bytes");
    const CliResult no_models = corun({"batch", "detect", dir, "--db", dir + "/x.db", "--models",
                                       dir + "/no-cache", "--no-progress"});
    expect_error(no_models, "run scripts/fetch_models.sh nanodet darknet");
    EXPECT_FALSE(fs::exists(dir + "/x.db"));  // nothing was created by a refused command

    if (!have_models({NANODET})) return;
    std::ofstream(dir + "/notes.db") << "a text file that happens to end in .db, long enough\n";
    expect_error(batch({"detect", dir + "/a.jpg", "--db", dir + "/notes.db"}),
                 "is not a SQLite database");
}

}  // namespace
}  // namespace corun::test
