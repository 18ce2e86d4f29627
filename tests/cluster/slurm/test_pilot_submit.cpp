// `interphase submit`: the engine inside one Slurm allocation, against the real single-node
// Slurm of this machine (scripts/slurm-local.sh start), label "slurm". A builtin (EMT) workflow
// submitted as one pilot job (2 MPI ranks on 1 node) completes in Slurm (scontrol: COMPLETED)
// with the local executor's results.h5, its calculations done by worker rank 1; submitting the
// run folder again after the job ended resumes it (nothing recomputed); a submission while the
// previous pilot job is still pending is refused; --dry-run prints the #SBATCH directives; bad
// options exit 2 naming the option.
#include <doctest/doctest.h>

#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "cluster/mpi/pilot_journal.hpp"
#include "cluster/slurm/local_slurm.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace std::chrono_literals;
using interphase::testing::cli_in;
using interphase::testing::h5_numbers;
using interphase::testing::slurp;

namespace {


// Scratch folder with the MPI pilot's EMT workflow (18 calculations) and the test cluster's profile (+ `extra`).
fs::path prepare(const std::string& name, const std::string& extra_profile = "") {
    const auto dir = testing::scratch(name);
    fs::copy_file(testing::source_dir() / "tests/cluster/mpi/data/emt_pilot.yaml", dir / "wf.yaml");
    std::ofstream(dir / "profile.yaml") << slurp(testing::source_dir() / "tests/cluster/slurm/data/profile.yaml")
                                        << extra_profile;
    return dir;
}

// Job ids recorded in RUN_DIR/pilot/jobs.jsonl, in order.
std::vector<std::string> pilot_jobs(const fs::path& run) {
    std::vector<std::string> ids;
    std::ifstream in(run / "pilot" / "jobs.jsonl");
    for (std::string line; std::getline(in, line);) ids.push_back(nlohmann::json::parse(line).at("job").get<std::string>());
    return ids;
}

// Waits until `job` leaves squeue's active list; returns its final state from `scontrol show job`.
std::string wait_for_end(const std::string& job, std::chrono::seconds limit = 300s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto [status, out] = testing::run_command("squeue -h -j " + job + " -o %T 2>/dev/null");
        if (status == 0 && out.find_first_not_of(" \n") == std::string::npos) break;
        std::this_thread::sleep_for(500ms);
    }
    const auto [status, out] = testing::run_command("scontrol show job " + job);
    const auto at = out.find("JobState=");
    if (status != 0 || at == std::string::npos) return "<unknown>";
    return out.substr(at + 9, out.find_first_of(" \n", at) - at - 9);
}

}  // namespace

TEST_CASE("bad input: one line naming the option or file, exit 2") {
    const auto dir = prepare("submit-bad");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"submit", "missing.yaml", "--nodes", "1", "--time", "10", "--dry-run"}, "missing.yaml"},
        {{"submit", "wf.yaml", "--nodes", "0", "--time", "10", "--dry-run"}, "--nodes"},
        {{"submit", "wf.yaml", "--nodes", "1", "--time", "soon", "--dry-run"}, "--time"},
        {{"submit", "wf.yaml", "--nodes", "1", "--time", "1:2:3:4", "--dry-run"}, "--time"},
        {{"submit", "wf.yaml", "--executor", "pbs", "--nodes", "1", "--time", "10"}, "not implemented"},
        {{"submit", "wf.yaml", "--executor", "lsf", "--nodes", "1", "--time", "10"}, "--executor"},
        {{"submit", "wf.yaml", "--executor", "slurn", "--nodes", "1", "--time", "10"}, "did you mean 'slurm'"},
        {{"submit", "wf.yaml", "--nodes", "1", "--time", "10", "--ranks-per-node", "0", "--dry-run"}, "--ranks-per-node"},
        {{"submit", "wf.yaml", "--nodes", "1", "--time", "10", "--launcher", "srun -n {cpus}", "--dry-run"}, "--launcher"},
        {{"submit", "wf.yaml", "--nodes", "1", "--time", "10", "--cluster-profile", "nope.yaml", "--dry-run"}, "nope.yaml"},
        {{"submit", "wf.yaml", "--time", "10", "--dry-run"}, "--nodes"},
    };
    for (const auto& [args, named] : cases) {
        CAPTURE(args[3]);
        const auto r = cli_in(dir, args);
        CAPTURE(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(named) != std::string::npos);
        CHECK(testing::count_lines(r.err) <= 2);  // CLI11's own errors add a "Run with --help" line
    }
    CHECK(!fs::exists(dir / "runs"));  // nothing submitted, no run folder written
}

