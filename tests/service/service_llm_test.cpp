// genai::LLM through corund (issue 12, "Through corund"): the real corund on a private socket,
// the tiny qwen2 GGUF written at build time. The same text as in-process, text streamed while
// it is produced, abort, the per-client limits, and a client killed (kill -9) in the middle of a
// generation while another process runs a vision model on the same group: every frame of the
// vision model completes, and the LLM leaves corund's scheduler within 2 s.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "corun/genai/llm.hpp"
#include "corun_service.grpc.pb.h"
#include "corund_channel.hpp"
#include "corund_process.hpp"
#include "protocol/protocol_version.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using namespace std::chrono_literals;
using genai::LLM;
using genai::LLMGeneratorCompletion;
using genai::LLMParams;
namespace v1 = service::v1;

std::string tiny_llm() {
    return test_model("genai/tiny_qwen2.gguf");
}

LLMParams llm_params() {
    LLMParams params;
    params.threads = 1;  // the same arithmetic in both processes
    params.context_size = 512;
    return params;
}

genai::LLMGeneratorParams greedy(uint32_t tokens) {
    genai::LLMGeneratorParams params;
    params.max_generated_tokens = tokens;
    return params;
}

class ServiceLlmTest : public CorundTest {};

TEST_F(ServiceLlmTest, GreedyTextThroughCorundIsTheSameAsInProcess) {
    VDeviceParams local_params;
    local_params.group_id = unique_group("llm-local");
    ASSERT_OK_AND_ASSIGN(auto local_vdevice, VDevice::create(local_params));
    ASSERT_OK_AND_ASSIGN(auto local, LLM::create(*local_vdevice, tiny_llm(), llm_params()));
    ASSERT_OK_AND_ASSIGN(auto remote_vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto remote, LLM::create(*remote_vdevice, tiny_llm(), llm_params()));

    EXPECT_EQ(remote->max_context_capacity(), local->max_context_capacity());
    ASSERT_OK_AND_ASSIGN(auto local_tokens, local->tokenize("Hello, world"));
    ASSERT_OK_AND_ASSIGN(auto remote_tokens, remote->tokenize("Hello, world"));
    EXPECT_EQ(remote_tokens, local_tokens);

    // Two turns: the second continues the context of the first on both sides.
    for (const char* prompt : {"The quick brown fox", " and then"}) {
        ASSERT_OK_AND_ASSIGN(auto local_completion, local->generate(greedy(24), prompt));
        ASSERT_OK_AND_ASSIGN(auto local_text, local_completion.read_all());
        ASSERT_OK_AND_ASSIGN(auto remote_completion, remote->generate(greedy(24), prompt));
        ASSERT_OK_AND_ASSIGN(auto remote_text, remote_completion.read_all());
        EXPECT_FALSE(local_text.empty());
        EXPECT_EQ(remote_text, local_text) << "prompt '" << prompt << "'";
        EXPECT_EQ(remote_completion.generation_status(), local_completion.generation_status());
        EXPECT_EQ(remote_completion.timings().prompt_tokens,
                  local_completion.timings().prompt_tokens);
        EXPECT_EQ(remote_completion.timings().generated_tokens,
                  local_completion.timings().generated_tokens);
        EXPECT_EQ(remote->get_context_usage_size(), local->get_context_usage_size());
    }
    // A chat goes through the model's template in corund.
    std::vector<genai::ChatMessage> chat = {{"user", "Hi"}};
    ASSERT_OK_AND_ASSIGN(auto local_chat, local->generate(greedy(8), chat));
    ASSERT_OK_AND_ASSIGN(auto remote_chat, remote->generate(greedy(8), chat));
    ASSERT_OK_AND_ASSIGN(auto local_chat_text, local_chat.read_all());
    ASSERT_OK_AND_ASSIGN(auto remote_chat_text, remote_chat.read_all());
    EXPECT_EQ(remote_chat_text, local_chat_text);

    ASSERT_OK(remote->clear_context());
    EXPECT_EQ(remote->get_context_usage_size(), 0u);

    // The LLM is a model of the group's scheduler, under the id the LLM reports.
    bool listed = false;
    for (const auto& stats : remote_vdevice->get_scheduler_stats()) {
        if (stats.model_id != remote->scheduler_model_id()) continue;
        listed = true;
        EXPECT_EQ(stats.name, "tiny_qwen2");
        EXPECT_GT(stats.frames_done, 0u);  // its prefill chunks and decode steps
    }
    EXPECT_TRUE(listed);
    ASSERT_OK(remote->set_scheduler_priority(20));
    EXPECT_STATUS(remote->set_scheduler_priority(40), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(remote->set_scheduler_threshold(2), StatusCode::INVALID_ARGUMENT);
}

// `corun monitor` shows an LLM's tokens and context (issue 12, item 6): the tokens it generated
// since loading, exactly, and the context in use and its capacity, as the client sees them
// (tokens/s covers only the last second, so it is not asserted).
TEST_F(ServiceLlmTest, TheMonitorCountsAnLlmsTokensAndShowsItsContext) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto llm, LLM::create(*vdevice, tiny_llm(), llm_params()));
    uint32_t generated = 0;
    for (const char* prompt : {"The quick brown fox", " and then"}) {
        ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(12), prompt));
        ASSERT_OK(completion.read_all().status());
        generated += completion.timings().generated_tokens;
    }
    ASSERT_GT(generated, 0u);

    auto channel = corund_channel(daemon_->socket());
    ASSERT_NE(channel, nullptr);
    auto stub = v1::Corun::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::MonitorSnapshot snapshot;
    ASSERT_TRUE(stub->Monitor(&context, v1::MonitorRequest(), &snapshot).ok());
    const v1::MonitoredModel* shown = nullptr;
    for (const auto& model : snapshot.models()) {
        if (model.llm() && model.pid() == static_cast<uint32_t>(getpid())) shown = &model;
    }
    ASSERT_NE(shown, nullptr) << "the monitor does not list the LLM";
    EXPECT_EQ(shown->tokens_generated(), generated);
    EXPECT_EQ(shown->context_used(), llm->get_context_usage_size());
    EXPECT_EQ(shown->context_capacity(), llm->max_context_capacity());
}

