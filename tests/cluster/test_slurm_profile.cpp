// The Slurm executor's parts that need no Slurm: cluster profiles (FILE:LINE: field errors),
// launch templates, the state mapping, squeue parsing, and the generated batch script, which is
// run here with bash and a fake SLURM_ARRAY_TASK_ID to prove that awkward arguments arrive intact.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "cluster/profile.hpp"
#include "cluster/slurm_executor.hpp"
#include "common/errors.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::cluster;

namespace {
std::string error_of(const std::string& yaml) {
    try {
        parse_cluster_profile(yaml, "p.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
// `n` jobs in folders DIR/<folder>0.., output to out.txt, error to `err` (argv set by the test).
std::vector<Job> jobs_in(const fs::path& dir, int n, const std::string& folder, const std::string& err) {
    std::vector<Job> jobs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& j = jobs[static_cast<std::size_t>(i)];
        j.id = "task" + std::to_string(i);
        j.workdir = dir / (folder + std::to_string(i));
        fs::create_directories(j.workdir);
        j.stdout_path = "out.txt";
        j.stderr_path = err;
    }
    return jobs;
}

// Writes the jobs' table and the array's batch script (DIR/job.sh) of `elements` elements.
void write_array(const SlurmExecutor& ex, const fs::path& dir, const std::vector<Job>& jobs, std::size_t elements,
                 int per_job) {
    const fs::path table = dir / "table";
    std::ofstream t(table);
    for (const auto& j : jobs) t << ex.table_line(j) << "\n";
    std::ofstream(dir / "job.sh") << ex.batch_script(0, elements, 1, table, per_job);
}

// Runs array element `element` of DIR/job.sh with bash, as Slurm would; its exit status.
int run_element(const fs::path& dir, const std::string& array_job, int element) {
    const std::string cmd = "cd '" + dir.string() + "' && SLURM_ARRAY_JOB_ID=" + array_job +
                            " SLURM_ARRAY_TASK_ID=" + std::to_string(element) + " bash job.sh > /dev/null 2>&1";
    return WEXITSTATUS(std::system(cmd.c_str()));
}

}  // namespace

TEST_CASE("a cluster profile is read with every field") {
    const auto p = parse_cluster_profile(R"(
scheduler: slurm
partition: compute
account: chem123
qos: normal
constraint: skylake
time: "02:00:00"
memory_per_cpu: 2G
cores_per_task: 4
setup: ["module load cp2k/2024.1"]
environment: {OMP_NUM_THREADS: "1"}
programs:
  cp2k.psmp: {executable: /opt/cp2k/bin/cp2k.psmp, launch: "srun --cpu-bind=cores -n {cores} {executable} {args}"}
  pw.x: /opt/qe/bin/pw.x
sbatch_options: ["--exclusive"]
max_queued_jobs: 100
array_throttle: 20
poll: {interval: 10, max_interval: 120, backoff: 2}
max_resubmits: 2
)",
                                         "p.yaml");
    CHECK(p.partition == "compute");
    CHECK(p.account == "chem123");
    CHECK(p.time == "02:00:00");
    CHECK(p.cores_per_task == 4);
    CHECK(p.setup.size() == 1);
    CHECK(p.environment.at("OMP_NUM_THREADS") == "1");
    CHECK(p.programs.at("pw.x").executable == "/opt/qe/bin/pw.x");
    CHECK(p.max_queued_jobs == 100);
    CHECK(p.poll_max_interval == 120);
    CHECK(p.max_resubmits == 2);
    // The launch template: the plugin's argv keeps its words, the executable is the profile's.
    CHECK(p.launch_argv({"cp2k.psmp", "-i", "my input.inp"}, 8) ==
          std::vector<std::string>{"srun", "--cpu-bind=cores", "-n", "8", "/opt/cp2k/bin/cp2k.psmp", "-i", "my input.inp"});
    CHECK(p.launch_argv({"pw.x", "-in", "x"}, 2) == std::vector<std::string>{"/opt/qe/bin/pw.x", "-in", "x"});
    CHECK(p.launch_argv({"other", "a"}, 2) == std::vector<std::string>{"other", "a"});
}

TEST_CASE("cluster profile errors name the file, the line and the field") {
    CHECK(error_of("partition: debug\nmax_queued_jobs: lots\n").find("p.yaml:2: field 'max_queued_jobs'") != std::string::npos);
    CHECK(error_of("partiton: debug\n").find("did you mean 'partition'") != std::string::npos);
    CHECK(error_of("time: soon\n").find("field 'time'") != std::string::npos);
    CHECK(error_of("scheduler: sge\n").find("field 'scheduler'") != std::string::npos);
    CHECK(error_of("poll: {interval: 10, max_interval: 5}\n").find("poll.max_interval") != std::string::npos);
    CHECK(error_of("sbatch_options: [\"--array=0-3\"]\n").find("set by the executor") != std::string::npos);
    CHECK(error_of("programs: {cp2k: {launch: \"srun {args}\"}}\n").find("{executable}") != std::string::npos);
    CHECK(error_of("partition: [a, b]\n").find("p.yaml:1: field 'partition'") != std::string::npos);
    CHECK(error_of("a: [\n").find("p.yaml:") != std::string::npos);
}

TEST_CASE("Slurm states map to outcomes") {
    for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED"})
        CHECK(slurm_fate(s) == SlurmFate::Active);
    CHECK(slurm_fate("COMPLETED") == SlurmFate::Ended);
    CHECK(slurm_fate("FAILED") == SlurmFate::Ended);
    CHECK(slurm_fate("NODE_FAIL") == SlurmFate::Resubmit);
    CHECK(slurm_fate("PREEMPTED") == SlurmFate::Resubmit);
    CHECK(slurm_fate("TIMEOUT") == SlurmFate::TimeLimit);  // continued with more time (on_timeout)
    for (const char* s : {"CANCELLED", "CANCELLED by 0", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})
        CHECK(slurm_fate(s) == SlurmFate::Error);
    CHECK(slurm_time(59) == "00:00:59");
    CHECK(slurm_time(2 * 3600 + 5 * 60) == "02:05:00");
    CHECK(slurm_time(86400 + 3600 + 1) == "1-01:00:01");

    CHECK(slurm_outcome("t", "5_1", "COMPLETED", "None", 0).succeeded());
    CHECK(slurm_outcome("t", "5_1", "FAILED", "NonZeroExitCode", 3).exit_code == 3);
    CHECK(slurm_outcome("t", "5_1", "FAILED", "", 137).signal == 9);
    const auto cancelled = slurm_outcome("t", "5_1", "CANCELLED", "None", std::nullopt);
    CHECK(cancelled.signal == SIGKILL);  // retried as "killed" by the workflow's retry policy
    CHECK(cancelled.describe().find("CANCELLED outside interphase") != std::string::npos);
    CHECK(slurm_outcome("t", "5_1", "TIMEOUT", "", std::nullopt).describe().find("time limit") != std::string::npos);
    CHECK(slurm_outcome("t", "5_1", "OUT_OF_MEMORY", "", std::nullopt).describe().find("memory_per_cpu") != std::string::npos);
    CHECK(!slurm_outcome("t", "5_1", "BOOT_FAIL", "", std::nullopt).succeeded());
}

TEST_CASE("squeue lines are parsed") {
    const auto rows = parse_squeue("12_0|COMPLETED|None|interphase:x:0\n12_1|PENDING|BeginTime|interphase:x:0\n\n13|RUNNING|None|\n");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].job == "12_0");
    CHECK(rows[1].reason == "BeginTime");
    CHECK(rows[1].comment == "interphase:x:0");
    CHECK(rows[2].comment.empty());
    CHECK(encode_field("") == "-");
    CHECK(encode_field("a b'c\n-") == "a%20b%27c%0A%2D");
}

