// A cluster work item on the wire and the worker's path check, on hand-made messages and a
// scratch folder: what parses, what is refused and why, and which batch a refusal goes to.
#include "cluster/work_message.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "cluster/cluster_layout.hpp"
#include "cluster/cluster_worker.hpp"
#include "test_support.hpp"

namespace corun::cluster {
namespace {

const std::string HASH(64, 'a');

std::span<const uint8_t> bytes_of(const std::string& text) {
    return std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

TEST(WorkMessageTest, AnInlineItemRoundTrips) {
    const std::string input = "\x89PNG some bytes";
    WorkMessage item;
    item.batch = "0123456789abcdef";
    item.task = "detect";
    item.content_hash = HASH;
    item.path = "/photos/a b.png";
    item.size = input.size();
    item.kind = InputKind::IMAGE;
    item.model_version = "9c1e";
    item.bytes = bytes_of(input);
    const std::vector<uint8_t> data = encode_work_message(item);
    WorkMessageError error;
    ASSERT_OK_AND_ASSIGN(const WorkMessage parsed, parse_work_message(data, error));
    EXPECT_EQ(parsed.batch, item.batch);
    EXPECT_EQ(parsed.task, "detect");
    EXPECT_EQ(parsed.content_hash, HASH);
    EXPECT_EQ(parsed.path, item.path);
    EXPECT_EQ(parsed.size, input.size());
    EXPECT_EQ(parsed.kind, InputKind::IMAGE);
    EXPECT_EQ(parsed.model_version, "9c1e");
    EXPECT_TRUE(parsed.inline_bytes);
    EXPECT_EQ(std::string(parsed.bytes.begin(), parsed.bytes.end()), input);
}

TEST(WorkMessageTest, ABadMessageIsRefusedWithItsCauseAndBatchWhenKnown) {
    struct Case {
        std::string data;
        std::string cause;
        std::string batch;  // where the refusal goes ("" = the rejected subject)
    };
    const std::string good = R"("batch":"b1","task":"detect","content_hash":")" + HASH + R"(")";
    const std::vector<Case> cases = {
        {"no newline at all", "no header line", ""},
        {"[1, 2]\n", "not a JSON object", ""},
        {"{oops\n", "not JSON", ""},
        {R"({"v":1,"batch":"B A D","task":"detect","content_hash":")" + HASH + "\"}\n",
         "batch id is missing or malformed", ""},
        {R"({"v":1,"batch":"b1","task":"detect","content_hash":"xyz"})"
         "\n",
         "content_hash is not 64 hex digits", ""},
        {"{\"v\":2," + good + "}\n", "another version", "b1"},
        {"{\"v\":1," + good + ",\"size\":-1,\"bytes\":\"inline\"}\n", "size is missing", "b1"},
        {"{\"v\":1," + good + ",\"size\":3,\"bytes\":\"pipe\"}\n", "neither", "b1"},
        {"{\"v\":1," + good + ",\"size\":5,\"bytes\":\"inline\"}\nabc", "not the 5", "b1"},
        {"{\"v\":1," + good + ",\"size\":3,\"bytes\":\"path\",\"path\":\"/x\"}\nabc",
         "carries bytes after its header", "b1"},
        {"{\"v\":1," + good + ",\"size\":1,\"bytes\":\"inline\",\"model_version\":\"$(x)\"}\nq",
         "model_version", "b1"},
    };
    for (const auto& c : cases) {
        WorkMessageError error;
        const auto parsed = parse_work_message(bytes_of(c.data), error);
        EXPECT_EQ(parsed.status().code(), StatusCode::INVALID_ARGUMENT) << c.data;
        EXPECT_NE(error.reason.find(c.cause), std::string::npos) << c.data << ": " << error.reason;
        EXPECT_EQ(error.batch, c.batch) << c.data;
    }
}

TEST(WorkMessageTest, MessageIdsNameBatchContentTaskAndVersion) {
    EXPECT_EQ(item_message_id("b1", HASH, "ocr", ""), "b1." + HASH + ".ocr");
    EXPECT_EQ(item_message_id("b1", HASH, "ocr", "9c"), "b1." + HASH + ".ocr.9c");
    EXPECT_TRUE(is_batch_id("0123-abcd"));
    EXPECT_FALSE(is_batch_id(""));
    EXPECT_FALSE(is_batch_id("a.b"));
    EXPECT_FALSE(is_batch_id(">"));
    EXPECT_FALSE(is_batch_id(std::string(33, 'a')));
}

TEST(WorkMessageTest, APathIsReadOnlyInsideAnAllowedRoot) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "corun-paths-test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    const std::filesystem::path dir = pattern;
    std::filesystem::create_directories(dir / "root" / "sub");
    std::filesystem::create_directories(dir / "other");
    std::ofstream(dir / "root" / "sub" / "a.jpg") << "a";
    std::ofstream(dir / "other" / "b.jpg") << "b";
    std::filesystem::create_symlink(dir / "other" / "b.jpg", dir / "root" / "escape.jpg");
    std::filesystem::create_symlink(dir / "root" / "sub" / "a.jpg", dir / "other" / "in.jpg");
    const std::vector<std::string> roots = {(dir / "root").string()};

    ASSERT_OK_AND_ASSIGN(const std::string inside,
                         resolve_allowed_path((dir / "root" / "sub" / "a.jpg").string(), roots));
    EXPECT_EQ(inside, std::filesystem::canonical(dir / "root" / "sub" / "a.jpg").string());
    // A link from outside to a file inside is fine: the file is what is read.
    EXPECT_OK(resolve_allowed_path((dir / "other" / "in.jpg").string(), roots).status());

    const auto escape = resolve_allowed_path((dir / "root" / "escape.jpg").string(), roots);
    EXPECT_STATUS(escape, StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(escape.status().message().find("resolves to"), std::string::npos);
    const auto outside = resolve_allowed_path((dir / "other" / "b.jpg").string(), roots);
    EXPECT_NE(outside.status().message().find("not inside the allowed roots"), std::string::npos);
    const auto dots =
        resolve_allowed_path((dir / "root" / ".." / "other" / "b.jpg").string(), roots);
    EXPECT_NE(dots.status().message().find("holds '..'"), std::string::npos);
    const auto relative = resolve_allowed_path("root/sub/a.jpg", roots);
    EXPECT_NE(relative.status().message().find("not an absolute path"), std::string::npos);
    // A root given as a prefix of a sibling's name does not admit the sibling.
    std::filesystem::create_directories(dir / "rootless");
    std::ofstream(dir / "rootless" / "c.jpg") << "c";
    EXPECT_STATUS(resolve_allowed_path((dir / "rootless" / "c.jpg").string(), roots),
                  StatusCode::INVALID_ARGUMENT);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace corun::cluster
