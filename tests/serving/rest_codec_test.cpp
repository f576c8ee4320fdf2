// The REST wire format (KServe v2 JSON + binary-data extension) decoded and encoded exactly,
// and every malformed request refused with INVALID_ARGUMENT naming the cause.
#include <cstring>

#include <nlohmann/json.hpp>

#include "serving/rest_codec.hpp"
#include "test_support.hpp"

namespace corun::serving {
namespace {

std::vector<uint8_t> float_bytes(std::vector<float> values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

TEST(RestCodecTest, DecodesJsonTensorsOfEveryDatatype) {
    const std::string body = R"({"id":"r1","parameters":{"priority":2,"timeout":1500},
        "inputs":[
         {"name":"f","datatype":"FP32","shape":[2,2],"data":[[1.5,-2],[3,4.25]]},
         {"name":"b","datatype":"BOOL","shape":[3],"data":[true,false,true]},
         {"name":"i","datatype":"INT64","shape":[2],"data":[-5,9007199254740993]},
         {"name":"u","datatype":"UINT8","shape":[2],"data":[0,255]},
         {"name":"h","datatype":"FP16","shape":[1],"data":[1.0]},
         {"name":"s","datatype":"BYTES","shape":[2],"data":["ab",""]}],
        "outputs":[{"name":"o","parameters":{"binary_data":true}},{"name":"p"}]})";
    auto request = decode_rest_infer_request(body, std::nullopt);
    ASSERT_OK(request);
    EXPECT_EQ(request->id, "r1");
    EXPECT_EQ(request->priority, 2u);
    EXPECT_EQ(request->timeout_us, 1500u);
    ASSERT_EQ(request->inputs.size(), 6u);
    EXPECT_EQ(request->inputs[0].type, FormatType::FLOAT32);
    EXPECT_EQ(request->inputs[0].shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(request->inputs[0].data, float_bytes({1.5f, -2.f, 3.f, 4.25f}));
    EXPECT_EQ(request->inputs[1].data, (std::vector<uint8_t>{1, 0, 1}));
    int64_t big = 0;
    std::memcpy(&big, request->inputs[2].data.data() + 8, 8);
    EXPECT_EQ(big, 9007199254740993);  // exact beyond a double's 53 bits
    EXPECT_EQ(request->inputs[3].data, (std::vector<uint8_t>{0, 255}));
    EXPECT_EQ(request->inputs[4].data, (std::vector<uint8_t>{0x00, 0x3c}));  // 1.0 in half
    EXPECT_EQ(request->inputs[5].data, (std::vector<uint8_t>{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}));
    ASSERT_EQ(request->outputs.size(), 2u);
    EXPECT_TRUE(request->outputs[0].binary_data);
    EXPECT_FALSE(request->outputs[1].binary_data);
}

TEST(RestCodecTest, DecodesBinaryDataAfterTheJsonHeader) {
    const std::string json = R"({"inputs":[
        {"name":"a","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},
        {"name":"b","datatype":"INT32","shape":[1],"data":[7]},
        {"name":"c","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}}],
        "parameters":{"binary_data_output":true}})";
    const auto a = float_bytes({0.25f, -1.f});
    std::string body = json;
    body.append(reinterpret_cast<const char*>(a.data()), a.size());
    body += std::string("\x01\x02\x03", 3);
    auto request = decode_rest_infer_request(body, std::to_string(json.size()));
    ASSERT_OK(request);
    EXPECT_EQ(request->inputs[0].data, a);
    EXPECT_EQ(request->inputs[1].data, (std::vector<uint8_t>{7, 0, 0, 0}));
    EXPECT_EQ(request->inputs[2].data, (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_TRUE(request->binary_data_output);
}

TEST(RestCodecTest, RefusesMalformedRequestsNamingTheCause) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{", "not valid JSON"},
        {"[]", "must be an object"},
        {R"({"inputs":{}})", "no 'inputs' array"},
        {R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})", "no 'name'"},
        {R"({"inputs":[{"name":"x","datatype":"FLOAT","shape":[1],"data":[1]}]})",
         "datatype 'FLOAT' is not one of the protocol's"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[1]}]})",
         "negative dimension"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1]}]})",
         "holds 2 elements, 'data' has 1"},
        {R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[256]}]})",
         "out of the datatype's range"},
        {R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1.5]}]})",
         "takes integers"},
        {R"({"inputs":[{"name":"x","datatype":"BOOL","shape":[1],"data":[1]}]})",
         "BOOL takes true or false"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[[[1]]]}]})",
         "nested deeper"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4294967296,4294967296,4294967296],"data":[]}]})",
         "overflows"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]})",
         "given twice"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]})",
         "runs past the end"},
        {R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})", "neither 'data' nor"},
        {R"({"inputs":[],"parameters":{"priority":-1}})", "non-negative integer"},
        {R"({"inputs":[],"outputs":[{"name":"o","parameters":{"binary_data":1}}]})",
         "must be true or false"},
    };
    for (const auto& [body, expected] : cases) {
        auto request = decode_rest_infer_request(body, std::nullopt);
        ASSERT_FALSE(request.has_value()) << body;
        EXPECT_EQ(request.status().code(), StatusCode::INVALID_ARGUMENT) << body;
        EXPECT_NE(request.status().message().find(expected), std::string::npos)
            << body << " -> " << request.status().message();
    }
}

