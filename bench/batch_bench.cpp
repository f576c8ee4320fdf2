// Issue 16: `corun batch detect` against the two ways users tag a folder today, in one run on
// the same images: `corun detect` in a shell loop (a process and a model load per image), and a
// naive thread pool (N threads, each reading, decoding and detecting its images synchronously
// with its own detector on one shared VDevice, models loaded before the clock starts). Prints
// images/s and the ratios. Run it under the lock: flock /work/bench.lock build/bench/batch_bench.
//
// The folder is made of Debian's darknet and opencv-doc images copied with a distinct trailer
// each, so every file is a distinct input (identical bytes would be done once by the batch).
#include <stdlib.h>

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

}  // namespace

int main(int argc, char** argv) {
    const std::string corun = argc > 1 ? argv[1] : "build/tools/corun";
    const int images = argc > 2 ? std::atoi(argv[2]) : 300;
    const int loop_images = argc > 3 ? std::atoi(argv[3]) : 40;  // the shell loop is slow
    const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
    const std::string cache = CORUN_DEFAULT_CACHE_DIR;

    char pattern[] = "/tmp/corun-batch-bench.XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    const std::string scratch = pattern;
    const auto files = make_folder(cache, scratch + "/images", images);
    std::printf("batch_bench: %d images (%d in the shell loop), %d threads/workers, load %.2f\n",
                images, loop_images, threads, corun::bench::load_average());

    // 1. corun batch: the whole process, model loading included.
    auto start = Clock::now();
    const std::string batch_command =
        quoted(corun) + " batch detect " + quoted(scratch + "/images") + " --db " +
        quoted(scratch + "/bench.db") + " --no-progress --workers " + std::to_string(threads) +
        " --models " + quoted(cache) + " > " + quoted(scratch + "/batch.txt");
    if (run_shell(batch_command) != 0) {
        std::fprintf(stderr, "batch_bench: corun batch failed\n");
        return 1;
    }
    const double batch_s = seconds_since(start);

    // 2. corun detect in a shell loop over the first loop_images files.
    std::string loop = "for f in";
    for (int i = 0; i < loop_images && i < images; ++i) loop += " " + quoted(files[i]);
    loop += "; do " + quoted(corun) + " detect \"$f\" --json --models " + quoted(cache) +
            " > /dev/null || exit 1; done";
    start = Clock::now();
    if (run_shell(loop) != 0) {
        std::fprintf(stderr, "batch_bench: the corun detect loop failed\n");
        return 1;
    }
    const double loop_s = seconds_since(start);

    // 3. A naive thread pool in one process.
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
    std::atomic<size_t> next{0};
    std::atomic<size_t> failures{0};
    start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (size_t i = next++; i < files.size(); i = next++) {
                auto image = corun::tasks::read_image(files[i]);
                if (!image.has_value() || !detectors[t]->detect(*image).has_value()) ++failures;
            }
        });
    }
    for (auto& thread : pool) thread.join();
    const double pool_s = seconds_since(start);

    const double batch_rate = images / batch_s;
    const double loop_rate = loop_images / loop_s;
    const double pool_rate = images / pool_s;
    std::printf("%-44s %10s %10s\n", "", "images/s", "seconds");
    std::printf("%-44s %10.1f %10.2f\n", "corun batch detect (process, models loaded)", batch_rate,
                batch_s);
    std::printf("%-44s %10.1f %10.2f\n", "corun detect in a shell loop", loop_rate, loop_s);
    std::printf("%-44s %10.1f %10.2f\n", "naive thread pool (in process, models loaded)", pool_rate,
                pool_s);
    std::printf("ratio batch / shell loop: %.1fx\n", batch_rate / loop_rate);
    std::printf("ratio batch / naive pool: %.2fx\n", batch_rate / pool_rate);
    if (failures > 0) std::printf("naive pool failures: %zu\n", failures.load());
    std::ifstream summary(scratch + "/batch.txt");
    std::cout << "corun batch said: " << summary.rdbuf();
    fs::remove_all(scratch);
    return 0;
}
