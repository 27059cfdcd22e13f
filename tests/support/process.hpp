#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace elector::testing {

struct run_result {
    int exit_code = -1;    // -1 if killed by a signal or timed out
    bool timed_out = false;
    std::string out;
    std::string err;

    [[nodiscard]] bool ok() const { return exit_code == 0; }
    // "exit 1: <stderr>" for assertion messages.
    [[nodiscard]] std::string describe() const;
};

struct run_options {
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    std::vector<std::string> extra_env;  // "NAME=value", added to this process's environment
    std::optional<std::string> input;    // written to the child's stdin
};

// Runs argv[0] (looked up in PATH) to completion, capturing stdout and stderr.
// A child still running at the timeout is killed (SIGKILL) and reaped.
run_result run(const std::vector<std::string>& argv, const run_options& options = {});

// A long-running child (an elector process, `kubectl get -w`, ...), its
// stdout and stderr written to files. The destructor kills and reaps it.
class child_process {
public:
    child_process(const std::vector<std::string>& argv, const std::string& stdout_path,
                  const std::string& stderr_path, const std::vector<std::string>& extra_env = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool running();
    void signal(int sig) const;
    // Waits for exit; returns the wait status, or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

// True if a process with this pid exists and is not a zombie.
bool process_alive(pid_t pid);

}  // namespace elector::testing
