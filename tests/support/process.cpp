#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace elector::testing {

namespace {

using clock = std::chrono::steady_clock;

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto name = entry.substr(0, entry.find('='));
        bool overridden = false;
        for (const auto& x : extra) overridden |= x.starts_with(std::string(name) + "=");
        if (!overridden) env.emplace_back(entry);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            posix_spawn_file_actions_t* actions) {
    if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
    std::vector<std::string> args = argv;
    std::vector<std::string> env = merged_environment(extra_env);
    auto c_args = c_strings(args);
    auto c_env = c_strings(env);
    pid_t pid = -1;
    if (int rc = posix_spawnp(&pid, c_args[0], actions, nullptr, c_args.data(), c_env.data()); rc != 0) {
        throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
    }
    return pid;
}

}  // namespace

std::string run_result::describe() const {
    if (timed_out) return fmt::format("timed out; stdout: {} stderr: {}", out, err);
    return fmt::format("exit {}; stdout: {} stderr: {}", exit_code, out, err);
}

run_result run(const std::vector<std::string>& argv, const run_options& options) {
    std::array<int, 2> out_pipe{}, err_pipe{}, in_pipe{};
    if (pipe2(out_pipe.data(), O_CLOEXEC) != 0 || pipe2(err_pipe.data(), O_CLOEXEC) != 0 ||
        pipe2(in_pipe.data(), O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    pid_t pid = -1;
    try {
        pid = spawn(argv, options.extra_env, &actions);
    } catch (...) {
        posix_spawn_file_actions_destroy(&actions);
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]}) close(fd);
        throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    close(in_pipe[0]);

    // Feed stdin in one go (inputs are small manifests), then close it.
    if (options.input) {
        std::string_view rest = *options.input;
        while (!rest.empty()) {
            ssize_t n = write(in_pipe[1], rest.data(), rest.size());
            if (n <= 0) break;
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    close(in_pipe[1]);

    run_result result;
    const auto deadline = clock::now() + options.timeout;
    std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    std::array<std::string*, 2> sinks{&result.out, &result.err};
    int open_fds = 2;
    std::array<char, 65536> buf{};
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) {
            result.timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds.data(), fds.size(), static_cast<int>(left));
        if (n < 0 && errno != EINTR) break;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            ssize_t got = read(fds[i].fd, buf.data(), buf.size());
            if (got > 0) {
                sinks[i]->append(buf.data(), static_cast<std::size_t>(got));
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& f : fds) {
        if (f.fd >= 0) close(f.fd);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

child_process::child_process(const std::vector<std::string>& argv, const std::string& stdout_path,
                             const std::string& stderr_path, const std::vector<std::string>& extra_env) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    try {
        pid_ = spawn(argv, extra_env, &actions);
    } catch (...) {
        posix_spawn_file_actions_destroy(&actions);
        throw;
    }
    posix_spawn_file_actions_destroy(&actions);
}

child_process::~child_process() {
    if (!reaped_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

bool child_process::running() {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return false;
    }
    return true;
}

void child_process::signal(int sig) const {
    if (!reaped_) kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    int status = 0;
    while (!reaped_) {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            reaped_ = true;
            return status;
        }
        if (clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status;
}

bool process_alive(pid_t pid) {
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    if (!stat) return false;
    std::string line;
    std::getline(stat, line);
    // The state letter follows the parenthesised command name.
    auto close_paren = line.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] != 'Z';
}

}  // namespace elector::testing
