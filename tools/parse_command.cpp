// `corun parse MODEL`: what a model takes and gives (hailortcli parse-hef).
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"

namespace corun::tools {
namespace {

nlohmann::json stream_json(const InferModel::InferStream& stream) {
    const QuantInfo quant = stream.get_quant_infos().front();
    return {{"name", stream.name()},
            {"shape", stream.native_shape()},
            {"dimension_names", stream.dimension_names()},
            {"element_type", format_type_name(stream.native_format().type)},
            {"native_order", format_order_name(stream.native_format().order)},
            {"frame_size", stream.get_frame_size()},
            {"quant_info", {{"scale", quant.scale}, {"zero_point", quant.zero_point}}},
            {"quant_source", stream.quant_source()}};
}

void print_stream(const InferModel::InferStream& stream) {
    std::string shape = shape_text(stream.native_shape());
    const auto names = stream.dimension_names();
    std::string symbols;
    for (size_t i = 0; i < names.size(); ++i) {
        if (!names[i].empty())
            symbols += (symbols.empty() ? "" : ", ") + std::to_string(i) + "=" + names[i];
    }
    std::cout << "    " << stream.name() << "\n"
              << "      shape:        " << shape
              << (symbols.empty() ? "" : "  (dynamic: " + symbols + ")") << "\n"
              << "      element type: " << format_type_name(stream.native_format().type) << "\n"
              << "      native order: " << format_order_name(stream.native_format().order) << "\n"
              << "      frame size:   "
              << (stream.get_frame_size() ? std::to_string(stream.get_frame_size()) + " bytes"
                                          : std::string("set by the input shapes"))
              << "\n"
              << "      quant info:   " << quant_text(stream.get_quant_infos().front()) << " ("
              << stream.quant_source() << ")\n";
}

}  // namespace

void add_parse_command(CLI::App& app) {
    auto* command = app.add_subcommand("parse", "Show a model's inputs, outputs and facts");
    static std::string model_path;
    command->add_option("model", model_path, "ONNX model file")->required();
    static bool json = false;
    command->add_flag("--json", json, "Print JSON for scripts");
    command->callback([] {
        auto vdevice = VDevice::create();
        if (!vdevice) throw CLI::RuntimeError(report_error(vdevice.status()));
        auto model = (*vdevice)->create_infer_model(model_path);
        if (!model) throw CLI::RuntimeError(report_error(model.status()));
        const ModelInfo& info = (*model)->info();
        if (json) {
            nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
            for (const auto& stream : (*model)->inputs()) inputs.push_back(stream_json(stream));
            for (const auto& stream : (*model)->outputs()) outputs.push_back(stream_json(stream));
            std::cout << nlohmann::json{{"path", info.path},
                                        {"file_size", info.file_size},
                                        {"ir_version", info.ir_version},
                                        {"opsets", info.opsets},
                                        {"producer", info.producer},
                                        {"parameter_count", info.parameter_count},
                                        {"metadata", info.metadata},
                                        {"inputs", inputs},
                                        {"outputs", outputs}}
                             .dump(2)
                      << "\n";
            return;
        }
        std::string opsets;
        for (const auto& [domain, version] : info.opsets) {
            opsets += (opsets.empty() ? "" : ", ") +
                      (domain.empty() ? std::string("ai.onnx") : domain) + " " +
                      std::to_string(version);
        }
        std::cout << "Model " << info.name << " (" << info.path << ")\n"
                  << "  file size:   " << info.file_size << " bytes\n"
                  << "  ONNX IR:     " << info.ir_version << ", opsets: " << opsets << "\n"
                  << "  producer:    " << (info.producer.empty() ? "(none)" : info.producer) << "\n"
                  << "  parameters:  " << info.parameter_count << "\n"
                  << "  inputs:\n";
        for (const auto& stream : (*model)->inputs()) print_stream(stream);
        std::cout << "  outputs:\n";
        for (const auto& stream : (*model)->outputs()) print_stream(stream);
    });
}

}  // namespace corun::tools
