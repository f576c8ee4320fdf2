// One function per `corun` subcommand; each lives in its own file.
#pragma once

#include <CLI/CLI.hpp>

namespace corun::tools {

void add_scan_command(CLI::App& app);
void add_parse_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_detect_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_run2_command(CLI::App& app);
void add_benchmark_command(CLI::App& app);
void add_faces_command(CLI::App& app);
void add_vad_command(CLI::App& app);
void add_ocr_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_monitor_command(CLI::App& app);
void add_trace_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_transcribe_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_cluster_command(CLI::App& app);
void add_worker_command(CLI::App& app);

}  // namespace corun::tools