TEST(RestCodecTest, RefusesBinarySizesThatDisagree) {
    const std::string json =
        R"({"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":4}}]})";
    std::string body = json + std::string(4, '\0');
    auto request = decode_rest_infer_request(body, std::to_string(json.size()));
    ASSERT_FALSE(request.has_value());
    EXPECT_NE(request.status().message().find("takes 8 bytes, binary_data_size says 4"),
              std::string::npos)
        << request.status();

    const std::string fits =
        R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]})";
    auto extra =
        decode_rest_infer_request(fits + std::string(6, '\0'), std::to_string(fits.size()));
    ASSERT_FALSE(extra.has_value());
    EXPECT_NE(
        extra.status().message().find("2 bytes of binary data after the JSON belong to no input"),
        std::string::npos)
        << extra.status();

    for (const std::string length : {"x", "-1", "99999999999999999999999", "100000"}) {
        auto bad = decode_rest_infer_request(fits, length);
        ASSERT_FALSE(bad.has_value()) << length;
        EXPECT_NE(bad.status().message().find("Inference-Header-Content-Length"),
                  std::string::npos);
    }
}

TEST(RestCodecTest, RefusesJsonLargerThanItsLimitPointingToBinaryData) {
    std::string body = R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[1]}]})";
    body.append(MAX_REST_JSON_BYTES, ' ');  // whitespace: valid JSON, just too much of it
    auto request = decode_rest_infer_request(body, std::nullopt);
    ASSERT_FALSE(request.has_value());
    EXPECT_NE(request.status().message().find("send large tensors as binary data"),
              std::string::npos)
        << request.status();
    // The same bytes as binary data after a small JSON header are fine.
    const std::string json =
        R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[16777217],"parameters":{"binary_data_size":16777217}}]})";
    EXPECT_OK(decode_rest_infer_request(json + std::string(16777217, '\x01'),
                                        std::to_string(json.size())));
}

TEST(RestCodecTest, EncodesJsonAndBinaryOutputs) {
    InferResponse response;
    response.model_name = "m";
    response.model_version = "3";
    response.id = "r9";
    InferTensor json_output{"o1", FormatType::FLOAT32, {1, 2}, float_bytes({0.1f, -7.f})};
    InferTensor binary_output{"o2", FormatType::UINT8, {3}, {9, 8, 7}};
    response.outputs = {json_output, binary_output};
    response.binary_outputs = {false, true};
    RestResponseBody encoded = encode_rest_infer_response(response);
    ASSERT_TRUE(encoded.json_length.has_value());
    const auto header = nlohmann::json::parse(encoded.body.substr(0, *encoded.json_length));
    EXPECT_EQ(header["model_name"], "m");
    EXPECT_EQ(header["model_version"], "3");
    EXPECT_EQ(header["id"], "r9");
    EXPECT_EQ(header["outputs"][0]["datatype"], "FP32");
    EXPECT_EQ(header["outputs"][0]["shape"], nlohmann::json({1, 2}));
    // The shortest decimal that reads back as the same float.
    EXPECT_EQ(static_cast<float>(header["outputs"][0]["data"][0].get<double>()), 0.1f);
    EXPECT_EQ(header["outputs"][0]["data"][1].get<double>(), -7.0);
    EXPECT_EQ(header["outputs"][1]["parameters"]["binary_data_size"], 3);
    EXPECT_FALSE(header["outputs"][1].contains("data"));
    EXPECT_EQ(encoded.body.substr(*encoded.json_length), std::string("\x09\x08\x07", 3));

    response.binary_outputs = {false, false};
    encoded = encode_rest_infer_response(response);
    EXPECT_FALSE(encoded.json_length.has_value());
    EXPECT_EQ(nlohmann::json::parse(encoded.body)["outputs"][1]["data"], nlohmann::json({9, 8, 7}));
    EXPECT_FALSE(nlohmann::json::parse(encoded.body).contains("parameters"));  // not routed

    // A routed model's response names the placement that ran it.
    response.placement = "npu-sim";
    EXPECT_EQ(nlohmann::json::parse(encode_rest_infer_response(response).body)["parameters"],
              nlohmann::json({{"placement", "npu-sim"}}));
}

TEST(RestCodecTest, ErrorBodyIsTheProtocols) {
    EXPECT_EQ(nlohmann::json::parse(rest_error_body("bad \"x\""))["error"], "bad \"x\"");
}

}  // namespace
}  // namespace corun::serving
