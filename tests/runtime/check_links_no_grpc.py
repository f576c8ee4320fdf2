#!/usr/bin/env python3
"""Usage: check_links_no_grpc.py IN_PROCESS_BINARY SERVICE_BINARY

The first program (linked with corun_runtime_core only) must load neither gRPC nor protobuf;
the second (linked with corun_runtime) must load both, which shows the check looks at the right
thing and can fail."""
import subprocess
import sys

RPC_LIBRARIES = ("libgrpc", "libprotobuf")


def rpc_libraries(binary):
    listing = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[0] for line in listing.splitlines()
                   if line.strip() and line.split()[0].startswith(RPC_LIBRARIES)})


def main():
    in_process, service = sys.argv[1], sys.argv[2]
    found = rpc_libraries(in_process)
    if found:
        print("%s loads %s; an in-process program must link neither gRPC nor protobuf "
              "(something in corun_runtime_core links them)" % (in_process, ", ".join(found)))
        return 1
    if not any(name.startswith("libgrpc") for name in rpc_libraries(service)):
        print("%s loads no gRPC, so this check cannot tell: it expects the service client to"
              % service)
        return 1
    print("%s: no gRPC, no protobuf; %s: %s" % (in_process, service,
                                               ", ".join(rpc_libraries(service))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