TEST_CASE("the batch script runs the right task with its arguments intact") {
    const auto dir = testing::scratch("slurm-script");
    auto profile = parse_cluster_profile("partition: debug\nenvironment: {GREETING: \"hello 'world'\"}\n", "p.yaml");
    SlurmExecutor ex(profile, dir / "state", "ip-test");
    auto jobs = jobs_in(dir, 2, "work dir ", "err.txt");
    jobs[0].argv = {"/bin/sh", "-c", "echo \"$1|$2|$GREETING|$EXTRA\"", "sh", "it's $HOME", ""};
    jobs[0].environment["EXTRA"] = "x;y";
    jobs[1].argv = {"/bin/sh", "-c", "exit 3"};
    write_array(ex, dir, jobs, 2, 1);
    const auto script = testing::slurp(dir / "job.sh");
    CHECK(script.find("#SBATCH --partition=debug") != std::string::npos);
    for (int i = 0; i < 2; ++i) CHECK(run_element(dir, "77", i) == (i == 0 ? 0 : 3));
    CHECK(testing::slurp(jobs[0].workdir / "out.txt") == "it's $HOME||hello 'world'|x;y\n");
    CHECK(testing::slurp(jobs[0].workdir / ".slurm-exit") == "77_0 0\n");
    CHECK(testing::slurp(jobs[1].workdir / ".slurm-exit") == "77_1 3\n");
}

