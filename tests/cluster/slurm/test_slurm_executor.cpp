// The Slurm executor against a real Slurm: a single-node cluster on this machine, started by
// the test itself (scripts/slurm-local.sh start; as root, it installs slurm-wlm and munge when
// missing). Label "slurm". A builtin (EMT) workflow of ~90 tasks (~60 calculations) runs
// through job arrays and gives the local executor's results.h5; a job cancelled with scancel
// behind the engine's back is noticed and started again; an engine killed with SIGKILL and
// resumed re-attaches to its queued jobs without submitting any twice; a slurmctld restart in
// the middle of a run is ridden out; bundles of tasks (tasks_per_job) give the same results with
// fewer Slurm jobs and each task is collected as it ends; a job stopped at its time limit
// continues with more time (on_timeout); jobs lost to NODE_FAIL (node set DOWN) or PREEMPTED (by a
// job of the higher-tier partition "urgent") are submitted again; a tiny CP2K calculation (Li2)
// runs through Slurm.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cluster/profile.hpp"
#include "common/errors.hpp"
#include "plugins/calculator.hpp"
#include "structures/structure.hpp"
#include "cluster/slurm_executor.hpp"
#include "engine/executor_setup.hpp"
#include "engine/store.hpp"
#include "cluster/slurm/local_slurm.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace std::chrono_literals;

using interphase::testing::h5_numbers;

namespace {

const fs::path kData = fs::path("tests/cluster/slurm/data");



// The scratch folder with the workflow, the profile (plus `extra` lines) and a local reference run.
fs::path prepare(const std::string& name, const std::string& extra_profile = "") {
    testing::start_local_slurm();
    const auto dir = testing::scratch(name);
    fs::copy_file(testing::source_dir() / kData / "emt_slurm.yaml", dir / "wf.yaml");
    std::ofstream(dir / "profile.yaml") << testing::slurp(testing::source_dir() / kData / "profile.yaml") << extra_profile;
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir local --quiet", "local.log") == 0);
    return dir;
}

// Starts the CLI in the background; returns its pid.
pid_t spawn_cli(const fs::path& dir, const std::vector<std::string>& args, const std::string& log) {
    const std::string cli = testing::cli().string();
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::chdir(dir.c_str()) != 0) ::_exit(127);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        std::vector<char*> argv{const_cast<char*>(cli.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::vector<nlohmann::json> journal(const fs::path& run) {
    std::vector<nlohmann::json> out;
    std::ifstream in(run / "slurm" / "journal.jsonl");
    for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded()) out.push_back(j);
    }
    return out;
}

// Waits until the run's journal shows a confirmed submission; returns the first Slurm array id
// ("" when the engine `pid` ended first or nothing came within the limit).
std::string wait_for_submission(const fs::path& run, pid_t pid, std::chrono::seconds limit = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            return "";  // the engine ended (left for wait_exit to reap)
        for (const auto& j : journal(run))
            if (j.value("event", "") == "submitted") return j.at("slurm").get<std::string>();
        std::this_thread::sleep_for(100ms);
    }
    return "";
}

std::size_t calculation_tasks(const fs::path& run) {
    engine::RunStore store(run);
    std::size_t n = 0;
    for (const auto& t : store.tasks()) n += t.kind == "calculation";
    return n;
}

// Array tasks the journal says were handed to sbatch (confirmed submissions only).
std::size_t journal_submitted_tasks(const fs::path& run) {
    std::map<int, std::size_t> sizes;
    std::size_t n = 0;
    for (const auto& j : journal(run)) {
        if (j.value("event", "") == "array") sizes[j.at("seq").get<int>()] = j.at("tasks").size();
        if (j.value("event", "") == "submitted") n += sizes[j.at("seq").get<int>()];
    }
    return n;
}

