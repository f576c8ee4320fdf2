// Issue 16: `corun batch detect` against the two ways users tag a folder today, in one run on
// the same images: `corun detect` in a shell loop (a process and a model load per image), and a
// naive thread pool (N threads, each reading, decoding and detecting its images synchronously
// with its own detector on one shared VDevice, models loaded before the clock starts). Prints
// images/s per round and the medians' ratios; the three are interleaved round by round, so a
// machine busy with other work slows them alike. Run it under the lock:
//   flock /work/bench.lock build/bench/batch_bench build/tools/corun [IMAGES [LOOP_IMAGES
//   [THREADS [ROUNDS]]]]
//
// The folder is made of Debian's darknet and opencv-doc images copied with a distinct trailer
// each, so every file is a distinct input (identical bytes would be done once by the batch).
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "corun/corun.hpp"
#include "tasks/image.hpp"
#include "tasks/object_detection.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string quoted(const std::string& text) {
    return "'" + text + "'";
}

std::vector<std::string> make_folder(const std::string& cache, const std::string& dir, int count) {
    const std::vector<std::string> sources = {
        "darknet/dog.jpg",           "darknet/eagle.jpg",
        "darknet/giraffe.jpg",       "darknet/horses.jpg",
        "darknet/person.jpg",        "opencv-doc/messi5.jpg",
        "opencv-doc/facereg.jpg",    "opencv-doc/julia_facedetect_sample.jpg",
        "opencv-doc/imageTextN.png", "opencv-doc/text_defocus.jpg"};
    fs::create_directories(dir);
    std::vector<std::string> files;
    for (int i = 0; i < count; ++i) {
        const std::string& source = sources[static_cast<size_t>(i) % sources.size()];
        const std::string path =
            dir + "/" + std::to_string(1000 + i) + "-" + fs::path(source).filename().string();
        fs::copy_file(cache + "/data/" + source, path, fs::copy_options::overwrite_existing);
        std::ofstream(path, std::ios::app | std::ios::binary) << "copy " << i;
        files.push_back(path);
    }
    return files;
}

int run_shell(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// One round of corun batch over the folder into a fresh database: the whole process, model
// loading included. Returns seconds, or a negative value on failure.
double time_batch(const std::string& corun, const std::string& scratch, const std::string& cache,
                  int workers, int round) {
    const std::string db = scratch + "/bench-" + std::to_string(round) + ".db";
    const std::string command = quoted(corun) + " batch detect " + quoted(scratch + "/images") +
                                " --db " + quoted(db) + " --no-progress --workers " +
                                std::to_string(workers) + " --models " + quoted(cache) + " > " +
                                quoted(scratch + "/batch.txt");
    const auto start = Clock::now();
    return run_shell(command) == 0 ? seconds_since(start) : -1.0;
}

// corun detect, one process per image, over `files`.
double time_loop(const std::string& corun, const std::vector<std::string>& files,
                 const std::string& cache) {
    std::string loop = "for f in";
    for (const auto& file : files) loop += " " + quoted(file);
    loop += "; do " + quoted(corun) + " detect \"$f\" --json --models " + quoted(cache) +
            " > /dev/null || exit 1; done";
    const auto start = Clock::now();
    return run_shell(loop) == 0 ? seconds_since(start) : -1.0;
}

// N threads, each reading, decoding and detecting its images synchronously with its own
// detector; the detectors are loaded before the clock starts.
double time_pool(std::vector<std::unique_ptr<corun::tasks::ObjectDetector>>& detectors,
                 const std::vector<std::string>& files) {
    std::atomic<size_t> next{0};
    std::atomic<size_t> failures{0};
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (auto& detector : detectors) {
        pool.emplace_back([&, d = detector.get()] {
            for (size_t i = next++; i < files.size(); i = next++) {
                auto image = corun::tasks::read_image(files[i]);
                if (!image.has_value() || !d->detect(*image).has_value()) ++failures;
            }
        });
    }
    for (auto& thread : pool) thread.join();
    return failures == 0 ? seconds_since(start) : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string corun = argc > 1 ? argv[1] : "build/tools/corun";
    const int images = argc > 2 ? std::atoi(argv[2]) : 300;
    const int loop_images = argc > 3 ? std::atoi(argv[3]) : 30;  // the shell loop is slow
    const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
    const int rounds = argc > 5 ? std::atoi(argv[5]) : 3;
    const std::string cache = CORUN_DEFAULT_CACHE_DIR;

    char pattern[] = "/tmp/corun-batch-bench.XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    const std::string scratch = pattern;
    const auto files = make_folder(cache, scratch + "/images", images);
    const std::vector<std::string> loop_files(files.begin(),
                                              files.begin() + std::min(loop_images, images));
    std::printf(
        "batch_bench: %d images (%d in the shell loop), %d workers/threads, %d rounds "
        "interleaved, load %.2f\n",
        images, loop_images, threads, rounds, corun::bench::load_average());

    auto vdevice = corun::VDevice::create_shared().release();
    const auto paths = corun::tasks::ObjectDetectorPaths::in_cache(cache);
    std::vector<std::unique_ptr<corun::tasks::ObjectDetector>> detectors;
    for (int t = 0; t < threads; ++t) {
        auto detector = corun::tasks::ObjectDetector::create(vdevice, paths.model, paths.labels);
        if (!detector.has_value()) {
            std::fprintf(stderr, "batch_bench: %s\n", detector.status().to_string().c_str());
            return 1;
        }
        detectors.push_back(detector.release());
    }

    std::vector<double> batch_rates, loop_rates, pool_rates;
    for (int round = 0; round < rounds; ++round) {
        const double batch_s = time_batch(corun, scratch, cache, threads, round);
        const double pool_s = time_pool(detectors, files);
        const double loop_s = time_loop(corun, loop_files, cache);
        if (batch_s < 0 || pool_s < 0 || loop_s < 0) {
            std::fprintf(stderr, "batch_bench: a run failed (batch %.1f, pool %.1f, loop %.1f)\n",
                         batch_s, pool_s, loop_s);
            return 1;
        }
        batch_rates.push_back(images / batch_s);
        pool_rates.push_back(images / pool_s);
        loop_rates.push_back(static_cast<double>(loop_files.size()) / loop_s);
        std::printf("round %d: batch %.1f, naive pool %.1f, shell loop %.2f images/s\n", round + 1,
                    batch_rates.back(), pool_rates.back(), loop_rates.back());
    }
    const double batch_rate = corun::bench::median(batch_rates);
    const double pool_rate = corun::bench::median(pool_rates);
    const double loop_rate = corun::bench::median(loop_rates);
    std::printf("%-52s %10s\n", "median of the rounds", "images/s");
    std::printf("%-52s %10.1f\n", "corun batch detect (a process, models loaded in it)",
                batch_rate);
    std::printf("%-52s %10.2f\n", "corun detect in a shell loop (a process per image)", loop_rate);
    std::printf("%-52s %10.1f\n", "naive thread pool (in process, models preloaded)", pool_rate);
    std::printf("ratio batch / shell loop: %.1fx\n", batch_rate / loop_rate);
    std::printf("ratio batch / naive pool: %.2fx\n", batch_rate / pool_rate);
    std::printf("load average after: %.2f\n", corun::bench::load_average());
    std::ifstream summary(scratch + "/batch.txt");
    std::cout << "corun batch said (last round): " << summary.rdbuf();
    fs::remove_all(scratch);
    return 0;
}
