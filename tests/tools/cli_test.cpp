// The `corun` command line (issue 3, item 5), run as a user runs it: the built binary in a child
// process, its stdout parsed as JSON. Every task command finds what the task tests find
// (detect: a dog and a bicycle in darknet's dog.jpg; faces: exactly one face in messi5.jpg;
// vad: speech in an espeak-ng WAV; ocr: a line this test renders), and bad input (a missing
// file, a file of the wrong kind, missing models) ends with exit code 1 and one line
// "corun: CODE: message" on stderr. Also parse/scan/run --json. Issue 9: hostile sizes (a model
// with absurd dimensions, a WAV at 1 Hz, a TIFF with repeated size tags) are one-line errors,
// never an abort. Cases that need the model zoo
// skip, saying why, when scripts/fetch_models.sh has not filled the cache.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_process.hpp"
#include "tasks/audio.hpp"
#include "tasks/text_rendering.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using corun::test::CliResult;
using corun::test::contains;
using corun::test::corun;
using corun::test::quoted;
using corun::test::scratch_directory;
using nlohmann::json;

const std::string CACHE = CORUN_CACHE_DIR;
const std::string MODELS = CACHE + "/models";
const std::string DOG = CACHE + "/data/darknet/dog.jpg";
const std::string EAGLE = CACHE + "/data/darknet/eagle.jpg";
const std::string MESSI = CACHE + "/data/opencv-doc/messi5.jpg";
const std::string NANODET = MODELS + "/nanodet/nanodet.onnx";
const std::string BLAZEFACE = MODELS + "/blazeface-256/face_detection_back_256x256_barracuda.onnx";
const std::string FACERES = MODELS + "/faceres/faceres.onnx";
const std::string SILERO = MODELS + "/silero-vad/silero_vad_v5_16k.onnx";
const std::string OCR_DET = MODELS + "/ppocr-det/ch_PP-OCRv4_det_infer.onnx";
const std::string OCR_REC = MODELS + "/ppocr-rec/ch_PP-OCRv4_rec_infer.onnx";
const std::string OCR_CLS = MODELS + "/ppocr-cls/ch_ppocr_mobile_v2.0_cls_infer.onnx";
const std::string OCR_KEYS = MODELS + "/ppocr-keys/ppocr_keys_v1.txt";

bool exists(const std::string& path) {
    std::error_code error;
    return fs::is_regular_file(path, error);
}

#define SKIP_UNLESS_FETCHED(...)                                                       \
    for (const std::string& corun_path_ : {__VA_ARGS__}) {                             \
        if (!exists(corun_path_)) {                                                    \
            GTEST_SKIP() << corun_path_ << " is missing; run scripts/fetch_models.sh"; \
        }                                                                              \
    }