TEST_F(ServiceLlmTest, TextStreamsWhileItIsProducedAndAbortStopsIt) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    LLMParams llm = llm_params();
    llm.context_size = 4096;
    ASSERT_OK_AND_ASSIGN(auto model, LLM::create(*vdevice, tiny_llm(), llm));
    // Until the context is full: thousands of decode steps, far longer than one read.
    ASSERT_OK_AND_ASSIGN(auto completion, model->generate(greedy(1u << 20), "Once upon a time"));
    ASSERT_OK_AND_ASSIGN(auto first, completion.read(30s));
    EXPECT_FALSE(first.empty());
    // Pieces keep coming before the generation ended.
    size_t pieces_while_generating = 0;
    for (int i = 0; i < 5; ++i) {
        ASSERT_OK_AND_ASSIGN(auto piece, completion.read(30s));
        EXPECT_FALSE(piece.empty());
        if (completion.generation_status() == LLMGeneratorCompletion::Status::GENERATING) {
            ++pieces_while_generating;
        }
    }
    EXPECT_GT(pieces_while_generating, 0u);

    ASSERT_OK(completion.abort());
    EXPECT_EQ(completion.generation_status(), LLMGeneratorCompletion::Status::ABORTED);
    EXPECT_STATUS(completion.read(1s), StatusCode::ABORTED);
    EXPECT_STATUS(completion.read_all(1s), StatusCode::ABORTED);

    // The LLM is free for the next generation, which continues the context.
    const size_t used = model->get_context_usage_size();
    EXPECT_GT(used, 0u);
    ASSERT_OK_AND_ASSIGN(auto next, model->generate(greedy(4), " The end"));
    ASSERT_OK_AND_ASSIGN(auto text, next.read_all());
    EXPECT_EQ(next.generation_status(), LLMGeneratorCompletion::Status::MAX_TOKENS_REACHED);
    EXPECT_GT(model->get_context_usage_size(), used);

    // Right after a generation was read to its end, or aborted, the context clears at once
    // (clear_context() waits for the generation's last call to corund); while one runs it is
    // refused, naming what to do.
    ASSERT_OK(model->clear_context());
    EXPECT_EQ(model->get_context_usage_size(), 0u);
    ASSERT_OK_AND_ASSIGN(auto running, model->generate(greedy(1u << 20), "Once upon a time"));
    ASSERT_OK_AND_ASSIGN(auto piece, running.read(30s));
    const Status busy = model->clear_context();
    EXPECT_EQ(busy.code(), StatusCode::INVALID_OPERATION) << busy;
    EXPECT_NE(busy.message().find("abort() it before clear_context()"), std::string::npos) << busy;
    ASSERT_OK(running.abort());
    ASSERT_OK(model->clear_context());
    EXPECT_EQ(model->get_context_usage_size(), 0u);

    // Errors of corund's side come back as in-process.
    EXPECT_STATUS(model->generate(greedy(4), ""), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(LLM::create(*vdevice, "/nonexistent/model.gguf", llm), StatusCode::NOT_FOUND);
}

