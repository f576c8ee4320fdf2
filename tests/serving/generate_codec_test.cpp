// The generate extension's JSON (serving/generate_codec.hpp) decoded and encoded exactly, and
// every malformed request refused with INVALID_ARGUMENT naming the field.
#include <nlohmann/json.hpp>

#include "serving/generate_codec.hpp"
#include "test_support.hpp"

namespace corun::serving {
namespace {

using Json = nlohmann::json;

TEST(GenerateCodecTest, DecodesEveryParameter) {
    ASSERT_OK_AND_ASSIGN(
        auto request,
        decode_generate_request(R"({"id":"q","text_input":"Hello","parameters":{"max_tokens":7,
            "temperature":0.5,"top_p":0.9,"top_k":40,"seed":11,"stop":["\n","END"]}})"));
    EXPECT_EQ(request.id, "q");
    EXPECT_EQ(request.text_input, "Hello");
    EXPECT_EQ(request.max_tokens, 7u);
    EXPECT_FLOAT_EQ(request.temperature, 0.5f);
    EXPECT_FLOAT_EQ(request.top_p, 0.9f);
    EXPECT_EQ(request.top_k, 40u);
    EXPECT_EQ(request.seed, 11u);
    EXPECT_EQ(request.stop, (std::vector<std::string>{"\n", "END"}));
}

TEST(GenerateCodecTest, DefaultsAndAStopString) {
    ASSERT_OK_AND_ASSIGN(auto plain, decode_generate_request(R"({"text_input":""})"));
    EXPECT_EQ(plain.max_tokens, 128u);
    EXPECT_EQ(plain.temperature, 0.0f);
    EXPECT_TRUE(plain.stop.empty());
    ASSERT_OK_AND_ASSIGN(
        auto one, decode_generate_request(R"({"text_input":"a","parameters":{"stop":"x"}})"));
    EXPECT_EQ(one.stop, (std::vector<std::string>{"x"}));
}

TEST(GenerateCodecTest, RefusesMalformedRequestsNamingTheField) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"{", "not valid JSON"},
        {"[1]", "JSON object"},
        {R"({"parameters":{}})", "no \"text_input\""},
        {R"({"text_input":1})", "\"text_input\" must be a string"},
        {R"({"text_input":"a","id":3})", "\"id\" must be a string"},
        {R"({"text_input":"a","parameters":[]})", "\"parameters\" must be a JSON object"},
        {R"({"text_input":"a","parameters":{"max_tokens":0}})", "'max_tokens' is 0"},
        {R"({"text_input":"a","parameters":{"max_tokens":-1}})", "'max_tokens' must be"},
        {R"({"text_input":"a","parameters":{"max_tokens":70000}})", "'max_tokens' is 70000"},
        {R"({"text_input":"a","parameters":{"temperature":"hot"}})", "'temperature' must be"},
        {R"({"text_input":"a","parameters":{"top_p":0}})", "'top_p' must be"},
        {R"({"text_input":"a","parameters":{"stop":[""]}})", "'stop' must hold"},
        {R"({"text_input":"a","parameters":{"stop":{}}})", "'stop' must be"},
        {R"({"text_input":"a","parameters":{"beam":2}})", "unknown parameter 'beam'"},
        {R"({"text_input":"a","prompt":"b"})", "unknown field 'prompt'"},
    };
    for (const auto& [body, cause] : bad) {
        auto decoded = decode_generate_request(body);
        ASSERT_FALSE(decoded) << body;
        EXPECT_EQ(decoded.status().code(), StatusCode::INVALID_ARGUMENT) << body;
        EXPECT_NE(decoded.status().to_string().find(cause), std::string::npos)
            << body << " -> " << decoded.status().to_string();
    }
}

TEST(GenerateCodecTest, EncodesAnswerAndEvents) {
    GenerateResponse response{"tiny", "1", "q", "Hi", 3, 2, "length"};
    EXPECT_EQ(Json::parse(encode_generate_response(response)),
              Json::parse(R"({"model_name":"tiny","model_version":"1","id":"q","text_output":"Hi",
                  "prompt_tokens":3,"generated_tokens":2,"finish_reason":"length"})"));
    const std::string piece = encode_generate_event(response, false);
    ASSERT_TRUE(piece.starts_with("data: ") && piece.ends_with("\n\n"));
    EXPECT_EQ(
        Json::parse(piece.substr(6)),
        Json::parse(R"({"model_name":"tiny","model_version":"1","id":"q","text_output":"Hi"})"));
    const std::string last = encode_generate_event(response, true);
    EXPECT_EQ(Json::parse(last.substr(6))["finish_reason"], "length");
    EXPECT_EQ(encode_generate_error_event("no"), "data: {\"error\":\"no\"}\n\n");
    // Bytes that are not UTF-8 (a token may end inside a character) do not throw.
    response.text_output = "\xff";
    EXPECT_NE(encode_generate_response(response).find("text_output"), std::string::npos);
}

}  // namespace
}  // namespace corun::serving
