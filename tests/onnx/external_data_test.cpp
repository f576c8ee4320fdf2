// External data (issue 9): a model's weights in files beside it are read by corun from the
// model's own folder, whatever the working directory, and never from anywhere else: absolute
// locations, `..`, symbolic links out of the folder, and models loaded from bytes that name
// files are refused with a message naming the location. Models from make_hostile_models.py.
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "onnx/onnx_model_file.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

namespace fs = std::filesystem;
using test::contains;

std::string hostile(const std::string& name) {
    return test::test_model("hostile/" + name);
}

// A copy of external_weights/ in a fresh folder the test may change.
class ExternalDataTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/corun-external-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        root_ = pattern;
        folder_ = root_ / "model";
        fs::copy(hostile("external_weights"), folder_, fs::copy_options::recursive);
        VDeviceParams params;
        params.group_id = test::unique_group("external");
        ASSERT_OK_AND_ASSIGN(vdevice_, VDevice::create(params));
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }

    // y = x + w for x = 100: the weights as the model computed them.
    Expected<std::vector<float>> weights_seen(const std::string& path) {
        CORUN_TRY(auto model, vdevice_->create_infer_model(path));
        CORUN_TRY(auto configured, model->configure());
        CORUN_TRY(auto bindings, configured.create_bindings());
        std::vector<float> input(12, 100.0f);
        std::vector<float> output(12, 0.0f);
        CORUN_RETURN_IF_ERROR(bindings.input().value().set_buffer(
            MemoryView(input.data(), input.size() * sizeof(float))));
        CORUN_RETURN_IF_ERROR(bindings.output().value().set_buffer(
            MemoryView(output.data(), output.size() * sizeof(float))));
        CORUN_RETURN_IF_ERROR(configured.run(bindings, std::chrono::seconds(30)));
        for (float& value : output) value -= 100.0f;
        return output;
    }

    fs::path root_;
    fs::path folder_;
    std::unique_ptr<VDevice> vdevice_;
};

const std::vector<float> WEIGHTS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

TEST_F(ExternalDataTest, WeightsBesideTheModelLoadFromAnyWorkingDirectory) {
    const fs::path previous = fs::current_path();
    fs::current_path("/");
    auto seen = weights_seen((folder_ / "model.onnx").string());
    fs::current_path(previous);
    ASSERT_OK(seen);
    EXPECT_EQ(*seen, WEIGHTS);
}

TEST_F(ExternalDataTest, ARelativeModelPathResolvesItsWeightsBesideIt) {
    const fs::path previous = fs::current_path();
    fs::current_path(root_);
    auto seen = weights_seen("model/model.onnx");
    fs::current_path(previous);
    ASSERT_OK(seen);
    EXPECT_EQ(*seen, WEIGHTS);
}

TEST_F(ExternalDataTest, ALocationClimbingOutWithDotDotIsRefused) {
    std::vector<float> outside(12, 7.0f);
    std::ofstream(root_ / "weights.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(outside.data()), 48);  // exists, and is refused
    auto model = vdevice_->create_infer_model((folder_ / "escape_parent.onnx").string());
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "'../weights.bin'")) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "'..'")) << model.status();
}

TEST_F(ExternalDataTest, AnAbsoluteLocationIsRefused) {
    auto model = vdevice_->create_infer_model((folder_ / "escape_absolute.onnx").string());
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "'/etc/hostname'")) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "absolute")) << model.status();
}

TEST_F(ExternalDataTest, ASymbolicLinkOutOfTheFolderIsRefused) {
    std::vector<float> outside(12, 7.0f);
    std::ofstream(root_ / "secret.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(outside.data()), 48);
    fs::remove(folder_ / "weights.bin");
    fs::create_symlink(root_ / "secret.bin", folder_ / "weights.bin");
    auto model = vdevice_->create_infer_model((folder_ / "model.onnx").string());
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "outside the model's folder")) << model.status();
}

TEST_F(ExternalDataTest, ASymbolicLinkInsideTheFolderIsFollowed) {
    fs::create_directory(folder_ / "data");
    fs::rename(folder_ / "weights.bin", folder_ / "data" / "real.bin");
    fs::create_symlink("data/real.bin", folder_ / "weights.bin");
    auto seen = weights_seen((folder_ / "model.onnx").string());
    ASSERT_OK(seen);
    EXPECT_EQ(*seen, WEIGHTS);
}

TEST_F(ExternalDataTest, ExternalDataInsideASubgraphIsCheckedToo) {
    // The If's else branch names "../outside.bin": refused, though no initializer names a file.
    auto model = vdevice_->create_infer_model((folder_ / "in_subgraph.onnx").string());
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "'../outside.bin'")) << model.status();
}

TEST_F(ExternalDataTest, SparseInitializersAndLocalFunctionsAreCheckedToo) {
    // Neither names a file through an initializer: the sparse initializer's values name
    // "../sparse.bin" and a Constant inside a model-local function "../function.bin".
    const auto bytes = test::read_bytes((folder_ / "in_sparse_and_function.onnx").string());
    auto file = onnx::read_onnx_model(bytes);
    ASSERT_OK(file);
    EXPECT_EQ(file->external_data_locations,
              (std::vector<std::string>{"../sparse.bin", "../function.bin"}));  // file order
    auto model = vdevice_->create_infer_model((folder_ / "in_sparse_and_function.onnx").string());
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "climbs out")) << model.status();
}

TEST_F(ExternalDataTest, AModelFromBytesThatNamesFilesIsRefusedWithTheWayOut) {
    // From bytes there is no folder: ONNX Runtime would have looked in the working directory.
    const fs::path previous = fs::current_path();
    fs::current_path(folder_);
    const auto bytes = test::read_bytes((folder_ / "model.onnx").string());
    auto model = vdevice_->create_infer_model(bytes, "from-bytes");
    fs::current_path(previous);
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(contains(model.status().message(), "'weights.bin'")) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "create_infer_model(path)")) << model.status();
}

TEST_F(ExternalDataTest, AMissingWeightsFileNamesTheFolder) {
    fs::remove(folder_ / "weights.bin");
    auto model = vdevice_->create_infer_model((folder_ / "model.onnx").string());
    EXPECT_STATUS(model, StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(model.status().message(), "'weights.bin'")) << model.status();
}

}  // namespace
}  // namespace corun
