// `corun batch` on one machine: runs tasks over files into a ResultStore, doing only what the
// store does not already hold for the same bytes and model version.
//
// The pipeline keeps the device busy: reader threads stat, read, hash and decode the files
// (pixels or samples, once per file for all its tasks) into a bounded queue; inference lanes,
// each with its own instance of every task's models on the one shared VDevice, take decoded
// inputs from it, so several inputs are in flight and one lane's pre-processing runs while
// another's model does; one writer thread stores each file's outcome in one transaction and
// appends its results to the JSONL file.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/batch_progress.hpp"
#include "corun/corun.hpp"

namespace corun::cluster {

// tasks::MAX_IMAGE_FILE_BYTES: the largest input read by default.
constexpr uint64_t DEFAULT_MAX_INPUT_BYTES = 256ull * 1024 * 1024;

struct BatchOptions {
    std::vector<std::string> tasks;       // "detect", "ocr", "faces", "vad"; each once
    std::vector<std::string> paths;       // files and folders
    std::vector<std::string> file_lists;  // --files-from; "-" is standard input
    std::string db;                       // the SQLite database (created when missing)
    std::string jsonl;                    // "" = none; else results appended, one per line
    std::string models;                   // the cache folder scripts/fetch_models.sh fills
    uint64_t max_input_bytes = DEFAULT_MAX_INPUT_BYTES;
    int workers = 2;      // inference lanes: inputs in flight on the device
    int decoders = 1;     // reader threads: read, hash, decode
    bool rehash = false;  // read and hash every file, not trusting unchanged size and mtime
    VDeviceParams vdevice;
    nlohmann::json command;  // what the runs table records (the command line)
};

struct BatchSummary {
    int64_t run_id = 0;
    size_t inputs = 0;                     // files found
    size_t processed = 0;                  // inputs whose tasks ran (or failed) in this run
    size_t unchanged = 0;                  // inputs already done for the same bytes and models
    size_t bad = 0;                        // inputs with an error recorded in this run
    size_t results = 0;                    // rows written (results and errors)
    size_t other_files = 0;                // files under the folders of no requested task's kind
    std::map<std::string, size_t> errors;  // error_kind -> rows
    std::map<std::string, size_t> tasks;   // task -> rows written
    double seconds = 0.0;
    std::vector<std::string> warnings;
    nlohmann::json cluster;  // corun batch --cluster: nodes, items published, duplicates

    nlohmann::json to_json() const;
    std::string to_text() const;
};

// INVALID_ARGUMENT naming what is wrong with the options (no task, an unknown or repeated one,
// no input, no database, limits out of range).
Status check_batch_options(const BatchOptions& options);

// Runs the batch. `progress` is updated as inputs finish (the caller shows it). Errors (bad
// options, a database that cannot be opened or written, models that cannot be loaded) stop the
// batch; a bad input never does: it is recorded with its reason.
Expected<BatchSummary> run_batch(const BatchOptions& options, std::istream& standard_input,
                                 BatchProgress& progress);

}  // namespace corun::cluster