// Jobs Slurm itself knows for the run (MinJobAge keeps ended ones for an hour on this cluster).
std::size_t slurm_job_count(const fs::path& run) {
    const auto [status, out] =
        testing::run_command("squeue -h -r -t all -n '" + engine::batch_job_name(run) + "' -o %i | sort -u | wc -l");
    REQUIRE(status == 0);
    return std::stoul(out);
}

// A job in DIR/work whose first attempt leaves `first-attempt` and sleeps until the scheduler
// ends it; a later attempt prints "second attempt" and succeeds.
cluster::Job lost_on_first_attempt(const fs::path& dir, const std::string& id) {
    cluster::Job job;
    job.id = id;
    job.argv = {"/bin/sh", "-c", "if [ -e first-attempt ]; then echo second attempt; exit 0; fi; touch first-attempt; sleep 300"};
    job.workdir = dir / "work";
    fs::create_directories(job.workdir);
    job.stdout_path = "out.txt";
    job.stderr_path = "out.txt";
    return job;
}

// Polls `ex` until its one job ends (or `limit`), calling `between()` after every wait.
std::optional<cluster::JobOutcome> outcome_of(cluster::Executor& ex, std::chrono::seconds limit,
                                              const std::function<void()>& between) {
    std::optional<cluster::JobOutcome> outcome;
    const auto t0 = std::chrono::steady_clock::now();
    while (!outcome && std::chrono::steady_clock::now() - t0 < limit) {
        for (auto& o : ex.wait(500ms)) outcome = o;
        between();
    }
    return outcome;
}

int count_lines_with(const fs::path& file, const std::string& what) {
    std::ifstream in(file);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(what) != std::string::npos;
    return n;
}

}  // namespace

TEST_CASE("a builtin workflow through Slurm job arrays gives the local executor's results") {
    const auto dir = prepare("slurm-arrays");
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir slurm --executor slurm --cluster-profile profile.yaml", "slurm.log") == 0);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(testing::slurp(dir / "slurm.log").substr(0, 3000));

    const auto calcs = calculation_tasks(dir / "slurm");
    engine::RunStore store(dir / "slurm");
    CHECK(store.tasks().size() >= 50);
    CHECK(calcs >= 50);
    CHECK(h5_numbers(dir / "slurm" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));

    // Arrays, not one job per task: few sbatch calls, every calculation submitted exactly once.
    const fs::path log = dir / "slurm" / "slurm" / "commands.log";
    const int sbatch = count_lines_with(log, "\tsbatch ");
    const int squeue = count_lines_with(log, "\tsqueue ");
    MESSAGE(fmt::format("{} calculations through Slurm in {:.1f} s: {} sbatch, {} squeue, {} scontrol calls", calcs, wall,
                        sbatch, squeue, count_lines_with(log, "\tscontrol ")));
    // The graph grows as slabs finish, so arrays follow the poll cycles: still a few per wave.
    CHECK(sbatch * 3 <= static_cast<int>(calcs));
    CHECK(journal_submitted_tasks(dir / "slurm") == calcs);
    CHECK(slurm_job_count(dir / "slurm") == calcs);
    // One squeue per poll cycle, never one per job.
    CHECK(squeue <= static_cast<int>(wall / 1.0) + 5);  // poll interval 1 s (data/profile.yaml)
    for (const auto& t : store.tasks())
        if (t.kind == "calculation") CHECK(store.executions(t.name) == 1);
    // The batch script and its table are kept for inspection.
    CHECK(fs::exists(dir / "slurm" / "slurm" / "arrays" / "0.sh"));
}

