// Job arrays against one sbatch per task on the local Slurm (scripts/slurm-local.sh start):
// N tiny tasks (default 1,000; each runs `interphase --version` in its own folder, the way a
// builtin task runs `interphase calc-task DIR`) go through the Slurm executor three times —
// one sbatch per task (`arrays: false`), job arrays with one task per element (`arrays: true`),
// and job arrays whose elements each run a bundle of B tasks (`tasks_per_job: B`, default 100)
// — and the wall time and the scheduler commands (sbatch + squeue + scontrol + scancel, counted
// by the executor) of each are printed with their ratios against one sbatch per task. Targets
// (issue 5): >= 10x faster and >= 100x fewer commands. The same poll settings for every mode.
// Usage: bench_slurm [N] [PARTITION] [PROGRAM] [POLL] [B] (PROGRAM instead of `interphase
// --version`, e.g. /bin/true; POLL the first poll interval in seconds, default 1, back-off x1.5
// up to 30 s). Measured numbers are in bench/README.md ("Cluster").
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "cluster/profile.hpp"
#include "cluster/slurm_executor.hpp"

namespace fs = std::filesystem;
using namespace interphase::cluster;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
    double wall = 0;
    int commands = 0;
    std::map<std::string, int> by_command;
    int failed = 0;
};

Result run(const fs::path& root, bool arrays, int per_job, int n, const std::string& partition,
           const std::vector<std::string>& task, double poll) {
    const std::string mode = !arrays ? "per-task" : per_job > 1 ? "bundles" : "arrays";
    std::string yaml = fmt::format("partition: {}\ntime: \"00:10:00\"\nmax_queued_jobs: {}\narray_throttle: {}\n"
                                   "arrays: {}\ntasks_per_job: {}\npoll: {{interval: {}, max_interval: 30, backoff: 1.5}}\n",
                                   partition, n, n, arrays ? "true" : "false", per_job, poll);
    const auto profile = parse_cluster_profile(yaml, "bench-profile.yaml");
    const fs::path dir = root / mode;
    fs::remove_all(dir);
    fs::create_directories(dir);
    SlurmExecutor ex(profile, dir / "slurm", fmt::format("ip-bench-{}-{}", mode, ::getpid()));
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        Job j;
        j.id = fmt::format("t{}", i);
        j.workdir = dir / fmt::format("t{}", i);
        fs::create_directories(j.workdir);
        j.argv = task;
        j.stdout_path = "out.txt";
        j.stderr_path = "out.txt";
        ex.submit(j);
    }
    Result r;
    int done = 0;
    while (done < n) {
        for (const auto& o : ex.wait(std::chrono::seconds(5))) {
            ++done;
            r.failed += !o.succeeded();
        }
        std::fprintf(stderr, "\r%s: %d/%d done, %d scheduler commands", mode.c_str(), done, n, ex.total_commands());
    }
    std::fprintf(stderr, "\n");
    r.wall = std::chrono::duration<double>(Clock::now() - t0).count();
    r.commands = ex.total_commands();
    r.by_command = ex.commands();
    return r;
}

std::string describe(const std::map<std::string, int>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", v, k);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::stoi(argv[1]) : 1000;
    const std::string partition = argc > 2 ? argv[2] : "debug";
    const std::vector<std::string> task = argc > 3 && std::string(argv[3]) != "-"
                                              ? std::vector<std::string>{argv[3]}
                                              : std::vector<std::string>{INTERPHASE_BINARY, "--version"};
    const double poll = argc > 4 ? std::stod(argv[4]) : 1.0;
    const int per_job = argc > 5 ? std::stoi(argv[5]) : 100;
    const fs::path root = fs::absolute("bench-slurm-run");
    fmt::print("{} tiny tasks through the local Slurm (partition {}), each `{}`, first poll after {} s\n", n, partition,
               fmt::join(task, " "), poll);
    const auto single = run(root, false, 1, n, partition, task, poll);
    const auto arrays = run(root, true, 1, n, partition, task, poll);
    const auto bundles = run(root, true, per_job, n, partition, task, poll);
    fmt::print("{:<34} {:>9} {:>9} {:>8} {:>9}  {}\n", "", "wall [s]", "commands", "faster", "fewer", "by command");
    for (const auto& [label, r] : {std::pair<std::string, const Result&>{"one sbatch per task", single},
                                   {"job arrays, 1 task per element", arrays},
                                   {fmt::format("job arrays, {} tasks per element", per_job), bundles}})
        fmt::print("{:<34} {:>9.1f} {:>9} {:>7.1f}x {:>8.1f}x  {}\n", label, r.wall, r.commands, single.wall / r.wall,
                   double(single.commands) / std::max(1, r.commands), describe(r.by_command));
    fmt::print("targets against one sbatch per task: >= 10x faster, >= 100x fewer commands\n");
    const int failed = single.failed + arrays.failed + bundles.failed;
    if (failed > 0) fmt::print("FAILED tasks: {} (per task), {} (arrays), {} (bundles)\n", single.failed, arrays.failed, bundles.failed);
    return failed > 0 ? 1 : 0;
}
