// `corun scan`: the devices corun can use (hailortcli scan).
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"

namespace corun::tools {

void add_scan_command(CLI::App& app) {
    auto* command = app.add_subcommand("scan", "List the devices corun can run models on");
    static bool json = false;
    command->add_flag("--json", json, "Print JSON for scripts");
    command->callback([] {
        auto devices = VDevice::scan();
        if (!devices) throw CLI::RuntimeError(report_error(devices.status()));
        if (json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& device : *devices) {
                list.push_back({{"id", device.id},
                                {"kind", device.kind},
                                {"architecture", device.architecture},
                                {"cores", device.cores},
                                {"threads", device.threads},
                                {"status", device.status}});
            }
            std::cout << nlohmann::json{{"devices", list}}.dump(2) << "\n";
            return;
        }
        std::cout << "Devices:\n";
        for (const auto& device : *devices) {
            std::cout << "  " << device.id << "\n"
                      << "    kind:         " << device.kind << "\n"
                      << "    architecture: " << device.architecture << "\n"
                      << "    cores:        " << device.cores << "\n"
                      << "    threads:      " << device.threads << "\n"
                      << "    status:       " << device.status << "\n";
        }
    });
}

}  // namespace corun::tools
