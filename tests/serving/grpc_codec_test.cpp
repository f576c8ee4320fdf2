// The gRPC wire format (KServe v2 ModelInferRequest/Response) decoded and encoded exactly:
// typed contents of every datatype, raw_input_contents, system shared memory read and written
// in bounds, and every malformed request refused with INVALID_ARGUMENT naming the cause.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "serving/grpc_codec.hpp"
#include "test_support.hpp"

namespace corun::serving {
namespace {

template <typename T>
std::vector<uint8_t> bytes_of(std::vector<T> values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

inference::ModelInferRequest::InferInputTensor* add_input(inference::ModelInferRequest& request,
                                                          const std::string& name,
                                                          const std::string& datatype,
                                                          std::vector<int64_t> shape) {
    auto* input = request.add_inputs();
    input->set_name(name);
    input->set_datatype(datatype);
    for (int64_t dim : shape) input->add_shape(dim);
    return input;
}

std::string refusal(const inference::ModelInferRequest& request,
                    const SharedMemoryRegions& regions = SharedMemoryRegions()) {
    auto decoded = decode_grpc_infer_request(request, regions);
    EXPECT_FALSE(decoded.has_value());
    if (decoded) return "";
    EXPECT_EQ(decoded.status().code(), StatusCode::INVALID_ARGUMENT);
    return decoded.status().message();
}

TEST(GrpcCodecTest, DecodesTypedContentsOfEveryDatatype) {
    inference::ModelInferRequest request;
    request.set_model_name("m");
    request.set_id("r1");
    (*request.mutable_parameters())["priority"].set_int64_param(2);
    (*request.mutable_parameters())["timeout"].set_uint64_param(1500);
    auto* f = add_input(request, "f", "FP32", {2});
    f->mutable_contents()->add_fp32_contents(1.5f);
    f->mutable_contents()->add_fp32_contents(-2.0f);
    auto* b = add_input(request, "b", "BOOL", {2});
    b->mutable_contents()->add_bool_contents(true);
    b->mutable_contents()->add_bool_contents(false);
    auto* i = add_input(request, "i", "INT16", {1});
    i->mutable_contents()->add_int_contents(-300);
    auto* u = add_input(request, "u", "UINT8", {1});
    u->mutable_contents()->add_uint_contents(255);
    auto* l = add_input(request, "l", "INT64", {1});
    l->mutable_contents()->add_int64_contents(int64_t{1} << 40);
    auto* s = add_input(request, "s", "BYTES", {2});
    s->mutable_contents()->add_bytes_contents("ab");
    s->mutable_contents()->add_bytes_contents("");
    request.add_outputs()->set_name("o");

    auto decoded = decode_grpc_infer_request(request, SharedMemoryRegions());
    ASSERT_OK(decoded);
    const InferRequest& decoded_request = decoded->request;
    EXPECT_EQ(decoded_request.model_name, "m");
    EXPECT_EQ(decoded_request.id, "r1");
    EXPECT_EQ(decoded_request.priority, std::optional<uint64_t>(2));
    EXPECT_EQ(decoded_request.timeout_us, std::optional<uint64_t>(1500));
    ASSERT_EQ(decoded_request.inputs.size(), 6u);
    EXPECT_EQ(decoded_request.inputs[0].data, bytes_of<float>({1.5f, -2.0f}));
    EXPECT_EQ(decoded_request.inputs[0].type, FormatType::FLOAT32);
    EXPECT_EQ(decoded_request.inputs[1].data, (std::vector<uint8_t>{1, 0}));
    EXPECT_EQ(decoded_request.inputs[2].data, bytes_of<int16_t>({-300}));
    EXPECT_EQ(decoded_request.inputs[3].data, (std::vector<uint8_t>{255}));
    EXPECT_EQ(decoded_request.inputs[4].data, bytes_of<int64_t>({int64_t{1} << 40}));
    EXPECT_EQ(decoded_request.inputs[5].data,
              (std::vector<uint8_t>{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}));
    ASSERT_EQ(decoded_request.outputs.size(), 1u);
    EXPECT_EQ(decoded_request.outputs[0].name, "o");
}

TEST(GrpcCodecTest, DecodesRawInputContentsInOrder) {
    inference::ModelInferRequest request;
    add_input(request, "a", "FP32", {2});
    add_input(request, "h", "FP16", {1});
    const auto a = bytes_of<float>({3.0f, 4.0f});
    request.add_raw_input_contents(std::string(a.begin(), a.end()));
    request.add_raw_input_contents(std::string("\x00\x3c", 2));
    auto decoded = decode_grpc_infer_request(request, SharedMemoryRegions());
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded->request.inputs[0].data, a);
    EXPECT_EQ(decoded->request.inputs[1].data, (std::vector<uint8_t>{0x00, 0x3c}));
}

TEST(GrpcCodecTest, RefusesMalformedRequestsNamingTheCause) {
    inference::ModelInferRequest unknown_type;
    add_input(unknown_type, "x", "FP99", {1});
    EXPECT_NE(refusal(unknown_type).find("datatype 'FP99'"), std::string::npos);

    inference::ModelInferRequest wrong_count;
    add_input(wrong_count, "x", "FP32", {3})->mutable_contents()->add_fp32_contents(1);
    EXPECT_NE(refusal(wrong_count).find("holds 3 elements, fp32_contents has 1"),
              std::string::npos);

    inference::ModelInferRequest wrong_field;
    add_input(wrong_field, "x", "FP32", {1})->mutable_contents()->add_int_contents(1);
    EXPECT_NE(refusal(wrong_field).find("go in fp32_contents alone"), std::string::npos);

    inference::ModelInferRequest out_of_range;
    add_input(out_of_range, "x", "UINT8", {1})->mutable_contents()->add_uint_contents(256);
    EXPECT_NE(refusal(out_of_range).find("256 in uint_contents is out of the datatype's range"),
              std::string::npos);

    inference::ModelInferRequest half_contents;
    add_input(half_contents, "x", "FP16", {1})->mutable_contents()->add_fp32_contents(1);
    EXPECT_NE(refusal(half_contents).find("send it in raw_input_contents"), std::string::npos);

    inference::ModelInferRequest raw_size;
    add_input(raw_size, "x", "FP32", {2});
    raw_size.add_raw_input_contents("abc");
    EXPECT_NE(refusal(raw_size).find("takes 8 bytes, 3 were given"), std::string::npos);

    inference::ModelInferRequest extra_raw;
    add_input(extra_raw, "x", "UINT8", {1});
    extra_raw.add_raw_input_contents("a");
    extra_raw.add_raw_input_contents("b");
    EXPECT_NE(refusal(extra_raw).find("2 raw_input_contents entries for 1 inputs"),
              std::string::npos);

    inference::ModelInferRequest bad_bytes;
    add_input(bad_bytes, "s", "BYTES", {1});
    bad_bytes.add_raw_input_contents(std::string("\x09\x00\x00\x00x", 5));
    EXPECT_NE(refusal(bad_bytes).find("does not hold exactly 1 elements"), std::string::npos);

    inference::ModelInferRequest twice;
    add_input(twice, "x", "UINT8", {1})->mutable_contents()->add_uint_contents(1);
    add_input(twice, "x", "UINT8", {1})->mutable_contents()->add_uint_contents(1);
    EXPECT_NE(refusal(twice).find("is given twice"), std::string::npos);

    inference::ModelInferRequest overflow;
    add_input(overflow, "x", "FP32", {int64_t{1} << 40, int64_t{1} << 40});
    EXPECT_NE(refusal(overflow).find("overflows"), std::string::npos);

    inference::ModelInferRequest bad_priority;
    (*bad_priority.mutable_parameters())["priority"].set_int64_param(-1);
    EXPECT_NE(refusal(bad_priority).find("'priority' must be a non-negative"), std::string::npos);

    inference::ModelInferRequest no_region;
    auto* input = add_input(no_region, "x", "UINT8", {1});
    (*input->mutable_parameters())["shared_memory_region"].set_string_param("r");
    (*input->mutable_parameters())["shared_memory_byte_size"].set_int64_param(1);
    EXPECT_NE(refusal(no_region).find("region 'r' is not registered"), std::string::npos);
}

// A real POSIX shared-memory object, removed when the test ends.
class ShmObject {
public:
    explicit ShmObject(size_t size) : key_("/corun_grpc_codec_test_" + std::to_string(getpid())) {
        const int fd = shm_open(key_.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
        data_ =
            static_cast<uint8_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        size_ = size;
        close(fd);
    }
    ~ShmObject() {
        munmap(data_, size_);
        shm_unlink(key_.c_str());
    }
    const std::string& key() const { return key_; }
    uint8_t* data() { return data_; }

private:
    std::string key_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

void place_in(google::protobuf::Map<std::string, inference::InferParameter>& parameters,
              int64_t offset, int64_t size) {
    parameters["shared_memory_region"].set_string_param("r");
    parameters["shared_memory_offset"].set_int64_param(offset);
    parameters["shared_memory_byte_size"].set_int64_param(size);
}

TEST(GrpcCodecTest, ReadsAndWritesSystemSharedMemoryInBounds) {
    ShmObject object(8192);
    SharedMemoryRegions regions;
    // The region: bytes [5000, 5000 + 64) of the object (an offset not on a page boundary).
    ASSERT_OK(regions.register_region({"r", object.key(), 5000, 64}));
    const auto input_bytes = bytes_of<float>({1.0f, 2.0f});
    std::memcpy(object.data() + 5000 + 8, input_bytes.data(), input_bytes.size());

    inference::ModelInferRequest request;
    place_in(*add_input(request, "x", "FP32", {2})->mutable_parameters(), 8, 8);
    auto* output = request.add_outputs();
    output->set_name("y");
    place_in(*output->mutable_parameters(), 32, 16);
    auto decoded = decode_grpc_infer_request(request, regions);
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded->request.inputs[0].data, input_bytes);
    ASSERT_EQ(decoded->shared_memory_outputs.size(), 1u);

    InferResponse response;
    response.outputs.push_back({"y", FormatType::FLOAT32, {2}, bytes_of<float>({5.0f, 6.0f})});
    inference::ModelInferResponse message;
    ASSERT_OK(encode_grpc_infer_response(response, decoded->shared_memory_outputs, message));
    EXPECT_EQ(message.raw_output_contents(0), "");
    EXPECT_EQ(message.outputs(0).parameters().at("shared_memory_region").string_param(), "r");
    EXPECT_EQ(message.parameters().count("placement"), 0u);  // not routed
    response.placement = "cpu";  // a routed model's response names the placement
    inference::ModelInferResponse routed;
    ASSERT_OK(encode_grpc_infer_response(response, {}, routed));
    EXPECT_EQ(routed.parameters().at("placement").string_param(), "cpu");
    response.placement.clear();
    EXPECT_EQ(std::vector<uint8_t>(object.data() + 5000 + 32, object.data() + 5000 + 40),
              bytes_of<float>({5.0f, 6.0f}));

    // Out of the region's 64 bytes: refused before anything runs.
    inference::ModelInferRequest outside;
    place_in(*add_input(outside, "x", "FP32", {2})->mutable_parameters(), 60, 8);
    EXPECT_NE(refusal(outside, regions).find("bytes [60, 60 + 8) lie outside the region"),
              std::string::npos);
    // An output larger than its place.
    response.outputs[0].data.resize(32);
    inference::ModelInferResponse too_small;
    const Status status =
        encode_grpc_infer_response(response, decoded->shared_memory_outputs, too_small);
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.message().find("its shared_memory_byte_size is 16"), std::string::npos);

    EXPECT_EQ(regions.register_region({"r", object.key(), 0, 8}).code(),
              StatusCode::INVALID_ARGUMENT);  // the name is taken
    EXPECT_EQ(regions.register_region({"big", object.key(), 8000, 1000}).code(),
              StatusCode::INVALID_ARGUMENT);  // past the object's end
    EXPECT_EQ(regions.register_region({"none", "/corun_no_such_object", 0, 8}).code(),
              StatusCode::NOT_FOUND);
    ASSERT_OK(regions.unregister_region("r"));
    EXPECT_EQ(regions.unregister_region("r").code(), StatusCode::NOT_FOUND);
    // The decoded request still holds the mapping: writing through it stays valid.
    EXPECT_OK(decoded->shared_memory_outputs[0].region->bytes(0, 64).status());
}

}  // namespace
}  // namespace corun::serving
