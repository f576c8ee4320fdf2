// The lane ring (src/protocol/lane_ring.hpp) on its own, both sides in this process over one
// real shared-memory region: the client's LaneRingClient and corund's LaneRingServer with a
// stand-in for the session. Every job completes exactly once, with its own completion, whether
// the session answers at once or later from another thread; a malformed entry written raw gets
// its named error; a torn head closes the ring with the reason; a daemon gone or a connection
// closed fails what is in the ring, once; a full completion ring sends the rest to the stream.
// The real corund path is covered by service_client_test and service_protocol_test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/remote/lane_ring_client.hpp"
#include "runtime/remote/shared_memory_region.hpp"
#include "service/daemon/lane_ring_server.hpp"
#include "service/daemon/shared_memory_fault_guard.hpp"
#include "service/daemon/shared_memory_mapping.hpp"
#include "test_support.hpp"

namespace corun::service {
namespace {

using namespace std::chrono_literals;

// Polls `done` until it holds; whether it held within a bound that only a hang exceeds.
template <typename Predicate>
bool eventually(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

v1::Completion completion_of(uint64_t job_id, StatusCode code = StatusCode::SUCCESS) {
    v1::Completion completion;
    completion.set_job_id(job_id);
    completion.mutable_status()->set_code(static_cast<int32_t>(code));
    completion.mutable_status()->set_message("job " + std::to_string(job_id));
    completion.set_queue_ns(static_cast<int64_t>(job_id));
    return completion;
}

std::vector<FrameSlices> one_frame(uint64_t job_id) {
    return {FrameSlices{{{7, job_id * 64, 64}}, {{8, job_id * 32, 32}}}};
}

// Both ends of one lane region; the client's side is created by each test as it needs.
class LaneRingTest : public ::testing::Test {
protected:
    void SetUp() override {
        SharedMemoryFaultGuard::install();
        auto region = SharedMemoryRegion::create(FAST_LANE_BYTES);
        ASSERT_TRUE(region) << region.status();
        region_ = std::make_shared<SharedMemoryRegion>(std::move(*region));
        auto mapping = SharedMemoryMapping::open(region_->name(), FAST_LANE_BYTES);
        ASSERT_TRUE(mapping) << mapping.status();
        mapping_ = *mapping;
        region_->unlink();
    }

    LaneRing& ring() { return lane_ring_in(region_->data()); }

    // A server whose session accepts every request and completes it from `finisher_` later,
    // except requests of odd job ids, which it refuses at once.
    void start_server() {
        server_ = LaneRingServer::start(
            1, mapping_,
            [this](const v1::InferRequest& request) -> std::optional<v1::Completion> {
                {
                    std::lock_guard lock(mutex_);
                    requests_.push_back(request);
                }
                if (request.job_id() % 2 == 1) {
                    return completion_of(request.job_id(), StatusCode::QUEUE_IS_FULL);
                }
                {
                    std::lock_guard lock(mutex_);
                    to_finish_.push_back(request.job_id());
                }
                changed_.notify_all();
                return std::nullopt;
            },
            [this](const v1::Completion& completion) {
                std::lock_guard lock(mutex_);
                overflowed_.push_back(completion.job_id());
            });
        finisher_ = std::thread([this] {
            std::unique_lock lock(mutex_);
            while (true) {
                changed_.wait(lock, [&] { return stop_finisher_ || !to_finish_.empty(); });
                if (to_finish_.empty()) return;
                const uint64_t job = to_finish_.front();
                to_finish_.pop_front();
                lock.unlock();
                server_->complete(completion_of(job));
                lock.lock();
            }
        });
    }

    void TearDown() override {
        {
            std::lock_guard lock(mutex_);
            stop_finisher_ = true;
        }
        changed_.notify_all();
        if (finisher_.joinable()) finisher_.join();
        if (server_) server_->stop();
    }

    // Reads completions raw, as a client would, waiting (bounded) for `count` of them.
    std::vector<v1::Completion> raw_completions(size_t count) {
        std::vector<v1::Completion> taken;
        EXPECT_TRUE(eventually([&] {
            const uint32_t head = ring().completion_head.load(std::memory_order_acquire);
            while (raw_taken_ != head) {
                taken.push_back(
                    read_lane_ring_completion(ring().completions[raw_taken_ % LANE_RING_ENTRIES]));
                ring().completion_tail.store(++raw_taken_, std::memory_order_release);
            }
            return taken.size() >= count;
        })) << taken.size()
            << " of " << count;
        return taken;
    }

    // Writes `entry` raw at the next place and publishes it.
    void raw_submit(const LaneRingSubmission& entry) {
        ring().submissions[raw_submitted_ % LANE_RING_ENTRIES] = entry;
        ring().submission_head.store(++raw_submitted_, std::memory_order_seq_cst);
        ring_doorbell_if_sleeping(ring().daemon_doorbell, ring().daemon_sleeping);
    }

    LaneRingSubmission raw_entry(uint64_t job_id) {
        LaneRingSubmission entry{};
        entry.sequence = raw_submitted_;
        entry.frame_count = 1;
        entry.inputs_per_frame = 1;
        entry.outputs_per_frame = 1;
        entry.job_id = job_id;
        entry.model_id = 3;
        entry.references[0] = {7, 0, 64};
        entry.references[1] = {8, 0, 32};
        return entry;
    }

    std::shared_ptr<SharedMemoryRegion> region_;
    std::shared_ptr<SharedMemoryMapping> mapping_;
    std::unique_ptr<LaneRingServer> server_;
    std::thread finisher_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<v1::InferRequest> requests_;
    std::deque<uint64_t> to_finish_;
    std::vector<uint64_t> overflowed_;
    bool stop_finisher_ = false;
    uint32_t raw_taken_ = 0;
    uint32_t raw_submitted_ = 0;
};

TEST_F(LaneRingTest, EveryJobCompletesExactlyOnceWithItsOwnCompletion) {
    start_server();
    auto client = LaneRingClient::start(
        region_, [] { return false; }, "test.sock");
    constexpr uint64_t JOBS = 2000;
    std::vector<std::atomic<int>> completed(JOBS + 1);
    std::vector<std::atomic<int64_t>> queue_ns(JOBS + 1);
    std::atomic<uint64_t> failures{0};
    std::atomic<uint64_t> refused_for_room{0};
    auto submit_range = [&](uint64_t first, uint64_t step) {
        for (uint64_t job = first; job <= JOBS; job += step) {
            CompletionHandler handler = [&, job](JobCompletion done) {
                completed[job].fetch_add(1);
                queue_ns[job] = done.queue_ns;
                const StatusCode expected =
                    job % 2 == 1 ? StatusCode::QUEUE_IS_FULL : StatusCode::SUCCESS;
                // A refusal keeps its message (a success has none).
                if (done.status.code() != expected ||
                    (job % 2 == 1 && done.status.message() != "job " + std::to_string(job))) {
                    failures.fetch_add(1);
                }
            };
            // A full ring refuses at once (the stream would take the job); here: try again.
            while (!client->submit(job, 3, one_frame(job), handler)) {
                refused_for_room.fetch_add(1);
                std::this_thread::yield();
            }
        }
    };
    std::thread second(submit_range, 2, 2);
    submit_range(1, 2);
    second.join();
    EXPECT_TRUE(eventually([&] {
        for (uint64_t job = 1; job <= JOBS; ++job)
            if (completed[job].load() == 0) return false;
        return true;
    }));
    client->close();
    for (uint64_t job = 1; job <= JOBS; ++job) {
        ASSERT_EQ(completed[job].load(), 1) << "job " << job;
        ASSERT_EQ(queue_ns[job].load(), static_cast<int64_t>(job));
    }
    EXPECT_EQ(failures.load(), 0u);
    std::lock_guard lock(mutex_);
    ASSERT_EQ(requests_.size(), JOBS);
    EXPECT_TRUE(overflowed_.empty());
    // What the session got is what was sent, slices included.
    for (const auto& request : requests_) {
        ASSERT_EQ(request.frames_size(), 1);
        ASSERT_EQ(request.frames(0).inputs_size(), 1);
        EXPECT_EQ(request.frames(0).inputs(0).offset(), request.job_id() * 64);
        EXPECT_EQ(request.frames(0).outputs(0).size(), 32u);
        EXPECT_EQ(request.model_id(), 3u);
    }
}

TEST_F(LaneRingTest, ASeveralFrameJobKeepsEachFramesSlices) {
    start_server();
    auto client = LaneRingClient::start(
        region_, [] { return false; }, "test.sock");
    std::vector<FrameSlices> frames;
    for (uint64_t f = 0; f < 4; ++f) {
        frames.push_back({{{7, f * 100, 10}, {7, f * 100 + 10, 20}}, {{8, f * 8, 8}}});
    }
    std::atomic<int> done{0};
    CompletionHandler handler = [&](JobCompletion) { done.fetch_add(1); };
    ASSERT_TRUE(client->submit(2, 3, frames, handler));
    EXPECT_TRUE(eventually([&] { return done.load() == 1; }));
    // More references than an entry holds: refused at once, for the stream.
    std::vector<FrameSlices> too_many(LANE_RING_MAX_REFERENCES, frames.front());
    CompletionHandler unused = [&](JobCompletion) { done.fetch_add(100); };
    EXPECT_FALSE(client->submit(4, 3, too_many, unused));
    client->close();
    EXPECT_EQ(done.load(), 1);
    std::lock_guard lock(mutex_);
    ASSERT_EQ(requests_.size(), 1u);
    const v1::InferRequest& request = requests_.front();
    ASSERT_EQ(request.frames_size(), 4);
    for (int f = 0; f < 4; ++f) {
        ASSERT_EQ(request.frames(f).inputs_size(), 2);
        ASSERT_EQ(request.frames(f).outputs_size(), 1);
        EXPECT_EQ(request.frames(f).inputs(1).offset(), static_cast<uint64_t>(f * 100 + 10));
        EXPECT_EQ(request.frames(f).outputs(0).offset(), static_cast<uint64_t>(f * 8));
    }
}

TEST_F(LaneRingTest, MalformedEntriesGetTheirNamedErrorAndTheRingGoesOn) {
    start_server();
    LaneRingSubmission torn = raw_entry(10);
    torn.sequence += 5;  // written for another place, or not yet whole
    raw_submit(torn);
    LaneRingSubmission no_frames = raw_entry(12);
    no_frames.frame_count = 0;
    raw_submit(no_frames);
    LaneRingSubmission no_outputs = raw_entry(14);
    no_outputs.outputs_per_frame = 0;
    raw_submit(no_outputs);
    LaneRingSubmission too_many = raw_entry(16);
    too_many.frame_count = 0x80000000u;  // with 2 references each: 2^32, past any 32-bit count
    raw_submit(too_many);
    raw_submit(raw_entry(18));  // a good one after them
    const auto completions = raw_completions(5);
    ASSERT_EQ(completions.size(), 5u);
    std::map<uint64_t, v1::Completion> by_job;
    for (const auto& completion : completions) by_job[completion.job_id()] = completion;
    const auto invalid = static_cast<int32_t>(StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(by_job[10].status().code(), invalid);
    EXPECT_TRUE(test::contains(by_job[10].status().message(),
                               "carries sequence number 5 where "
                               "the ring's order gives 0"))
        << by_job[10].status().message();
    for (uint64_t job : {12, 14, 16}) {
        EXPECT_EQ(by_job[job].status().code(), invalid) << job;
        EXPECT_TRUE(test::contains(by_job[job].status().message(),
                                   "lane-ring entry of job " + std::to_string(job) + " has"))
            << by_job[job].status().message();
    }
    EXPECT_EQ(by_job[18].status().code(), static_cast<int32_t>(StatusCode::SUCCESS));
    std::lock_guard lock(mutex_);
    ASSERT_EQ(requests_.size(), 1u);  // only the good entry reached the session
    EXPECT_EQ(requests_.front().job_id(), 18u);
}

TEST_F(LaneRingTest, AHeadPastTheRingClosesItWithTheReasonAsJobZero) {
    start_server();
    auto client = LaneRingClient::start(
        region_, [] { return false; }, "test.sock");
    std::atomic<int> calls{0};
    Status seen;
    std::mutex seen_mutex;
    CompletionHandler handler = [&](JobCompletion done) {
        std::lock_guard lock(seen_mutex);
        seen = done.status;
        calls.fetch_add(1);
    };
    // A job the session holds (even id: completed later), then a head no client can write.
    {
        std::lock_guard lock(mutex_);
        stop_finisher_ = true;  // the held job is never finished by the session
    }
    changed_.notify_all();
    finisher_.join();
    ASSERT_TRUE(client->submit(2, 3, one_frame(2), handler));
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(mutex_);
        return requests_.size() == 1;
    }));
    ring().submission_head.store(1 + LANE_RING_ENTRIES + 7, std::memory_order_seq_cst);
    ring_doorbell_if_sleeping(ring().daemon_doorbell, ring().daemon_sleeping);
    EXPECT_TRUE(eventually([&] { return calls.load() == 1; }));
    {
        std::lock_guard lock(seen_mutex);
        EXPECT_EQ(seen.code(), StatusCode::INVALID_ARGUMENT) << seen;
        EXPECT_TRUE(test::contains(seen.message(), "corund stops reading this session's ring"))
            << seen;
    }
    // Closed to submissions; the held job's late completion is dropped, not run twice.
    CompletionHandler later = [&](JobCompletion) { calls.fetch_add(100); };
    EXPECT_FALSE(client->submit(4, 3, one_frame(4), later));
    server_->complete(completion_of(2));
    client->close();
    EXPECT_EQ(calls.load(), 1);
}

TEST_F(LaneRingTest, ADaemonGoneFailsEveryJobInTheRingOnce) {
    // No server: corund died with the jobs in the ring.
    std::atomic<bool> gone{false};
    auto client = LaneRingClient::start(
        region_, [&] { return gone.load(); }, "test.sock");
    std::atomic<int> calls{0};
    std::atomic<int> rpc_failed{0};
    for (uint64_t job = 1; job <= 10; ++job) {
        CompletionHandler handler = [&](JobCompletion done) {
            calls.fetch_add(1);
            if (done.status.code() == StatusCode::RPC_FAILED &&
                test::contains(done.status.message(), "went away") &&
                test::contains(done.status.message(), "[lane ring]")) {
                rpc_failed.fetch_add(1);
            }
        };
        ASSERT_TRUE(client->submit(job, 3, one_frame(job), handler));
    }
    EXPECT_TRUE(client->abandon(10));  // its owner completes it itself
    gone = true;
    EXPECT_TRUE(eventually([&] { return calls.load() == 9; }));
    CompletionHandler later = [&](JobCompletion) { calls.fetch_add(100); };
    EXPECT_FALSE(client->submit(11, 3, one_frame(11), later));
    client->close();
    EXPECT_EQ(calls.load(), 9);
    EXPECT_EQ(rpc_failed.load(), 9);
}

TEST_F(LaneRingTest, ClosingFailsWhatIsInTheRingOnce) {
    auto client = LaneRingClient::start(
        region_, [] { return false; }, "test.sock");
    std::atomic<int> calls{0};
    CompletionHandler handler = [&](JobCompletion done) {
        calls.fetch_add(1);
        EXPECT_EQ(done.status.code(), StatusCode::RPC_FAILED);
        EXPECT_TRUE(test::contains(done.status.message(), "was closed")) << done.status;
    };
    ASSERT_TRUE(client->submit(1, 3, one_frame(1), handler));
    client->close();
    EXPECT_EQ(calls.load(), 1);
}

TEST_F(LaneRingTest, ACompletionRingNobodyEmptiesSendsTheRestToTheStream) {
    start_server();
    for (uint64_t job = 1; job <= LANE_RING_ENTRIES + 3; ++job) {
        server_->complete(completion_of(job));
    }
    {
        std::lock_guard lock(mutex_);
        EXPECT_EQ(overflowed_, (std::vector<uint64_t>{LANE_RING_ENTRIES + 1, LANE_RING_ENTRIES + 2,
                                                      LANE_RING_ENTRIES + 3}));
    }
    const auto completions = raw_completions(LANE_RING_ENTRIES);
    ASSERT_EQ(completions.size(), LANE_RING_ENTRIES);
    for (uint32_t i = 0; i < LANE_RING_ENTRIES; ++i) EXPECT_EQ(completions[i].job_id(), i + 1u);
    // Room again: the next goes into the ring.
    server_->complete(completion_of(500));
    EXPECT_EQ(raw_completions(1).front().job_id(), 500u);
}

TEST_F(LaneRingTest, ACompletionTailWrittenFreelyCountsAsFull) {
    start_server();
    ring().completion_tail.store(12345, std::memory_order_release);
    server_->complete(completion_of(2));
    std::lock_guard lock(mutex_);
    EXPECT_EQ(overflowed_, std::vector<uint64_t>{2});
}

}  // namespace
}  // namespace corun::service
