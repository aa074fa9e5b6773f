#pragma once
// The built netc (NETC_BINARY) run as a user runs it, for the command-line tests: exit status,
// stdout and stderr apart.

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace netc::test {

struct NetcRun {
    int status = -1;  // the exit status; -1 when netc did not exit (a signal)
    std::string out, err;
};

/// Runs `netc ARGS` in `dir` (ARGS already shell-quoted where needed); its output is captured
/// outside `dir`, so a test can list what netc wrote there.
inline NetcRun run_netc_in(const std::string &dir, const std::string &args) {
    static int calls = 0;
    const std::filesystem::path capture =
        std::filesystem::temp_directory_path() /
        ("netc-run-" + std::to_string(::getpid()) + "-" + std::to_string(calls++));
    const std::string out = capture.string() + ".out", err = capture.string() + ".err";
    const std::string command =
        "cd '" + dir + "' && '" + NETC_BINARY + "' " + args + " >'" + out + "' 2>'" + err + "'";
    const int raw = std::system(command.c_str());
    auto slurp = [](const std::string &path) {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        std::error_code ec;
        std::filesystem::remove(path, ec);
        return text.str();
    };
    NetcRun r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

/// The same from the source directory, where the examples are `examples/NAME.net`.
inline NetcRun run_netc(const std::string &args) { return run_netc_in(NETC_SOURCE_DIR, args); }

/// Starts netc with `args` in the background, from the current directory, its stdout and stderr
/// to `log`: its process id, or -1 (with errno's value in `error`) when it could not start.
inline pid_t spawn_netc(const std::vector<std::string> &args, const std::string &log, int &error) {
    std::vector<std::string> all = {NETC_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (std::string &a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return error == 0 ? pid : -1;
}

}  // namespace netc::test