TEST_F(ServiceLlmTest, CorundDyingMidGenerationEndsTheReadsWithRpcFailed) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    LLMParams llm = llm_params();
    llm.context_size = 4096;
    ASSERT_OK_AND_ASSIGN(auto model, LLM::create(*vdevice, tiny_llm(), llm));
    ASSERT_OK_AND_ASSIGN(auto completion, model->generate(greedy(1u << 20), "Once upon a time"));
    ASSERT_OK(completion.read(30s).status());
    daemon_->kill_now();
    // What arrived before is still read; then the cause, never a hang (each read is bounded,
    // and a context of 4096 tokens bounds their number).
    Status last;
    for (int i = 0; i < 5000 && last.is_ok(); ++i) last = completion.read(10s).status();
    EXPECT_EQ(last.code(), StatusCode::RPC_FAILED) << last;
    EXPECT_EQ(completion.generation_status(), LLMGeneratorCompletion::Status::ABORTED);
    EXPECT_STATUS(model->generate(greedy(4), "again"), StatusCode::RPC_FAILED);
    model.reset();  // returns: nothing waits for the gone daemon
}

// abort() of a generation whose corund was killed (kill -9, for real): it returns RPC_FAILED
// naming corund's socket, whether the stream's reader saw the daemon go first or abort() asked
// the dead daemon; the generation is then ABORTED and read() says why. Never a hang: every call
// returns (ctest's timeout would catch one that does not).
TEST_F(ServiceLlmTest, AbortAfterCorundWasKilledReturnsRpcFailedNamingTheSocket) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    LLMParams llm = llm_params();
    llm.context_size = 4096;
    ASSERT_OK_AND_ASSIGN(auto model, LLM::create(*vdevice, tiny_llm(), llm));
    ASSERT_OK_AND_ASSIGN(auto completion, model->generate(greedy(1u << 20), "Once upon a time"));
    ASSERT_OK(completion.read(30s).status());
    ASSERT_EQ(completion.generation_status(), LLMGeneratorCompletion::Status::GENERATING);
    daemon_->kill_now();
    const Status aborted = completion.abort();
    EXPECT_EQ(aborted.code(), StatusCode::RPC_FAILED) << aborted;
    EXPECT_TRUE(test::contains(aborted.message(), daemon_->socket())) << aborted;
    EXPECT_EQ(completion.generation_status(), LLMGeneratorCompletion::Status::ABORTED);
    // What was produced before may still be read; then the same cause.
    Status last;
    for (int i = 0; i < 5000 && last.is_ok(); ++i) last = completion.read(10s).status();
    EXPECT_EQ(last.code(), StatusCode::RPC_FAILED) << last;
    // A second abort() says the same at once.
    EXPECT_EQ(completion.abort().code(), StatusCode::RPC_FAILED);
    model.reset();  // returns: nothing waits for the gone daemon
}