TEST_CASE("a job cancelled with scancel behind the engine's back is noticed and run again") {
    // The first array's first task (the reference atom) sleeps 30 s once before it starts its
    // program, so it is RUNNING when cancelled (a running job's CANCELLED state stays visible;
    // a pending array element cancelled before it was split off vanishes from Slurm, which the
    // executor resubmits as a lost job).
    const auto dir = prepare("slurm-scancel", "setup: ['if [ \"$SLURM_ARRAY_TASK_ID\" = 0 ] && "
                                              "mkdir \"$SLURM_SUBMIT_DIR/slept\" 2> /dev/null; then sleep 30; fi']\n");
    const pid_t engine = spawn_cli(
        dir, {"run", "wf.yaml", "--run-dir", "slurm", "--executor", "slurm", "--cluster-profile", "profile.yaml"}, "slurm.log");
    const auto array = wait_for_submission(dir / "slurm", engine);
    REQUIRE(!array.empty());
    bool running = false;
    for (int i = 0; i < 300 && !running; ++i) {
        running = testing::run_command("squeue -h -j " + array + "_0 -o %T").second.find("RUNNING") != std::string::npos;
        if (!running) std::this_thread::sleep_for(100ms);
    }
    REQUIRE(running);
    REQUIRE(std::system(("scancel " + array + "_0").c_str()) == 0);
    REQUIRE(wait_exit(engine) == 0);
    const auto log = testing::slurp(dir / "slurm.log");
    INFO(log.substr(0, 4000));
    CHECK(log.find("CANCELLED outside interphase") != std::string::npos);
    CHECK(log.find("RETRY reference/Cu-atom/energy") != std::string::npos);
    CHECK(h5_numbers(dir / "slurm" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
    // The cancelled job was submitted again: one more Slurm job than calculations.
    CHECK(slurm_job_count(dir / "slurm") == calculation_tasks(dir / "slurm") + 1);
    engine::RunStore store(dir / "slurm");
    CHECK(store.task("reference/Cu-atom/energy")->attempts == 2);
}

TEST_CASE("an engine killed with SIGKILL and resumed re-attaches to its Slurm jobs") {
    const auto dir = prepare("slurm-kill", "sbatch_options: [\"--begin=now+3\"]\n");
    const pid_t engine = spawn_cli(
        dir, {"run", "wf.yaml", "--run-dir", "slurm", "--executor", "slurm", "--cluster-profile", "profile.yaml"}, "run1.log");
    REQUIRE(!wait_for_submission(dir / "slurm", engine).empty());
    ::kill(engine, SIGKILL);
    CHECK(wait_exit(engine) == -SIGKILL);
    // The jobs outlive the engine (queued, or already running or done).
    CHECK(slurm_job_count(dir / "slurm") > 0);

    // Resume remembers the executor and the profile; it follows the queued jobs.
    REQUIRE(testing::run_cli(dir, "resume slurm", "run2.log") == 0);
    const auto log = testing::slurp(dir / "run2.log");
    INFO(log.substr(0, 4000));
    CHECK(log.find("re-attached") != std::string::npos);
    CHECK(h5_numbers(dir / "slurm" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
    // No duplicate submissions: as many Slurm jobs (squeue) and journal entries as calculations.
    const auto calcs = calculation_tasks(dir / "slurm");
    CHECK(slurm_job_count(dir / "slurm") == calcs);
    CHECK(journal_submitted_tasks(dir / "slurm") == calcs);
    engine::RunStore store(dir / "slurm");
    for (const auto& t : store.tasks()) CHECK(store.completed_executions(t.name) <= 1);
}

TEST_CASE("a slurmctld restart in the middle of a run is ridden out") {
    const auto dir = prepare("slurm-ctld", "sbatch_options: [\"--begin=now+2\"]\n");
    const pid_t engine = spawn_cli(
        dir, {"run", "wf.yaml", "--run-dir", "slurm", "--executor", "slurm", "--cluster-profile", "profile.yaml"}, "slurm.log");
    REQUIRE(!wait_for_submission(dir / "slurm", engine).empty());
    const auto [status, out] =
        testing::run_command("'" + (testing::source_dir() / "scripts/slurm-local.sh").string() + "' restart-ctld 2>&1");
    INFO(out);
    CHECK(status == 0);
    REQUIRE(wait_exit(engine) == 0);
    INFO(testing::slurp(dir / "slurm.log").substr(0, 3000));
    CHECK(h5_numbers(dir / "slurm" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
    CHECK(slurm_job_count(dir / "slurm") == calculation_tasks(dir / "slurm"));
}

TEST_CASE("an array whose sbatch answer was never journaled is found again by its comment") {
    // An engine killed after sbatch accepted an array but before the journal recorded its id:
    // the next executor finds the jobs by the array's --comment instead of submitting again.
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-window");
    const auto profile = cluster::parse_cluster_profile("partition: debug\npoll: {interval: 0.5, max_interval: 1}\n", "p.yaml");
    const std::string name = engine::batch_job_name(dir);
    cluster::Job job;
    job.id = "only";
    job.argv = {"/bin/sh", "-c", "echo done"};
    job.workdir = dir / "work";
    fs::create_directories(job.workdir);
    job.stdout_path = job.workdir / "out.txt";
    job.stderr_path = job.workdir / "err.txt";
    {
        cluster::SlurmExecutor first(profile, dir / "state", name);
        first.submit(job);
        first.wait(0ms);  // sbatch
        CHECK(first.commands().at("sbatch") == 1);
    }
    // Drop the "submitted" line, as if the engine had died before writing it.
    std::string kept;
    {
        std::ifstream in(dir / "state" / "journal.jsonl");
        for (std::string line; std::getline(in, line);)
            if (line.find("\"submitted\"") == std::string::npos) kept += line + "\n";
    }
    std::ofstream(dir / "state" / "journal.jsonl") << kept;

    cluster::SlurmExecutor second(profile, dir / "state", name);
    REQUIRE(second.reattach(job));
    std::vector<cluster::JobOutcome> outcomes;
    for (int i = 0; i < 120 && outcomes.empty(); ++i) outcomes = second.wait(500ms);
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].succeeded());
    CHECK(second.commands().count("sbatch") == 0);
    CHECK(testing::slurp(job.workdir / "out.txt") == "done\n");
    const auto [status, out] = testing::run_command("squeue -h -r -t all -n '" + name + "' -o %i | wc -l");
    CHECK(std::stoul(out) == 1);
}

TEST_CASE("a builtin workflow in bundles of tasks gives the local executor's results with fewer jobs") {
    const auto dir = prepare("slurm-bundles", "tasks_per_job: 8\n");
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir slurm --executor slurm --cluster-profile profile.yaml", "slurm.log") == 0);
    INFO(testing::slurp(dir / "slurm.log").substr(0, 3000));
    CHECK(h5_numbers(dir / "slurm" / "results.h5") == h5_numbers(dir / "local" / "results.h5"));
    const auto calcs = calculation_tasks(dir / "slurm");
    CHECK(journal_submitted_tasks(dir / "slurm") == calcs);
    // Slurm started one job per bundle of up to 8 calculations, not one per calculation.
    const auto jobs = slurm_job_count(dir / "slurm");
    MESSAGE(fmt::format("{} calculations ran as {} Slurm jobs", calcs, jobs));
    CHECK(jobs < calcs / 2);
}

TEST_CASE("tasks of a bundle are collected as they end, each with its own exit status") {
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-bundle-exec");
    const auto profile = cluster::parse_cluster_profile(
        "partition: debug\ntasks_per_job: 4\npoll: {interval: 0.5, max_interval: 1}\n", "p.yaml");
    const std::string name = engine::batch_job_name(dir);
    cluster::SlurmExecutor ex(profile, dir / "state", name);
    for (int i = 0; i < 11; ++i) {
        cluster::Job job;
        job.id = fmt::format("t{}", i);
        // t3 (the last of the first bundle) takes 8 s: t0..t2 must be collected before it ends.
        job.argv = {"/bin/sh", "-c", i == 3 ? "sleep 8; echo t3" : i == 1 ? "exit 5" : fmt::format("echo t{}", i)};
        job.workdir = dir / job.id;
        fs::create_directories(job.workdir);
        job.stdout_path = "out.txt";
        job.stderr_path = "out.txt";
        ex.submit(job);
    }
    fs::remove_all(dir / "t10");  // its bundle cannot enter its folder: an error, not a resubmission
    std::map<std::string, cluster::JobOutcome> got;
    std::map<std::string, std::chrono::steady_clock::time_point> when;
    const auto t0 = std::chrono::steady_clock::now();
    while (got.size() < 11 && std::chrono::steady_clock::now() - t0 < 180s)
        for (auto& o : ex.wait(1s)) {
            when[o.id] = std::chrono::steady_clock::now();
            got[o.id] = o;
        }
    REQUIRE(got.size() == 11);
    CHECK(got.at("t1").exit_code == 5);
    CHECK(got.at("t10").describe().find("without running this task") != std::string::npos);
    for (const auto& [id, o] : got)
        if (id != "t1" && id != "t10") {
            CHECK(o.succeeded());
            CHECK(testing::slurp(dir / id / "out.txt") == id + "\n");
        }
    CHECK(when.at("t3") - when.at("t0") >= 4s);  // t0 did not wait for its bundle to end
    CHECK(ex.commands().at("sbatch") == 1);      // one array of ceil(11/4) = 3 elements
    const auto [status, out] = testing::run_command("squeue -h -r -t all -n '" + name + "' -o %i | wc -l");
    CHECK(std::stoul(out) == 3);
}

TEST_CASE("a job stopped at its time limit continues with more time, up to the cap") {
    // time: 1 minute; the job sleeps until its folder says it may continue. Slurm stops it with
    // TIMEOUT (after 60-90 s: the controller checks limits every 30 s); the executor asks the
    // job to prepare its restart (a calculator would keep its last geometry and wavefunction
    // here) and submits it again with twice the time. A second executor allows no restart: its
    // job ends with the TIMEOUT error.
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-timeout");
    const auto restarts = cluster::parse_cluster_profile(
        "partition: debug\ntime: \"1\"\non_timeout: {restarts: 1, time_factor: 2, max_time: \"3\"}\n"
        "poll: {interval: 1, max_interval: 3}\n",
        "p.yaml");
    const auto none = cluster::parse_cluster_profile(
        "partition: debug\ntime: \"1\"\non_timeout: {restarts: 0}\npoll: {interval: 1, max_interval: 3}\n", "p.yaml");
    cluster::SlurmExecutor ex(restarts, dir / "state", engine::batch_job_name(dir / "a"));
    cluster::SlurmExecutor ex_none(none, dir / "state-none", engine::batch_job_name(dir / "b"));
    int prepared = 0;
    auto make = [&](const std::string& id) {
        cluster::Job job;
        job.id = id;
        job.argv = {"/bin/sh", "-c", "if [ -e checkpoint ]; then cat checkpoint; exit 0; fi; sleep 600"};
        job.workdir = dir / id;
        fs::create_directories(job.workdir);
        job.stdout_path = "out.txt";
        job.stderr_path = "out.txt";
        job.prepare_restart = [&prepared, w = job.workdir] {
            ++prepared;
            std::ofstream(w / "checkpoint") << "continued from the checkpoint\n";
            return true;
        };
        return job;
    };
    ex.submit(make("continued"));
    ex_none.submit(make("stopped"));
    std::optional<cluster::JobOutcome> continued, stopped;
    const auto t0 = std::chrono::steady_clock::now();
    while ((!continued || !stopped) && std::chrono::steady_clock::now() - t0 < 300s) {
        for (auto& o : ex.wait(500ms)) continued = o;
        for (auto& o : ex_none.wait(500ms)) stopped = o;
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(fmt::format("time-limit restart test: {:.0f} s", wall));
    REQUIRE(continued);
    REQUIRE(stopped);
    CHECK(continued->succeeded());
    CHECK(prepared == 1);
    CHECK(testing::slurp(dir / "continued" / "out.txt") == "continued from the checkpoint\n");
    CHECK(ex.commands().at("sbatch") == 2);
    // The second submission asked for twice the time.
    CHECK(testing::slurp(dir / "state" / "arrays" / "0.sh").find("#SBATCH --time=00:01:00") != std::string::npos);
    CHECK(testing::slurp(dir / "state" / "arrays" / "1.sh").find("#SBATCH --time=00:02:00") != std::string::npos);
    CHECK(count_lines_with(dir / "state" / "journal.jsonl", "timeout_restart") == 1);
    // The run's log says so (the engine prints the executor's notices).
    const auto notices = ex.take_notices();
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].find("of continued reached its time limit (60 s): continued from where it stopped with 120 s") !=
          std::string::npos);
    CHECK(!stopped->succeeded());
    CHECK(stopped->describe().find("TIMEOUT") != std::string::npos);
    CHECK(stopped->describe().find("on_timeout") != std::string::npos);
    CHECK(!fs::exists(dir / "stopped" / "checkpoint"));  // no restart: nothing prepared
}

TEST_CASE("a job lost to a node failure (NODE_FAIL) is submitted again by the executor") {
    // The node is set DOWN by the operator while the job runs: Slurm ends the job with
    // NODE_FAIL (--no-requeue: Slurm does not requeue it itself). The executor submits it again;
    // it runs once the node is back. Nothing else may run on the cluster meanwhile (the slurm
    // tests hold the RESOURCE_LOCK "local_slurm").
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-node-fail");
    const auto profile = cluster::parse_cluster_profile(
        "partition: debug\nsbatch_options: [\"--no-requeue\"]\npoll: {interval: 0.5, max_interval: 1}\n", "p.yaml");
    cluster::SlurmExecutor ex(profile, dir / "state", engine::batch_job_name(dir));
    const auto job = lost_on_first_attempt(dir, "lost");
    ex.submit(job);
    const auto [host_status, host] = testing::run_command("hostname -s | tr -d '\\n'");
    REQUIRE(host_status == 0);
    bool downed = false, resumed = false;
    const auto outcome = outcome_of(ex, 240s, [&] {
        if (!downed && fs::exists(job.workdir / "first-attempt")) {
            REQUIRE(testing::run_command("scontrol update nodename=" + host + " state=down reason=interphase-test").first == 0);
            downed = true;
        }
        if (downed && !resumed && count_lines_with(dir / "state" / "journal.jsonl", "\"resubmit\"") > 0) {
            // Back to service (with ReturnToService=2 slurmd's registration may already have done it).
            testing::run_command("scontrol update nodename=" + host + " state=resume 2>&1");
            resumed = true;
        }
    });
    if (downed && !resumed) testing::run_command("scontrol update nodename=" + host + " state=resume 2>&1");
    REQUIRE(outcome);
    CHECK(outcome->succeeded());
    CHECK(testing::slurp(job.workdir / "out.txt") == "second attempt\n");
    CHECK(ex.commands().at("sbatch") == 2);
    const auto journal_text = testing::slurp(dir / "state" / "journal.jsonl");
    CHECK(journal_text.find("NODE_FAIL") != std::string::npos);  // the resubmit event says why
    const auto notices = ex.take_notices();
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].find("of lost submitted again: it ended with NODE_FAIL") != std::string::npos);
}

TEST_CASE("a job preempted by a higher-tier partition (PREEMPTED) is submitted again by the executor") {
    // scripts/slurm-local.sh configures preempt/partition_prio with PreemptMode=CANCEL: a job of
    // the "urgent" partition that needs the whole node cancels the running job of "debug" with
    // PREEMPTED. The executor submits it again; it runs once the urgent job is done.
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-preempted");
    const auto profile =
        cluster::parse_cluster_profile("partition: debug\npoll: {interval: 0.5, max_interval: 1}\n", "p.yaml");
    cluster::SlurmExecutor ex(profile, dir / "state", engine::batch_job_name(dir));
    const auto job = lost_on_first_attempt(dir, "preempted");
    ex.submit(job);
    bool urgent = false;
    const auto outcome = outcome_of(ex, 240s, [&] {
        if (!urgent && fs::exists(job.workdir / "first-attempt")) {
            const auto [status, out] = testing::run_command("sbatch --parsable -p urgent -c 2 -J ip-urgent-test -o /dev/null "
                                                            "--wrap 'sleep 2' 2>&1");
            INFO(out);
            REQUIRE(status == 0);
            urgent = true;
        }
    });
    REQUIRE(outcome);
    CHECK(outcome->succeeded());
    CHECK(testing::slurp(job.workdir / "out.txt") == "second attempt\n");
    CHECK(ex.commands().at("sbatch") == 2);
    CHECK(testing::slurp(dir / "state" / "journal.jsonl").find("PREEMPTED") != std::string::npos);
    const auto notices = ex.take_notices();
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].find("of preempted submitted again: it ended with PREEMPTED") != std::string::npos);
}