std::string write_file(const std::string& name, const std::string& bytes) {
    const std::string path = (scratch_directory() / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// The run's stdout as JSON; a test failure (and null) when it is not.
json parse_json(const CliResult& run) {
    json parsed = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << run;
    return parsed.is_discarded() ? json() : parsed;
}

// Exit code 1 and exactly one stderr line "corun: CODE: ..." that contains `part`.
void expect_error(const CliResult& run, const std::string& code, const std::string& part) {
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_EQ(run.err.rfind("corun: " + code + ": ", 0), 0u) << run;
    ASSERT_FALSE(run.err.empty()) << run;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run;
    EXPECT_TRUE(contains(run.err, part)) << "no '" << part << "' in: " << run;
    EXPECT_TRUE(run.out.empty()) << run;
}

std::vector<std::string> labels_of(const json& detections) {
    std::vector<std::string> labels;
    for (const auto& d : detections) labels.push_back(d.at("label").get<std::string>());
    return labels;
}

bool has(const std::vector<std::string>& values, const std::string& value) {
    return std::find(values.begin(), values.end(), value) != values.end();
}

// An espeak-ng recording (22050 Hz) of a short sentence; "" when espeak-ng is missing.
std::string espeak_wav() {
    static const std::string path = [] {
        const std::string wav = (scratch_directory() / "speech.wav").string();
        const std::string command =
            "espeak-ng -w " + quoted(wav) + " 'hello world, this is corun' >/dev/null 2>&1";
        return std::system(command.c_str()) == 0 && exists(wav) ? wav : std::string();
    }();
    return path;
}

// ---- runtime commands on the generated test models ----

TEST(CliTest, ScanJsonIsValid) {
    const CliResult run = corun({"scan", "--json"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_FALSE(out.is_null()) << run;
}

TEST(CliTest, ParseJsonIsValidAndNamesTheInputs) {
    const CliResult run = corun({"parse", corun::test::test_model("add_one.onnx"), "--json"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    ASSERT_TRUE(out.is_object()) << run;
    EXPECT_TRUE(contains(run.out, "\"inputs\"")) << run;
}

TEST(CliTest, RunCountsTheFramesItWasAskedFor) {
    const CliResult run =
        corun({"run", corun::test::test_model("add_one.onnx"), "-c", "20", "--json"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    ASSERT_TRUE(out.is_object()) << run;
    EXPECT_EQ(out.at("frames").get<int>(), 20) << run;
}

// Issue 11: random inputs of every element type, strings included, and parse naming the types.
TEST(CliTest, RunAndParseKnowEveryElementType) {
    for (const char* model :
         {"half_dense.onnx", "bool_mask.onnx", "double_and_wide_ints.onnx", "string_upper.onnx"}) {
        const CliResult run = corun({"run", corun::test::test_model(model), "-c", "5", "--json"});
        ASSERT_EQ(run.exit_code, 0) << model << ": " << run;
        EXPECT_EQ(parse_json(run).at("frames").get<int>(), 5) << model << ": " << run;
    }
    const CliResult half = corun({"run", corun::test::test_model("half_dense.onnx"), "-c", "5",
                                  "--input-format-type", "float32", "--json"});
    ASSERT_EQ(half.exit_code, 0) << half;
    const CliResult parse = corun({"parse", corun::test::test_model("bool_mask.onnx")});
    ASSERT_EQ(parse.exit_code, 0) << parse;
    EXPECT_TRUE(contains(parse.out, "element type: BOOL")) << parse;
    EXPECT_TRUE(contains(parse.out, "frame size:   6 bytes")) << parse;
    EXPECT_FALSE(contains(parse.out, "AUTO")) << parse;
}

TEST(CliTest, ParseOfAMissingModelIsAOneLineError) {
    const CliResult run = corun({"parse", (scratch_directory() / "nonexistent.onnx").string()});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_EQ(run.err.rfind("corun: ", 0), 0u) << run;
}

// ---- task commands ----

TEST(CliTest, DetectFindsTheDogAndTheBicycle) {
    SKIP_UNLESS_FETCHED(NANODET, DOG);
    const CliResult run = corun({"detect", DOG, "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    const auto labels = labels_of(out.at("detections"));
    EXPECT_TRUE(has(labels, "dog")) << run;
    EXPECT_TRUE(has(labels, "bicycle")) << run;
    for (const auto& d : out.at("detections")) {
        EXPECT_EQ(d.at("box").size(), 4u);
        EXPECT_GT(d.at("score").get<double>(), 0.0);
    }
}

TEST(CliTest, FacesFindsExactlyOneFaceInMessi) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, MESSI);
    const CliResult run = corun({"faces", MESSI, "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.at("image"), MESSI);
    ASSERT_EQ(out.at("faces").size(), 1u) << run;
    const json& face = out.at("faces")[0];
    EXPECT_GE(face.at("score").get<double>(), 0.75);
    ASSERT_EQ(face.at("box").size(), 4u);
    // Messi's face, read off the image by hand (tests/tasks_face_test.cpp): 221,92 - 258,134.
    const auto box = face.at("box").get<std::vector<double>>();
    EXPECT_NEAR((box[0] + box[2]) / 2, (221 + 258) / 2.0, 10.0) << run;
    EXPECT_NEAR((box[1] + box[3]) / 2, (92 + 134) / 2.0, 10.0) << run;
    ASSERT_EQ(face.at("keypoints").size(), 6u);
    for (const auto& point : face.at("keypoints")) {
        const auto xy = point.get<std::vector<double>>();
        ASSERT_EQ(xy.size(), 2u);
        EXPECT_GE(xy[0], box[0] - 10);  // within (about) the box
        EXPECT_LE(xy[0], box[2] + 10);
    }
    EXPECT_TRUE(out.at("latency").contains("p50_ms"));
}

TEST(CliTest, FacesFindsNoneInTheEagleAndEmbedsWithEmbed) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, EAGLE);
    const CliResult none = corun({"faces", EAGLE, "--json", "--models", CACHE});
    ASSERT_EQ(none.exit_code, 0) << none;
    EXPECT_EQ(parse_json(none).at("faces").size(), 0u) << none;

    SKIP_UNLESS_FETCHED(FACERES, MESSI);
    const CliResult run = corun({"faces", MESSI, "--embed", "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    ASSERT_EQ(out.at("faces").size(), 1u) << run;
    const json& embedding = out.at("faces")[0].at("embedding");
    EXPECT_EQ(embedding.at("dimension").get<int>(), 1024) << run;
    EXPECT_NEAR(embedding.at("norm").get<double>(), 1.0, 1e-3) << run;
    EXPECT_EQ(embedding.at("first").size(), 8u);
}

TEST(CliTest, FacesRepeatReportsTheRuns) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, MESSI);
    const CliResult run = corun({"faces", MESSI, "--json", "--repeat", "3", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.at("latency").at("runs").get<int>(), 3);
    EXPECT_GT(out.at("latency").at("p50_ms").get<double>(), 0.0);
    // And the text form.
    const CliResult text = corun({"faces", MESSI, "--models", CACHE});
    ASSERT_EQ(text.exit_code, 0) << text;
    EXPECT_TRUE(contains(text.out, "1 face with score")) << text;
}

TEST(CliTest, DemoStreamsItsSpeechLiveWindowByWindowBesideTheVisionTasks) {
    SKIP_UNLESS_FETCHED(SILERO, NANODET, BLAZEFACE, DOG);
    if (espeak_wav().empty()) GTEST_SKIP() << "espeak-ng is not installed";
    const CliResult run = corun({"demo", "-t", "1", "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    const json* speech = nullptr;
    for (const auto& task : out.at("tasks")) {
        if (task.at("task") == "Speech (Silero VAD, live)") speech = &task;
    }
    ASSERT_NE(speech, nullptr) << run;
    EXPECT_EQ(speech->at("latency_per"), "window") << run;
    EXPECT_EQ(speech->at("error"), "") << run;
    // One call streams the whole clip: its latency samples are its windows (> 60 of 32 ms).
    EXPECT_GT(speech->at("calls").get<int>(), 60) << run;
    const std::string finding = speech->at("findings").at(0).get<std::string>();
    // "N windows live (M missed their 32 ms): speech 1.06-1.47 s, ...". A window the scheduler
    // predicts late is refused and heard as silence: on a machine loaded by other work (another
    // test beside this one took 139 of 146) the speech may be missed with them, and the finding
    // says how many. With none missed, the speech is found where it starts, after 1 s of silence.
    unsigned windows = 0, missed = 0;
    const size_t live = finding.find(" windows live (");
    ASSERT_NE(live, std::string::npos) << finding;
    const size_t count_at = finding.rfind(", ", live);
    ASSERT_NE(count_at, std::string::npos) << finding;
    ASSERT_EQ(
        std::sscanf(finding.c_str() + count_at, ", %u windows live (%u missed", &windows, &missed),
        2)
        << finding;
    EXPECT_GE(speech->at("calls").get<int>(), static_cast<int>(windows)) << finding;
    EXPECT_GT(windows, 60u) << finding;
    EXPECT_LE(missed, windows) << finding;
    if (missed == 0) {
        EXPECT_TRUE(contains(finding, "speech 1."))
            << "speech starts after 1 s of silence: " << finding;
    }
}

TEST(CliTest, VadFindsTheSpeechInAnEspeakRecordingAndSaysItResampled) {
    SKIP_UNLESS_FETCHED(SILERO);
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (apt-get install espeak-ng)";
    const CliResult run = corun({"vad", wav, "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.at("audio"), wav);
    EXPECT_EQ(out.at("sample_rate").get<int>(), 22050) << run;  // espeak-ng's rate
    EXPECT_TRUE(out.at("resampled").get<bool>()) << run;
    const double duration = out.at("duration_s").get<double>();
    EXPECT_GT(duration, 0.5);
    ASSERT_GE(out.at("segments").size(), 1u) << run;
    double speech = 0.0;
    for (const auto& segment : out.at("segments")) {
        const double start = segment.at("start_s").get<double>();
        const double end = segment.at("end_s").get<double>();
        EXPECT_GE(start, 0.0);
        EXPECT_LT(start, end);
        EXPECT_LE(end, duration + 1e-3);
        speech += end - start;
    }
    EXPECT_GT(speech, 0.5 * duration) << "the recording is mostly speech: " << run;

    const CliResult text = corun({"vad", wav, "--models", CACHE});
    ASSERT_EQ(text.exit_code, 0) << text;
    EXPECT_TRUE(contains(text.out, "resampled to 16000 Hz")) << text;
}

TEST(CliTest, VadOn16kHzAudioPaddedWithSilenceDoesNotResample) {
    SKIP_UNLESS_FETCHED(SILERO);
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (apt-get install espeak-ng)";
    auto speech = corun::tasks::read_wav(wav);
    ASSERT_TRUE(speech.has_value()) << speech.status();
    auto at_16k = corun::tasks::resample(*speech, 16000);
    ASSERT_TRUE(at_16k.has_value()) << at_16k.status();
    // 2 s of silence, the speech, 2 s of silence.
    corun::tasks::AudioClip padded;
    padded.sample_rate = 16000;
    padded.samples.assign(32000, 0.0f);
    padded.samples.insert(padded.samples.end(), at_16k->samples.begin(), at_16k->samples.end());
    padded.samples.insert(padded.samples.end(), 32000, 0.0f);
    const std::string path = (scratch_directory() / "padded-16k.wav").string();
    ASSERT_TRUE(corun::tasks::write_wav(path, padded).is_ok());

    const CliResult run = corun({"vad", path, "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.at("sample_rate").get<int>(), 16000);
    EXPECT_FALSE(out.at("resampled").get<bool>());
    ASSERT_GE(out.at("segments").size(), 1u) << run;
    const double end_of_speech = 2.0 + at_16k->duration_s();
    for (const auto& segment : out.at("segments")) {
        EXPECT_GT(segment.at("start_s").get<double>(), 1.5) << "speech in the leading silence";
        EXPECT_LT(segment.at("end_s").get<double>(), end_of_speech + 0.5)
            << "speech in the trailing silence";
    }
}

TEST(CliTest, OcrReadsARenderedLine) {
    SKIP_UNLESS_FETCHED(OCR_DET, OCR_REC, OCR_CLS, OCR_KEYS,
                        std::string(corun::tasks::DEFAULT_FONT));
    auto image = corun::tasks::render_text_lines({"Hello World 2024", "corun shares accelerators"});
    ASSERT_TRUE(image.has_value()) << image.status();
    const std::string path = (scratch_directory() / "text.png").string();
    ASSERT_TRUE(cv::imwrite(path, *image));

    const CliResult run = corun({"ocr", path, "--json", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.at("image"), path);
    const json& lines = out.at("lines");
    ASSERT_EQ(lines.size(), 2u) << run;
    EXPECT_EQ(lines[0].at("text"), "Hello World 2024") << run;
    EXPECT_EQ(lines[1].at("text"), "corun shares accelerators") << run;
    for (const auto& line : lines) {
        EXPECT_GT(line.at("confidence").get<double>(), 0.8);
        ASSERT_EQ(line.at("box").size(), 4u);
        for (const auto& corner : line.at("box")) EXPECT_EQ(corner.size(), 2u);
    }
    // The first line's box lies above the second's.
    EXPECT_LT(lines[0].at("box")[2][1].get<double>(), lines[1].at("box")[0][1].get<double>());
    EXPECT_TRUE(out.at("latency").contains("stages_p50_ms"));

    const CliResult text = corun({"ocr", path, "--models", CACHE});
    ASSERT_EQ(text.exit_code, 0) << text;
    EXPECT_TRUE(contains(text.out, "\"Hello World 2024\"")) << text;
}

// ---- what the task commands share (tools/task_command.*): --json, --repeat, the summary ----

// One task command on an input it finds something in, and what its output must hold.
struct TaskCase {
    std::vector<std::string> run;  // command and input: {"detect", DOG}
    std::set<std::string> fields;  // the JSON object's keys, "latency" included
    std::string results;           // the key of the list of what it found
    std::set<std::string> stages;  // latency.stages_p50_ms's keys; none when empty
    std::string untimed_work;      // "(... excluded)" in the text summary
};

const std::set<std::string> LATENCY_FIELDS = {"p50_ms", "p95_ms", "p99_ms", "mean_ms",
                                              "min_ms", "max_ms", "runs"};

std::set<std::string> keys_of(const json& object) {
    std::set<std::string> keys;
    if (!object.is_object()) return keys;
    for (const auto& item : object.items()) keys.insert(item.key());
    return keys;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// --json: exactly the task's fields and the shared latency object, with runs = --repeat; the
// last of three runs finds what one run finds. Text: the same result lines, then the one
// summary line, "first run" for one run and percentiles "over N runs" for more.
void expect_task_skeleton(const TaskCase& task) {
    const std::vector<std::string> base = with(task.run, {"--models", CACHE});
    const CliResult once = corun(with(base, {"--json"}));
    ASSERT_EQ(once.exit_code, 0) << once;
    const json one = parse_json(once);
    EXPECT_EQ(keys_of(one), task.fields) << once;
    ASSERT_TRUE(one.contains(task.results)) << once;
    EXPECT_FALSE(one.at(task.results).empty()) << "the test input has something to find: " << once;

    const CliResult thrice = corun(with(base, {"--json", "--repeat", "3"}));
    ASSERT_EQ(thrice.exit_code, 0) << thrice;
    const json three = parse_json(thrice);
    EXPECT_EQ(keys_of(three), task.fields) << thrice;
    EXPECT_EQ(three.value(task.results, json()), one.at(task.results)) << thrice;

    for (const auto& [out, runs] : {std::pair{&one, 1}, std::pair{&three, 3}}) {
        const json latency = out->value("latency", json::object());
        std::set<std::string> expected = LATENCY_FIELDS;
        if (!task.stages.empty()) expected.insert("stages_p50_ms");
        EXPECT_EQ(keys_of(latency), expected) << latency;
        EXPECT_EQ(latency.value("runs", 0), runs) << latency;
        EXPECT_EQ(keys_of(latency.value("stages_p50_ms", json::object())), task.stages) << latency;
    }

    const CliResult text_once = corun(base);
    ASSERT_EQ(text_once.exit_code, 0) << text_once;
    const CliResult text_twice = corun(with(base, {"--repeat", "2"}));
    ASSERT_EQ(text_twice.exit_code, 0) << text_twice;
    auto result_once = lines_of(text_once.out);
    auto result_twice = lines_of(text_twice.out);
    ASSERT_GE(result_once.size(), 2u) << text_once;
    ASSERT_GE(result_twice.size(), 2u) << text_twice;
    const std::string summary_once = result_once.back();
    const std::string summary_twice = result_twice.back();
    result_once.pop_back();
    result_twice.pop_back();
    EXPECT_EQ(result_twice, result_once) << text_twice;
    EXPECT_EQ(summary_once.rfind("latency: ", 0), 0u) << text_once;
    EXPECT_TRUE(
        contains(summary_once, task.stages.empty() ? " ms (first run)" : " ms (first run; "))
        << text_once;
    const std::string over_two = "latency over 2 runs (" + task.untimed_work + " excluded): p50 ";
    EXPECT_EQ(summary_twice.rfind(over_two, 0), 0u) << text_twice;
    EXPECT_EQ(contains(summary_twice, "; stage p50: "), !task.stages.empty()) << text_twice;
    for (const auto& stage : task.stages) {
        EXPECT_TRUE(contains(summary_twice, " " + stage + " ")) << stage << ": " << text_twice;
    }
}

TEST(CliTaskSkeletonTest, Detect) {
    SKIP_UNLESS_FETCHED(NANODET, DOG);
    expect_task_skeleton({.run = {"detect", DOG},
                          .fields = {"image", "width", "height", "model", "detections", "latency"},
                          .results = "detections",
                          .stages = {},
                          .untimed_work = "file decoding"});
}

TEST(CliTaskSkeletonTest, Faces) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, MESSI);
    expect_task_skeleton(
        {.run = {"faces", MESSI},
         .fields = {"image", "width", "height", "model", "keypoint_names", "faces", "latency"},
         .results = "faces",
         .stages = {},
         .untimed_work = "file decoding"});
}

// With --embed, a run is the detection and the embeddings: two stages, and the embeddings'
// own summary as before.
TEST(CliTaskSkeletonTest, FacesWithEmbeddings) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, FACERES, MESSI);
    expect_task_skeleton({.run = {"faces", MESSI, "--embed"},
                          .fields = {"image", "width", "height", "model", "keypoint_names", "faces",
                                     "latency", "embedding_model", "embedding_latency"},
                          .results = "faces",
                          .stages = {"detect", "embed"},
                          .untimed_work = "file decoding"});
    const CliResult run =
        corun({"faces", MESSI, "--embed", "--json", "--repeat", "2", "--models", CACHE});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = parse_json(run);
    EXPECT_EQ(out.value("embedding_model", ""), FACERES) << run;
    const json embedding = out.value("embedding_latency", json::object());
    EXPECT_EQ(keys_of(embedding), LATENCY_FIELDS) << run;
    EXPECT_EQ(embedding.value("runs", 0), 2) << run;
}

TEST(CliTaskSkeletonTest, Ocr) {
    SKIP_UNLESS_FETCHED(OCR_DET, OCR_REC, OCR_CLS, OCR_KEYS,
                        std::string(corun::tasks::DEFAULT_FONT));
    auto image = corun::tasks::render_text_lines({"Hello World 2024"});
    ASSERT_TRUE(image.has_value()) << image.status();
    const std::string path = (scratch_directory() / "skeleton-text.png").string();
    ASSERT_TRUE(cv::imwrite(path, *image));
    expect_task_skeleton({.run = {"ocr", path},
                          .fields = {"image", "width", "height", "models", "lines", "latency"},
                          .results = "lines",
                          .stages = {"detect", "classify", "recognize"},
                          .untimed_work = "file decoding"});
}

TEST(CliTaskSkeletonTest, Vad) {
    SKIP_UNLESS_FETCHED(SILERO);
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (apt-get install espeak-ng)";
    expect_task_skeleton(
        {.run = {"vad", wav},
         .fields = {"audio", "sample_rate", "duration_s", "model", "model_sample_rate", "resampled",
                    "threshold", "speech_s", "segments", "latency"},
         .results = "segments",
         .stages = {},
         .untimed_work = "file reading and resampling"});
}

// The service flags reach the VDevice: with no corund on the socket, the command says so,
// naming the socket, instead of running in-process.
TEST(CliTaskSkeletonTest, ServiceSocketIsUsed) {
    SKIP_UNLESS_FETCHED(NANODET, DOG);
    const std::string socket = (scratch_directory() / "no-corund.sock").string();
    const CliResult run = corun({"detect", DOG, "--service-socket", socket, "--models", CACHE});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_EQ(run.err.rfind("corun: ", 0), 0u) << run;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run;
    EXPECT_TRUE(contains(run.err, socket)) << run;
    EXPECT_TRUE(run.out.empty()) << run;
}

// ---- bad input: exit code 1 and one line "corun: CODE: message" ----

TEST(CliTest, MissingModelsPointAtTheFetchScript) {
    const std::string nowhere = (scratch_directory() / "no-models-here").string();
    const std::string image = exists(MESSI) ? MESSI : write_file("any.png", "x");
    for (const std::string command : {"detect", "faces", "ocr"}) {
        SCOPED_TRACE(command);
        expect_error(corun({command, image, "--models", nowhere}), "NOT_FOUND",
                     "scripts/fetch_models.sh");
    }
    expect_error(corun({"vad", write_file("any.wav", "x"), "--models", nowhere}), "NOT_FOUND",
                 "scripts/fetch_models.sh silero-vad");
    expect_error(corun({"faces", image, "--model", nowhere + "/face.onnx"}), "NOT_FOUND",
                 nowhere + "/face.onnx");
}

TEST(CliTest, MissingInputFileIsNotFound) {
    SKIP_UNLESS_FETCHED(NANODET, BLAZEFACE, SILERO, OCR_DET, OCR_REC, OCR_CLS, OCR_KEYS);
    const std::string missing = (scratch_directory() / "missing.jpg").string();
    for (const std::string command : {"detect", "faces", "ocr", "vad"}) {
        SCOPED_TRACE(command);
        expect_error(corun({command, missing, "--models", CACHE}), "NOT_FOUND", missing);
    }
}

TEST(CliTest, FilesOfTheWrongKindAreClearErrors) {
    SKIP_UNLESS_FETCHED(NANODET, BLAZEFACE, SILERO, OCR_DET, OCR_REC, OCR_CLS, OCR_KEYS);
    const std::string text = write_file("notes.txt", "these are not pixels\n");
    const std::string empty = write_file("empty.jpg", "");
    for (const std::string command : {"detect", "faces", "ocr"}) {
        SCOPED_TRACE(command);
        expect_error(corun({command, text, "--models", CACHE}), "NOT_SUPPORTED", "not an image");
        expect_error(corun({command, empty, "--models", CACHE}), "INVALID_ARGUMENT", "empty");
    }
    expect_error(corun({"vad", text, "--models", CACHE}), "INVALID_ARGUMENT", "not a WAV");
    expect_error(corun({"vad", write_file("empty.wav", ""), "--models", CACHE}), "INVALID_ARGUMENT",
                 "empty");
    if (exists(MESSI)) {
        expect_error(corun({"vad", MESSI, "--models", CACHE}), "INVALID_ARGUMENT", "not a WAV");
    }
    // An image whose header claims 100000 x 100000 pixels is refused before it is decoded.
    std::string huge_png(
        "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0", 29);
    expect_error(corun({"faces", write_file("huge.png", huge_png), "--models", CACHE}),
                 "INVALID_ARGUMENT", "huge.png");
    expect_error(corun({"faces", text, "--repeat", "0", "--models", CACHE}), "INVALID_ARGUMENT",
                 "--repeat");
}

// ---- hostile sizes (issue 9): clear errors, never an abort or an uncaught exception ----

TEST(CliTest, RunOnAModelWithAbsurdDimensionsIsAOneLineErrorNotACrash) {
    // absurd_dims.onnx: an input of [1, 1000000, 1000000, 1000] floats, 4 PB a frame.
    const CliResult run = corun({"run", corun::test::test_model("absurd_dims.onnx"), "-c", "1"});
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_EQ(run.err.rfind("corun: ", 0), 0u) << run;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run;
    EXPECT_FALSE(contains(run.err, "internal error")) << run;
    // Refused by configure()'s frame size limit or, below it, by corun run before it allocates
    // its buffers; either names the input's 4e15 bytes.
    EXPECT_TRUE(contains(run.err, "4000000000000000")) << "the frame size is named: " << run;
    EXPECT_TRUE(run.out.empty()) << run;
    // run2 prepares its models with the same checks.
    const CliResult run2 =
        corun({"run2", "-t", "1", "set-net", corun::test::test_model("absurd_dims.onnx")});
    EXPECT_EQ(run2.exit_code, 1) << run2;
    EXPECT_EQ(run2.err.rfind("corun: ", 0), 0u) << run2;
    EXPECT_FALSE(contains(run2.err, "internal error")) << run2;
    EXPECT_TRUE(contains(run2.err, "4000000000000000")) << run2;
}

TEST(CliTest, WavAtOneHertzIsRefusedNamingTheRateAndTheRange) {
    SKIP_UNLESS_FETCHED(SILERO);
    // 400 KB of 16-bit mono "at 1 Hz": resampled to 16 kHz it asked for 12.8 GB and aborted.
    std::string wav = "RIFF";
    auto u16 = [](uint32_t v) { return std::string{char(v & 0xFF), char((v >> 8) & 0xFF)}; };
    auto u32 = [&](uint32_t v) { return u16(v & 0xFFFF) + u16(v >> 16); };
    const uint32_t data_size = 400000;
    wav += u32(36 + data_size) + "WAVEfmt " + u32(16) + u16(1) + u16(1) + u32(1) + u32(2) + u16(2) +
           u16(16) + "data" + u32(data_size) + std::string(data_size, '\x01');
    const std::string path = write_file("one-hertz.wav", wav);
    expect_error(corun({"vad", path, "--models", CACHE}), "INVALID_ARGUMENT",
                 "WAV file '" + path +
                     "': the WAV's sample rate 1 Hz is outside the supported range "
                     "4000..384000 Hz");
}

TEST(CliTest, TiffWithRepeatedSizeTagsIsRefusedByTheLimit) {
    SKIP_UNLESS_FETCHED(BLAZEFACE);
    // Little-endian TIFF, 8-bit gray: ImageWidth and ImageLength each given twice, 100000 first
    // (what libtiff reads) and 2 last.
    std::string tiff("II*\0\x08\0\0\0", 8);
    auto u16 = [](uint32_t v) { return std::string{char(v & 0xFF), char((v >> 8) & 0xFF)}; };
    auto u32 = [&](uint32_t v) { return u16(v & 0xFFFF) + u16(v >> 16); };
    const uint32_t entries = 11;
    const uint32_t data_offset = 8 + 2 + 12 * entries + 4;
    auto entry = [&](uint32_t tag, uint32_t type, uint32_t value) {
        return u16(tag) + u16(type) + u32(1) + (type == 3 ? u16(value) + u16(0) : u32(value));
    };
    tiff += u16(entries) + entry(256, 4, 100000) + entry(256, 4, 2) + entry(257, 4, 100000) +
            entry(257, 4, 2) + entry(258, 3, 8) + entry(259, 3, 1) + entry(262, 3, 1) +
            entry(273, 4, data_offset) + entry(277, 3, 1) + entry(278, 4, 2) + entry(279, 4, 4) +
            u32(0) + std::string(4, '\0');
    expect_error(corun({"faces", write_file("repeated-tags.tif", tiff), "--models", CACHE}),
                 "INVALID_ARGUMENT",
                 "the TIFF image is 100000 x 100000 (10000 MP), above the limit of 64 MP");
}

TEST(CliTest, TinyImagesGiveEmptyResultsNotErrors) {
    SKIP_UNLESS_FETCHED(BLAZEFACE, OCR_DET, OCR_REC, OCR_CLS, OCR_KEYS);
    const std::string path = (scratch_directory() / "one-pixel.png").string();
    ASSERT_TRUE(cv::imwrite(path, cv::Mat(1, 1, CV_8UC3, cv::Scalar(40, 80, 120))));
    const CliResult faces = corun({"faces", path, "--json", "--models", CACHE});
    ASSERT_EQ(faces.exit_code, 0) << faces;
    EXPECT_EQ(parse_json(faces).at("faces").size(), 0u) << faces;
    const CliResult ocr = corun({"ocr", path, "--json", "--models", CACHE});
    ASSERT_EQ(ocr.exit_code, 0) << ocr;
    EXPECT_EQ(parse_json(ocr).at("lines").size(), 0u) << ocr;
}

}  // namespace
