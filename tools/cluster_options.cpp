#include "cluster_options.hpp"

#include <fstream>

namespace corun::tools {

void add_cluster_connect_options(CLI::App& command, ClusterConnectOptions& options, bool required) {
    auto* url = command.add_option("--cluster", options.url,
                                   "NATS server of the cluster (nats://HOST:4222)");
    if (required) url->required();
    auto* token =
        command.add_option("--token", options.token,
                           "NATS token the server requires (visible in `ps`; prefer --token-file)");
    auto* token_file = command.add_option("--token-file", options.token_file,
                                          "File whose first line is the NATS token");
    auto* creds = command.add_option("--creds", options.creds, "NATS user credentials file");
    token->excludes(token_file)->excludes(creds);
    token_file->excludes(creds);
}

Expected<cluster::NatsConnectOptions> nats_connect_options(const ClusterConnectOptions& options) {
    cluster::NatsConnectOptions nats;
    nats.url = options.url;
    nats.token = options.token;
    nats.creds_file = options.creds;
    if (!options.token_file.empty()) {
        std::ifstream file(options.token_file);
        if (!file || !std::getline(file, nats.token) || nats.token.empty()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "cannot read a token from '" + options.token_file +
                              "' (--token-file): it must exist and hold the token on its first "
                              "line");
        }
    }
    return nats;
}

}  // namespace corun::tools