TEST_F(ServiceLlmTest, AFileThatIsNotGgufIsRefusedNamingTheClientsFile) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    const std::string path = ::testing::TempDir() + "/not_a_model.gguf";
    std::ofstream(path) << std::string(4096, 'x');
    auto refused = LLM::create(*vdevice, path, llm_params());
    EXPECT_STATUS(refused, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(refused.status().message(), "not_a_model")) << refused.status();
    EXPECT_FALSE(contains(refused.status().message(), "/proc/self/fd")) << refused.status();
    std::remove(path.c_str());
}

// A client speaking the raw protocol: every malformed LLM call is refused with a reason, and
// corund goes on serving.
class ServiceLlmProtocolTest : public CorundTest {
protected:
    void SetUp() override {
        CorundTest::SetUp();
        channel_ = corund_channel(daemon_->socket());
        ASSERT_NE(channel_, nullptr);
        stub_ = v1::Corun::NewStub(channel_);
        grpc::ClientContext context;
        bound(context);
        v1::HelloRequest hello;
        hello.set_protocol_version(service::PROTOCOL_VERSION);
        hello.set_process_name("service_llm_test");
        hello.mutable_params()->set_group_id(unique_group("llm-protocol"));
        v1::HelloReply reply;
        ASSERT_TRUE(stub_->Hello(&context, hello, &reply).ok());
        ASSERT_EQ(reply.status().code(), 0) << reply.status().message();
        session_ = reply.session_id();
    }

    static void bound(grpc::ClientContext& context) {
        context.set_deadline(std::chrono::system_clock::now() + 60s);
    }

    // LoadLlm with these chunks; the reply's status.
    v1::LoadLlmReply load(const std::vector<v1::LoadLlmChunk>& chunks) {
        grpc::ClientContext context;
        bound(context);
        v1::LoadLlmReply reply;
        auto writer = stub_->LoadLlm(&context, &reply);
        for (const auto& chunk : chunks) {
            if (!writer->Write(chunk)) break;
        }
        writer->WritesDone();
        EXPECT_TRUE(writer->Finish().ok());
        return reply;
    }
    v1::LoadLlmChunk first_chunk(uint64_t total, std::string data) const {
        v1::LoadLlmChunk chunk;
        chunk.set_session_id(session_);
        chunk.set_name("raw");
        chunk.mutable_params()->set_threads(1);
        chunk.mutable_params()->set_prefill_chunk_tokens(64);
        chunk.mutable_params()->set_context_size(256);
        chunk.set_total_bytes(total);
        chunk.set_data(std::move(data));
        return chunk;
    }

    // Generate: every event until the stream ends.
    std::vector<v1::GenerateEvent> generate(const v1::GenerateRequest& request) {
        grpc::ClientContext context;
        bound(context);
        auto reader = stub_->Generate(&context, request);
        std::vector<v1::GenerateEvent> events;
        v1::GenerateEvent event;
        while (reader->Read(&event)) events.push_back(event);
        EXPECT_TRUE(reader->Finish().ok());
        return events;
    }
    v1::GenerateRequest generate_request(uint64_t llm_id) const {
        v1::GenerateRequest request;
        request.set_session_id(session_);
        request.set_llm_id(llm_id);
        request.set_prompt("Hello");
        request.set_max_generated_tokens(4);
        request.set_top_p(1.0f);
        return request;
    }
    static StatusCode refusal(const std::vector<v1::GenerateEvent>& events) {
        if (events.size() != 1 || !events[0].has_ended()) return StatusCode::SUCCESS;
        return static_cast<StatusCode>(events[0].ended().status().code());
    }

    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Corun::Stub> stub_;
    uint64_t session_ = 0;
};

