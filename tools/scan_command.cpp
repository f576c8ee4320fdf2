// `corun scan`: the devices corun can use (hailortcli scan); with --multi-process-service, the
// devices corund serves (what a client of it would run on).
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"

namespace corun::tools {

void add_scan_command(CLI::App& app) {
    auto* command = app.add_subcommand("scan", "List the devices corun can run models on");
    static bool json = false;
    static ServiceOptions service;
    command->add_flag("--json", json, "Print JSON for scripts");
    add_service_options(*command, service);
    command->callback([] {
        VDeviceParams params;
        apply_service_options(service, params);
        Expected<std::vector<DeviceDescription>> devices =
            params.multi_process_service ? std::vector<DeviceDescription>{} : VDevice::scan();
        if (params.multi_process_service) {
            auto vdevice = VDevice::create(params);
            if (!vdevice) throw CLI::RuntimeError(report_error(vdevice.status()));
            devices = (*vdevice)->physical_devices();
        }
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