TEST_CASE("bundles and time-limit restarts are read from the profile") {
    const auto defaults = parse_cluster_profile("partition: debug\ntime: \"00:30:00\"\n", "p.yaml");
    CHECK(defaults.tasks_per_job == 1);
    CHECK(defaults.on_timeout.restarts == 2);
    CHECK(defaults.walltime() == 1800);
    CHECK(defaults.max_walltime() == 4 * 1800);  // no max_time: four times `time`
    const auto p = parse_cluster_profile(
        "time: \"01:00:00\"\ntasks_per_job: 25\non_timeout: {restarts: 3, time_factor: 1.5, max_time: \"1-00:00:00\"}\n",
        "p.yaml");
    CHECK(p.tasks_per_job == 25);
    CHECK(p.on_timeout.restarts == 3);
    CHECK(p.on_timeout.time_factor == 1.5);
    CHECK(p.max_walltime() == 86400);
    CHECK(error_of("tasks_per_job: 0\n").find("p.yaml:1: field 'tasks_per_job'") != std::string::npos);
    CHECK(error_of("time: \"02:00:00\"\non_timeout: {max_time: \"01:00:00\"}\n").find("field 'on_timeout.max_time': must be at least") !=
          std::string::npos);
    CHECK(error_of("on_timeout: {factor: 2}\n").find("on_timeout") != std::string::npos);
    CHECK(error_of("on_timeout: {time_factor: 1}\n").find("field 'on_timeout.time_factor'") != std::string::npos);
    CHECK(error_of("time: \"00:00:30\"\n").find("at least one minute") != std::string::npos);
}

TEST_CASE("a bundle runs its tasks one after another and leaves one exit record per task") {
    // 5 tasks, 2 per job: elements 0..2 run lines 1-2, 3-4 and 5. A failing task does not stop
    // its bundle; each task gets its own environment; the element's status is its last failure.
    const auto dir = testing::scratch("slurm-bundle");
    auto profile = parse_cluster_profile("partition: debug\ntasks_per_job: 2\n", "p.yaml");
    SlurmExecutor ex(profile, dir / "state", "ip-test");
    auto jobs = jobs_in(dir, 5, "t", "out.txt");
    for (int i = 0; i < 5; ++i) {
        jobs[i].argv = {"/bin/sh", "-c", "echo \"$MINE|${OTHER:-}\"; exit $CODE"};
        jobs[i].environment["MINE"] = "m" + std::to_string(i);
        jobs[i].environment["CODE"] = i == 2 ? "4" : "0";
    }
    jobs[0].environment["OTHER"] = "leak?";
    jobs[3].argv = {"no-such-program-here"};
    write_array(ex, dir, jobs, 3, 2);
    std::vector<int> status;
    for (int e = 0; e < 3; ++e) status.push_back(run_element(dir, "9", e));
    CHECK(status == std::vector<int>{0, 127, 0});  // element 1 ran task 2 (exit 4) and task 3 (not found)
    CHECK(testing::slurp(jobs[0].workdir / "out.txt") == "m0|leak?\n");
    CHECK(testing::slurp(jobs[1].workdir / "out.txt") == "m1|\n");  // task 0's environment stayed with it
    CHECK(testing::slurp(jobs[0].workdir / ".slurm-exit") == "9_0 0\n");
    CHECK(testing::slurp(jobs[1].workdir / ".slurm-exit") == "9_0 0\n");
    CHECK(testing::slurp(jobs[2].workdir / ".slurm-exit") == "9_1 4\n");
    CHECK(testing::slurp(jobs[3].workdir / ".slurm-exit") == "9_1 127\n");
    CHECK(testing::slurp(jobs[3].workdir / ".slurm-error").find("no-such-program-here") != std::string::npos);
    CHECK(testing::slurp(jobs[4].workdir / ".slurm-exit") == "9_2 0\n");
    CHECK(testing::slurp(jobs[4].workdir / ".slurm-start") == "9_2\n");
}