TEST_F(ServiceLlmProtocolTest, MalformedLlmCallsAreRefusedAndTheDaemonGoesOn) {
    auto code = [](const v1::Status& status) { return static_cast<StatusCode>(status.code()); };
    EXPECT_EQ(code(load({}).status()), StatusCode::INVALID_ARGUMENT);  // no chunk at all
    EXPECT_EQ(code(load({first_chunk(10, std::string(20, 'x'))}).status()),
              StatusCode::INVALID_ARGUMENT);  // more bytes than announced
    EXPECT_EQ(code(load({first_chunk(100, std::string(10, 'x'))}).status()),
              StatusCode::INVALID_ARGUMENT);  // fewer
    v1::LoadLlmChunk stranger = first_chunk(10, std::string(10, 'x'));
    stranger.set_session_id(session_ + 1);
    EXPECT_EQ(code(load({stranger}).status()), StatusCode::NOT_FOUND);
    EXPECT_EQ(refusal(generate(generate_request(999))), StatusCode::NOT_FOUND);

    // The real file, in two chunks.
    const std::vector<uint8_t> bytes = read_bytes(tiny_llm());
    const size_t half = bytes.size() / 2;
    v1::LoadLlmChunk second;
    second.set_data(std::string(bytes.begin() + static_cast<std::ptrdiff_t>(half), bytes.end()));
    const v1::LoadLlmReply loaded =
        load({first_chunk(bytes.size(), std::string(bytes.begin(), bytes.begin() + half)), second});
    ASSERT_EQ(code(loaded.status()), StatusCode::SUCCESS) << loaded.status().message();
    EXPECT_EQ(loaded.context_capacity(), 256u);
    const uint64_t llm = loaded.llm_id();

    v1::GenerateRequest no_tokens = generate_request(llm);
    no_tokens.set_max_generated_tokens(0);
    EXPECT_EQ(refusal(generate(no_tokens)), StatusCode::INVALID_ARGUMENT);
    v1::GenerateRequest bad_top_p = generate_request(llm);
    bad_top_p.set_top_p(2.0f);
    EXPECT_EQ(refusal(generate(bad_top_p)), StatusCode::INVALID_ARGUMENT);
    v1::GenerateRequest nan_temperature = generate_request(llm);
    nan_temperature.set_temperature(std::nanf(""));
    EXPECT_EQ(refusal(generate(nan_temperature)), StatusCode::INVALID_ARGUMENT);
    v1::GenerateRequest many_stops = generate_request(llm);
    for (int i = 0; i < 65; ++i) many_stops.add_stop_sequences("stop");
    EXPECT_EQ(refusal(generate(many_stops)), StatusCode::INVALID_ARGUMENT);
    v1::GenerateRequest huge_prompt = generate_request(llm);
    huge_prompt.set_prompt(std::string((size_t{4} << 20) + 1, 'a'));
    EXPECT_EQ(refusal(generate(huge_prompt)), StatusCode::INVALID_ARGUMENT);

    {
        grpc::ClientContext context;
        bound(context);
        v1::SetLlmSchedulingRequest request;
        request.set_session_id(session_);
        request.set_llm_id(llm);
        request.set_priority(16 + 256);  // would wrap to 16 as a byte
        v1::Reply reply;
        ASSERT_TRUE(stub_->SetLlmScheduling(&context, request, &reply).ok());
        EXPECT_EQ(code(reply.status()), StatusCode::INVALID_ARGUMENT);
    }
    {
        grpc::ClientContext context;
        bound(context);
        v1::SetLlmSchedulingRequest request;  // no setting
        request.set_session_id(session_);
        request.set_llm_id(llm);
        v1::Reply reply;
        ASSERT_TRUE(stub_->SetLlmScheduling(&context, request, &reply).ok());
        EXPECT_EQ(code(reply.status()), StatusCode::INVALID_ARGUMENT);
    }

    // After all that, a generation runs: started, text, ended.
    const auto events = generate(generate_request(llm));
    ASSERT_GE(events.size(), 2u);
    EXPECT_TRUE(events.front().has_started());
    ASSERT_TRUE(events.back().has_ended());
    EXPECT_EQ(code(events.back().ended().status()), StatusCode::SUCCESS);
    EXPECT_EQ(events.back().ended().generated_tokens(), 4u);

    for (StatusCode expected : {StatusCode::SUCCESS, StatusCode::NOT_FOUND}) {
        grpc::ClientContext context;
        bound(context);
        v1::LlmRequest request;
        request.set_session_id(session_);
        request.set_llm_id(llm);
        v1::Reply reply;
        ASSERT_TRUE(stub_->UnloadLlm(&context, request, &reply).ok());
        EXPECT_EQ(code(reply.status()), expected);
    }
}

