// The in-process monitor's Prometheus page (CORUN_MONITOR_METRICS): this test process runs a
// model in-process with the page on a free loopback port, scrapes it over real HTTP (a TCP
// socket, as Prometheus would) and checks the scheduler's counts exactly; other paths and
// methods are refused. Its own binary: the monitor starts once per process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "runtime/monitor/in_process_monitor.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

// The whole answer to `request` from 127.0.0.1:port.
std::string http_exchange(int port, const std::string& request) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    timeval limit{30, 0};  // bounded: far beyond what a passing run needs
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    std::string answer;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
        send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
        char chunk[4096];
        ssize_t n = 0;
        while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0) answer.append(chunk, n);
    }
    close(fd);
    return answer;
}

TEST(InProcessMetricsTest, ServesTheSchedulersCountsOverHttp) {
    const auto folder =
        std::filesystem::temp_directory_path() / ("corun_metrics_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    ASSERT_EQ(setenv("CORUN_MONITOR_METRICS", "0", 1), 0);  // loopback, any free port
    VDeviceParams params;
    params.group_id = test::unique_group("metrics");
    params.monitor_dir = folder.string();  // the monitor is on: CORUN_MONITOR_METRICS asks for it
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    auto model = test::load_test_model(*vdevice, "add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK(configured.set_scheduler_priority(20));
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<std::vector<uint8_t>> buffers;
    for (const auto& name : model->get_input_names()) {
        ASSERT_OK_AND_ASSIGN(auto stream, bindings.input(name));
        buffers.emplace_back(stream.get_frame_size());
        ASSERT_OK(stream.set_buffer(MemoryView(buffers.back().data(), buffers.back().size())));
    }
    for (const auto& name : model->get_output_names()) {
        ASSERT_OK_AND_ASSIGN(auto stream, bindings.output(name));
        buffers.emplace_back(stream.get_frame_size());
        ASSERT_OK(stream.set_buffer(MemoryView(buffers.back().data(), buffers.back().size())));
    }
    constexpr int FRAMES = 7;
    for (int i = 0; i < FRAMES; ++i) ASSERT_OK(configured.run(bindings, std::chrono::seconds(30)));

    const int port = runtime::monitor::metrics_port();
    ASSERT_GT(port, 0) << "the page is listening once the VDevice exists";
    const std::string answer = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer.substr(0, 200);
    EXPECT_TRUE(test::contains(answer, "Content-Type: text/plain; version=0.0.4")) << answer;
    const std::string labels = "group=\"" + params.group_id +
                               "\",model=\"add_one\",priority=\"20\"" + ",instance=\"" +
                               std::to_string(configured.scheduler_model_id()) + "\"";
    EXPECT_TRUE(test::contains(
        answer, "corun_scheduler_frames_total{" + labels + "} " + std::to_string(FRAMES) + "\n"))
        << answer;
    EXPECT_TRUE(test::contains(answer, "corun_scheduler_queued_frames{" + labels + "} 0\n"));
    EXPECT_TRUE(test::contains(answer, "corun_scheduler_max_overtaken_by{" + labels + "} 0\n"));
    EXPECT_TRUE(test::contains(answer, "# TYPE corun_scheduler_frames_total counter\n"));
    EXPECT_TRUE(
        test::contains(answer, "corun_scheduled_models{group=\"" + params.group_id + "\"} 1\n"));
    std::smatch busy;
    ASSERT_TRUE(std::regex_search(answer, busy,
                                  std::regex("corun_device_busy_seconds_total\\{group=\"" +
                                             params.group_id + "\"\\} ([0-9.e-]+)\n")));
    EXPECT_GT(std::stod(busy[1].str()), 0.0);

    // Two more frames: the next scrape counts them (a sample per request, not a stale one).
    for (int i = 0; i < 2; ++i) ASSERT_OK(configured.run(bindings, std::chrono::seconds(30)));
    EXPECT_TRUE(test::contains(
        http_exchange(port, "GET /metrics HTTP/1.0\r\n\r\n"),
        "corun_scheduler_frames_total{" + labels + "} " + std::to_string(FRAMES + 2) + "\n"));
    EXPECT_TRUE(http_exchange(port, "GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    EXPECT_TRUE(http_exchange(port, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    EXPECT_TRUE(http_exchange(port, "garbage").starts_with("HTTP/1.1 405"));
    ASSERT_OK(configured.shutdown());
    std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace corun