TEST_CASE("--dry-run writes and prints the batch script with its directives") {
    const auto dir = prepare("submit-dry", "account: chem123\nqos: normal\nmemory_per_cpu: 500M\n"
                                           "setup: ['echo set up']\nenvironment: {OMP_NUM_THREADS: '1'}\n"
                                           "sbatch_options: ['--begin=now+600']\n");
    const auto r = cli_in(dir, {"submit", "wf.yaml", "--run-dir", "run", "--cluster-profile", "profile.yaml", "--nodes",
                                "2", "--time", "1-02:00:00", "--ranks-per-node", "4", "--cores-per-rank", "2",
                                "--launcher", "srun --exclusive -n {cores}", "--dry-run"});
    INFO(r.out, r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* line : {"#SBATCH --job-name=ip-pilot-run-", "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=4\n",
                             "#SBATCH --cpus-per-task=2\n", "#SBATCH --time=1-02:00:00\n", "#SBATCH --partition=debug\n",
                             "#SBATCH --account=chem123\n", "#SBATCH --qos=normal\n", "#SBATCH --mem-per-cpu=500M\n",
                             "#SBATCH --begin=now+600\n", "/run/pilot/pilot-1-%j.out\n", "echo set up\n",
                             "export OMP_NUM_THREADS=1\n", "--enable-recovery --bind-to none -np 8 ",
                             " worker ", "--workflow ", "--cores 2 --launcher 'srun --exclusive -n {cores}'", "not submitted"})
        CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
    CHECK(slurp(dir / "run" / "pilot" / "pilot-1.sbatch").rfind("#!/bin/bash\n", 0) == 0);
    CHECK(!fs::exists(dir / "run" / "pilot" / "jobs.jsonl"));
}

TEST_CASE("a workflow submitted as one pilot job: the local results, computed on the worker rank; resubmitting resumes") {
    testing::start_local_slurm();
    const auto dir = prepare("submit-run");
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir local --quiet", "local.log") == 0);

    const auto t0 = std::chrono::steady_clock::now();
    auto r = cli_in(dir, {"submit", "wf.yaml", "--run-dir", "pilot", "--executor", "slurm", "--cluster-profile",
                          "profile.yaml", "--nodes", "1", "--ranks-per-node", "2", "--time", "00:05:00"});
    INFO(r.out, r.err);
    REQUIRE(r.exit_code == 0);
    auto jobs = pilot_jobs(dir / "pilot");
    REQUIRE(jobs.size() == 1);
    CHECK(r.out.find("submitted pilot job " + jobs[0]) != std::string::npos);
    CHECK(r.out.find("squeue -j " + jobs[0]) != std::string::npos);
    CHECK(r.out.find("interphase status ") != std::string::npos);

    const auto state = wait_for_end(jobs[0]);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const fs::path out = dir / "pilot" / "pilot" / fmt::format("pilot-1-{}.out", jobs[0]);
    if (state == "COMPLETED") MESSAGE(fmt::format("pilot job {}: submitted to COMPLETED in {:.1f} s", jobs[0], wall));
    INFO(slurp(out).substr(0, 4000));
    REQUIRE(state == "COMPLETED");
    CHECK(slurp(out).find("MPI pilot: 2 rank(s), 1 worker rank(s)") != std::string::npos);
    CHECK(h5_numbers(dir / "pilot" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
    auto done = testing::done_per_rank(dir / "pilot");
    CHECK(done.count(0) == 0);  // rank 0 only schedules
    CHECK(done[1] == 18);       // every calculation ran on the worker rank

    // The job has ended: submitting the run folder again resumes the run (no --workflow), nothing recomputed.
    r = cli_in(dir, {"submit", "pilot", "--cluster-profile", "profile.yaml", "--nodes", "1", "--ranks-per-node", "2",
                     "--time", "5"});
    INFO(r.out, r.err);
    REQUIRE(r.exit_code == 0);
    jobs = pilot_jobs(dir / "pilot");
    REQUIRE(jobs.size() == 2);
    CHECK(slurp(dir / "pilot" / "pilot" / "pilot-2.sbatch").find("--workflow") == std::string::npos);
    CHECK(wait_for_end(jobs[1]) == "COMPLETED");
    std::smatch m;
    const auto log2 = slurp(dir / "pilot" / "pilot" / fmt::format("pilot-2-{}.out", jobs[1]));
    REQUIRE(std::regex_search(log2, m, std::regex(R"(all (\d+) tasks done \((\d+) reused\))")));
    CHECK(m[1] == m[2]);  // every task reused
    CHECK(testing::done_per_rank(dir / "pilot") == done);
    CHECK(h5_numbers(dir / "pilot" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
}

TEST_CASE("a second submit while the pilot job is pending is refused") {
    testing::start_local_slurm();
    const auto dir = prepare("submit-pending", "sbatch_options: ['--begin=now+600']\n");  // stays PENDING
    auto r = cli_in(dir, {"submit", "wf.yaml", "--run-dir", "run", "--cluster-profile", "profile.yaml", "--nodes", "1",
                          "--ranks-per-node", "2", "--time", "5"});
    INFO(r.out, r.err);
    REQUIRE(r.exit_code == 0);
    const auto jobs = pilot_jobs(dir / "run");
    REQUIRE(jobs.size() == 1);
    r = cli_in(dir, {"submit", "wf.yaml", "--run-dir", "run", "--cluster-profile", "profile.yaml", "--nodes", "1",
                     "--ranks-per-node", "2", "--time", "5"});
    const auto cancelled = std::system(("scancel " + jobs[0]).c_str());
    INFO(r.out, r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("pilot job " + jobs[0] + " of this run folder is still PENDING") != std::string::npos);
    CHECK(r.err.find("scancel " + jobs[0]) != std::string::npos);
    CHECK(pilot_jobs(dir / "run").size() == 1);  // nothing submitted
    REQUIRE(cancelled == 0);
    CHECK(wait_for_end(jobs[0], 60s) == "CANCELLED");
}