class ServiceLlmLimitsTest : public CorundTest {
protected:
    std::vector<std::string> daemon_args() const override {
        return {"--max-llms-per-client",    "1",   "--max-gguf-bytes", "12M",
                "--max-llm-context-tokens", "1024"};
    }
};

TEST_F(ServiceLlmLimitsTest, LimitsAreRefusedNamingTheirSetting) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_LE(std::filesystem::file_size(tiny_llm()), uint64_t{12} << 20);
    {
        ASSERT_OK_AND_ASSIGN(auto first, LLM::create(*vdevice, tiny_llm(), llm_params()));
        auto second = LLM::create(*vdevice, tiny_llm(), llm_params());
        EXPECT_STATUS(second, StatusCode::RESOURCE_LIMIT);
        EXPECT_TRUE(contains(second.status().message(), "max_llms_per_client")) << second.status();
        EXPECT_TRUE(contains(second.status().message(), "--max-llms-per-client"));
    }
    // Unloaded (the LLM destroyed): room for another.
    ASSERT_OK_AND_ASSIGN(auto again, LLM::create(*vdevice, tiny_llm(), llm_params()));
    again.reset();

    // A file over max_gguf_bytes is refused from its size, before its bytes are sent.
    const std::string big = ::testing::TempDir() + "/too_big.gguf";
    {
        std::ofstream file(big, std::ios::binary);
        file << std::string((size_t{12} << 20) + 1, '\0');
    }
    auto too_big = LLM::create(*vdevice, big, llm_params());
    EXPECT_STATUS(too_big, StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(too_big.status().message(), "max_gguf_bytes")) << too_big.status();
    std::remove(big.c_str());

    LLMParams large_context = llm_params();
    large_context.context_size = 2048;
    auto too_long = LLM::create(*vdevice, tiny_llm(), large_context);
    EXPECT_STATUS(too_long, StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(too_long.status().message(), "max_llm_context_tokens"))
        << too_long.status();
}

// What corund's Monitor says of one group: the models its scheduler holds, and whether it lists
// an LLM of process `pid`.
struct GroupView {
    bool answered = false;
    uint32_t scheduled_models = 0;
    bool lists_llm_of_pid = false;
};

GroupView view_group(service::v1::Corun::Stub& stub, const std::string& group, pid_t pid) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    service::v1::MonitorSnapshot snapshot;
    GroupView view;
    if (!stub.Monitor(&context, service::v1::MonitorRequest(), &snapshot).ok()) return view;
    view.answered = true;
    for (const auto& device : snapshot.devices()) {
        if (device.group_id() == group) view.scheduled_models = device.scheduled_models();
    }
    for (const auto& model : snapshot.models()) {
        if (model.llm() && model.pid() == static_cast<uint32_t>(pid)) view.lists_llm_of_pid = true;
    }
    return view;
}

// The helper client (llm_generate_client) with its stdout on a pipe.
struct LlmClientProcess {
    pid_t pid = -1;
    int output = -1;