TEST_CASE("a tiny CP2K calculation runs through Slurm") {
    // The CP2K plugin writes the inputs, the Slurm executor runs its LaunchSpec as a one-task
    // array (the profile maps cp2k.psmp to its executable), the plugin parses the outputs.
    std::unique_ptr<plugins::Calculator> calc;
    try {
        calc = plugins::CalculatorRegistry::instance().create("cp2k", {{"launcher", "none"}}, "test");
        calc->check_available();
    } catch (const ExecutionError& e) {
        MESSAGE("skipping: " << e.what());
        return;
    }
    testing::start_local_slurm();
    const auto dir = testing::scratch("slurm-cp2k");
    const auto exe = testing::run_command("command -v cp2k.psmp").second;
    const auto profile = cluster::parse_cluster_profile(
        "partition: debug\npoll: {interval: 0.5, max_interval: 2}\nprograms: {cp2k.psmp: {executable: " +
            exe.substr(0, exe.find('\n')) + "}}\n",
        "p.yaml");
    plugins::CalculationRequest req;
    req.structure = structures::Structure(Eigen::Vector3d(8, 8, 10).asDiagonal());
    req.structure.add_atom_cartesian("Li", {4, 4, 3.65});
    req.structure.add_atom_cartesian("Li", {4, 4, 6.35});
    req.protocol = plugins::Protocol::from_json("plumbing", "test");
    req.label = "Li2";
    const fs::path work = dir / "li2";
    fs::create_directories(work);
    calc->write_inputs(req, work);
    const auto spec = calc->launch(work, 1);
    cluster::Job job;
    job.id = "li2";
    job.argv = spec.argv;
    job.workdir = work;
    job.cores = spec.cores;
    job.stdout_path = spec.stdout_file;
    job.stderr_path = spec.stderr_file;
    job.environment = spec.environment;
    cluster::SlurmExecutor slurm(profile, dir / "state", engine::batch_job_name(dir));
    slurm.submit(job);
    std::vector<cluster::JobOutcome> outcomes;
    const auto t0 = std::chrono::steady_clock::now();
    while (outcomes.empty() && std::chrono::steady_clock::now() - t0 < 600s) outcomes = slurm.wait(1000ms);
    REQUIRE(outcomes.size() == 1);
    CHECK_MESSAGE(outcomes[0].succeeded(), outcomes[0].describe());
    const auto result = calc->parse(req, work);
    MESSAGE("Li2 through Slurm: E = " << result.energy << " eV in "
                                      << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    CHECK(result.scf_converged);
    CHECK(std::isfinite(result.energy));
    CHECK(result.energy < 0);
    CHECK(slurm.commands().at("sbatch") == 1);
}
