// elector: the composition root. It parses the command line; the pieces it
// wires together (Kubernetes client, informers, controllers, servers) join
// here as they are built.
#include <cstdio>

#include <fmt/format.h>

#include "build_info.hpp"
#include "config/flag_set.hpp"

int main(int argc, char** argv) {
    using namespace elector;
    bool help = false;
    bool version = false;
    config::flag_set flags(
        "elector",
        "elector runs leader election on behalf of the pods of a Kubernetes Deployment:\n"
        "it keeps one coordination.k8s.io Lease per ElectionGroup, labels the leader pod\n"
        "role=leader and stamps the fencing term elector.dev/term on it.");
    flags.add_bool("help", help, "Show this help and exit.");
    flags.add_bool("version", version, "Print the version and exit.");

    auto positional = flags.parse({argv + 1, static_cast<std::size_t>(argc - 1)});
    if (!positional) {
        fmt::print(stderr, "elector: {}\n", positional.error());
        return 2;
    }
    if (help) {
        fmt::print("{}", flags.usage());
        return 0;
    }
    if (version) {
        fmt::print("elector {} (commit {}, {})\n", build_info::version, build_info::git_commit,
                   build_info::compiler);
        return 0;
    }
    if (!positional->empty()) {
        fmt::print(stderr, "elector: unexpected argument \"{}\" (see --help)\n", positional->front());
        return 2;
    }
    fmt::print(stderr, "{}", flags.usage());
    return 2;
}