    bool start(const std::string& socket, const std::string& group) {
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        std::vector<std::string> args = {CORUN_LLM_CLIENT_PATH, socket, group, tiny_llm()};
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        const int spawned =
            posix_spawn(&pid, CORUN_LLM_CLIENT_PATH, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(pipe_fds[1]);
        output = pipe_fds[0];
        if (spawned != 0) pid = -1;
        return spawned == 0;
    }
    // Waits (bounded) for the line the client prints once text came back.
    bool wait_generating(std::chrono::seconds limit) {
        std::string seen;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        fcntl(output, F_SETFL, O_NONBLOCK);
        while (std::chrono::steady_clock::now() < deadline) {
            char buffer[256];
            const ssize_t count = read(output, buffer, sizeof(buffer));
            if (count > 0) seen.append(buffer, static_cast<size_t>(count));
            if (seen.find("generating\n") != std::string::npos) return true;
            if (count == 0) return false;  // it exited
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    void kill_now() {
        if (pid <= 0) return;
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        pid = -1;
    }
    ~LlmClientProcess() {
        kill_now();
        if (output >= 0) close(output);
    }
};

TEST_F(ServiceLlmTest, AClientKilledMidGenerationFreesItsLlmAndTheVisionClientLosesNoFrame) {
    const VDeviceParams shared = params();
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(shared));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("slow_matmul.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(512, 0.5f);
    std::vector<float> output(512);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));

    auto channel = corund_channel(daemon_->socket());
    ASSERT_NE(channel, nullptr);
    auto monitor = service::v1::Corun::NewStub(channel);

    LlmClientProcess client;
    ASSERT_TRUE(client.start(daemon_->socket(), shared.group_id));
    ASSERT_TRUE(client.wait_generating(60s)) << "the LLM client did not start generating";
    const pid_t client_pid = client.pid;
    GroupView before = view_group(*monitor, shared.group_id, client_pid);
    ASSERT_TRUE(before.answered);
    EXPECT_TRUE(before.lists_llm_of_pid);
    EXPECT_EQ(before.scheduled_models, 2u);  // the vision model and the LLM, one scheduler

    // The vision client runs frames from before the kill to after the cleanup.
    std::atomic<bool> stop{false};
    std::atomic<size_t> frames_run{0};
    std::atomic<size_t> frames_ok{0};
    std::atomic<size_t> frames_before_kill{0};
    std::thread vision([&] {
        while (!stop) {
            ++frames_run;
            if (configured.run(bindings, 30s).is_ok()) ++frames_ok;
        }
    });
    while (frames_run < 5) std::this_thread::sleep_for(1ms);
    frames_before_kill = frames_ok.load();

    const auto killed = std::chrono::steady_clock::now();
    client.kill_now();  // kill -9 in the middle of its generation (and reap it)
    // corund notices (the stream breaks) and frees the LLM. The poll is bounded by WAIT_LIMIT,
    // not by a figure: how soon is recorded (llm_freed_after_kill_ms), a loaded machine is slow.
    GroupView after;
    while (std::chrono::steady_clock::now() - killed < WAIT_LIMIT) {
        after = view_group(*monitor, shared.group_id, client_pid);
        if (after.answered && after.scheduled_models == 1 && !after.lists_llm_of_pid) break;
        std::this_thread::sleep_for(10ms);
    }
    const auto freed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - killed)
                              .count();
    EXPECT_EQ(after.scheduled_models, 1u) << "the LLM is still in corund's scheduler";
    EXPECT_FALSE(after.lists_llm_of_pid);
    RecordProperty("llm_freed_after_kill_ms", static_cast<int>(freed_ms));
    std::printf("the killed client's LLM left corund's scheduler after %lld ms\n",
                static_cast<long long>(freed_ms));

    const size_t target = frames_run + 5;
    while (frames_run < target) std::this_thread::sleep_for(1ms);
    stop = true;
    vision.join();
    EXPECT_GT(frames_before_kill.load(), 0u);
    EXPECT_EQ(frames_ok.load(), frames_run.load()) << "a vision frame failed";
}

}  // namespace
}  // namespace corun::test
