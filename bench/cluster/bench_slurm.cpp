// Job arrays against one sbatch per task on the local Slurm (scripts/slurm-local.sh start):
// N tiny tasks (default 1,000; each runs `interphase --version` in its own folder, the way a
// builtin task runs `interphase calc-task DIR`) go through the Slurm executor twice — with
// `arrays: true` (one sbatch per array) and with `arrays: false` (one sbatch per task) — and
// the wall time and the number of scheduler commands (sbatch + squeue + scontrol + scancel,
// counted by the executor) of each are printed with their ratios. Targets (issue 5): arrays
// >= 10x faster and >= 100x fewer commands. Usage: bench_slurm [N] [PARTITION] [PROGRAM] [POLL]
// (PROGRAM instead of `interphase --version`, e.g. /bin/true; POLL the profile's poll interval
// in seconds, default 0.5, back-off up to 4x it: squeue calls scale with wall time / POLL). Measured
// numbers are in bench/README.md ("Cluster").
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

Result run(const fs::path& root, bool arrays, int n, const std::string& partition, const std::vector<std::string>& task,
           double poll) {
    const std::string mode = arrays ? "arrays" : "per-task";
    std::string yaml = fmt::format("partition: {}\ntime: \"00:10:00\"\nmax_queued_jobs: {}\narray_throttle: {}\n"
                                   "arrays: {}\npoll: {{interval: {}, max_interval: {}, backoff: 1.5}}\n",
                                   partition, n, n, arrays ? "true" : "false", poll, 4 * poll);
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
    const std::vector<std::string> task = argc > 3 ? std::vector<std::string>{argv[3]}
                                                   : std::vector<std::string>{INTERPHASE_BINARY, "--version"};
    const fs::path root = fs::absolute("bench-slurm-run");
    fmt::print("{} tiny tasks through the local Slurm (partition {}), each `{}`, poll every {} s\n", n, partition,
               fmt::join(task, " "), argc > 4 ? argv[4] : "0.5");
    const double poll = argc > 4 ? std::stod(argv[4]) : 0.5;
    const auto arrays = run(root, true, n, partition, task, poll);
    const auto single = run(root, false, n, partition, task, poll);
    fmt::print("{:<22} {:>10} {:>10}  {}\n", "", "wall [s]", "commands", "by command");
    fmt::print("{:<22} {:>10.1f} {:>10}  {}\n", "job arrays", arrays.wall, arrays.commands, describe(arrays.by_command));
    fmt::print("{:<22} {:>10.1f} {:>10}  {}\n", "one sbatch per task", single.wall, single.commands, describe(single.by_command));
    fmt::print("ratios: {:.1f}x faster with arrays (target >= 10), {:.1f}x fewer commands (target >= 100)\n",
               single.wall / arrays.wall, double(single.commands) / std::max(1, arrays.commands));
    if (arrays.failed + single.failed > 0) fmt::print("FAILED tasks: {} (arrays), {} (per task)\n", arrays.failed, single.failed);
    return arrays.failed + single.failed > 0 ? 1 : 0;
}
