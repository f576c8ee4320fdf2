// The options every cluster command takes to reach the NATS server: --cluster URL and the
// credentials (--token, --token-file, --creds), used for every connection.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cluster/nats_client.hpp"

namespace corun::tools {

struct ClusterConnectOptions {
    std::string url;
    std::string token;
    std::string token_file;
    std::string creds;
};

// Adds --cluster (required when `required`), --token, --token-file and --creds.
void add_cluster_connect_options(CLI::App& command, ClusterConnectOptions& options, bool required);

// The connection options, with the token read from --token-file (first line) when given.
Expected<cluster::NatsConnectOptions> nats_connect_options(const ClusterConnectOptions& options);

}  // namespace corun::tools
