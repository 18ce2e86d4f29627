// The PBS (Pro and Torque) and LSF executors without a PBS or LSF server (Debian has none): the
// batch scripts they write, their parsing of scheduler outputs reconstructed from the documented
// formats (data/*.txt, each file says where its format comes from), the state mapping, and whole
// runs through shim commands on PATH (shims/qsub, qstat, qdel, bsub, bjobs, bkill: bash scripts
// that record their arguments, keep jobs in a state folder, advance them one state per status
// call and run each array element's batch script for real). An EMT workflow run through each
// shim gives the local executor's results.h5. Not a test against a live scheduler.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "cluster/lsf_executor.hpp"
#include "cluster/pbs_executor.hpp"
#include "cluster/profile.hpp"
#include "cluster/registry.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::cluster;
using namespace std::chrono_literals;

namespace {

const fs::path kHere = testing::source_dir() / "tests/cluster/pbs_lsf";

// A fixture without its "#@" provenance lines.
std::string fixture(const std::string& name) {
    std::istringstream in(testing::slurp(kHere / "data" / name));
    std::string out;
    for (std::string line; std::getline(in, line);)
        if (line.rfind("#@", 0) != 0) out += line + "\n";
    return out;
}

// Puts the shims first on PATH with a fresh state folder; returns the state folder.
fs::path use_shims(const fs::path& dir) {
    static const std::string original = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
    const fs::path state = dir / "shim-state";
    fs::create_directories(state);
    ::setenv("PATH", ((kHere / "shims").string() + ":" + original).c_str(), 1);
    ::setenv("SHIM_STATE", state.c_str(), 1);
    return state;
}

int count_calls(const fs::path& state, const std::string& cmd) {
    std::ifstream in(state / "calls.log");
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.rfind(cmd + " ", 0) == 0 || line == cmd;
    return n;
}

std::vector<Job> echo_jobs(const fs::path& dir, int n) {
    std::vector<Job> jobs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& j = jobs[static_cast<std::size_t>(i)];
        j.id = fmt::format("task{}", i);
        j.workdir = dir / fmt::format("work {}", i);
        fs::create_directories(j.workdir);
        j.stdout_path = "out.txt";
        j.stderr_path = "err.txt";
        j.argv = {"/bin/sh", "-c", i == 3 ? "exit 3" : "echo \"$1\"", "sh", fmt::format("it's #{}", i)};
    }
    return jobs;
}

std::vector<JobOutcome> run_all(Executor& ex, const std::vector<Job>& jobs) {
    for (const auto& j : jobs) ex.submit(j);
    std::vector<JobOutcome> all;
    for (int i = 0; i < 200 && all.size() < jobs.size(); ++i)
        for (auto& o : ex.wait(200ms)) all.push_back(std::move(o));
    return all;
}

const char* kProfileTail = "poll: {interval: 0.05, max_interval: 0.2, backoff: 1.5}\nmax_queued_jobs: 100\n";

}  // namespace

TEST_CASE("profiles name the PBS and LSF keys") {
    const auto p = parse_cluster_profile("scheduler: pbs\npbs_flavor: torque\nqueue: batch\nproject: chem\narrays: false\n", "p.yaml");
    CHECK(p.scheduler == "pbs");
    CHECK(p.pbs_flavor == "torque");
    CHECK(p.queue == "batch");
    CHECK(p.project == "chem");
    CHECK(!p.arrays);
    CHECK_THROWS_WITH(parse_cluster_profile("scheduler: pbs\npbs_flavor: openlava\n", "p.yaml"),
                      doctest::Contains("pbs_flavor"));
    CHECK(walltime_seconds("02:00:00") == 7200);
    CHECK(walltime_seconds("1-00:30:00") == 88200);
    CHECK(walltime_seconds("90") == 5400);
    CHECK(memory_mb("2G", 4) == 8192);
    for (const char* name : {"pbs", "lsf"}) CHECK(ExecutorRegistry::instance().info(name).needs_profile);
}

TEST_CASE("PBS Pro, Torque and LSF batch scripts carry the profile and run the right task") {
    const auto dir = testing::scratch("pbs-lsf-script");
    const std::string common = "time: \"02:00:00\"\nqueue: short\naccount: acc1\nproject: chem\nmemory_per_cpu: 2G\n"
                               "environment: {GREETING: \"hello 'world'\"}\n";
    PbsExecutor pro(parse_cluster_profile("scheduler: pbs\n" + common, "p.yaml"), dir / "pro", "ip-test");
    PbsExecutor torque(parse_cluster_profile("scheduler: pbs\npbs_flavor: torque\n" + common, "p.yaml"), dir / "torque", "ip-test");
    LsfExecutor lsf(parse_cluster_profile("scheduler: lsf\n" + common, "p.yaml"), dir / "lsf", "ip-test");
    const auto s_pro = pro.batch_script(0, 4, 4, dir / "table");
    CHECK(s_pro.find("#PBS -l select=1:ncpus=4:mem=8192mb\n") != std::string::npos);
    CHECK(s_pro.find("#PBS -l walltime=02:00:00\n") != std::string::npos);
    CHECK(s_pro.find("#PBS -q short\n") != std::string::npos);
    CHECK(s_pro.find("#PBS -A acc1\n") != std::string::npos);
    CHECK(s_pro.find("#PBS -P chem\n") != std::string::npos);
    const auto s_torque = torque.batch_script(0, 4, 4, dir / "table");
    CHECK(s_torque.find("#PBS -l nodes=1:ppn=4\n") != std::string::npos);
    CHECK(s_torque.find("#PBS -P") == std::string::npos);
    const auto s_lsf = lsf.batch_script(0, 4, 4, dir / "table");
    CHECK(s_lsf.find("#BSUB -n 4\n") != std::string::npos);
    CHECK(s_lsf.find("#BSUB -W 2:00\n") != std::string::npos);
    CHECK(s_lsf.find("#BSUB -q short\n") != std::string::npos);
    CHECK(s_lsf.find("#BSUB -P chem\n") != std::string::npos);
    CHECK(s_lsf.find("#BSUB -R \"span[hosts=1]\"\n") != std::string::npos);

    // Each script finds its line from the scheduler's index variable and records its exit status.
    auto jobs = echo_jobs(dir, 4);
    jobs[1].environment["EXTRA"] = "x;y";
    jobs[1].argv = {"/bin/sh", "-c", "echo \"$1|$GREETING|$EXTRA\"", "sh", "it's $HOME"};
    struct Case {
        BatchExecutor* ex;
        std::string env, exit_file, me;
    };
    const std::vector<Case> cases{
        {&pro, "PBS_JOBID='77[2].pbs01' PBS_ARRAY_INDEX=2", ".pbs-exit", "77[2].pbs01"},
        {&torque, "PBS_JOBID='78[2].torque01' PBS_ARRAYID=2", ".pbs-exit", "78[2].torque01"},
        {&lsf, "LSB_JOBID=79 LSB_JOBINDEX=2", ".lsf-exit", "79[2]"}};
    for (const auto& c : cases) {
        fs::remove(jobs[1].workdir / "out.txt");
        {
            std::ofstream t(dir / "table");
            for (const auto& j : jobs) t << c.ex->table_line(j) << "\n";
            std::ofstream(dir / "job.sh") << c.ex->batch_script(0, 4, 1, dir / "table");
        }
        const int status = std::system(("cd '" + dir.string() + "' && " + c.env + " bash job.sh > /dev/null 2>&1").c_str());
        CHECK(WEXITSTATUS(status) == 0);
        CHECK(testing::slurp(jobs[1].workdir / "out.txt") == "it's $HOME|hello 'world'|x;y\n");
        CHECK(testing::slurp(jobs[1].workdir / c.exit_file) == c.me + " 0\n");
    }
}

TEST_CASE("PBS Pro qstat JSON, Torque and PBS text, bjobs -o and -json are parsed") {
    const auto pro = parse_qstat_json(fixture("qstat_pro_json.txt"));
    REQUIRE(pro.size() == 7);
    std::map<std::string, SchedulerRow> by;
    for (const auto& r : pro) by[r.job] = r;
    CHECK(by.at("1234[].pbs01").state == "B");
    CHECK(by.at("1234[].pbs01").index == -1);
    CHECK(by.at("1234[1].pbs01").index == 1);
    CHECK(by.at("1234[1].pbs01").exit == 0);
    CHECK(by.at("1234[1].pbs01").tag == "ip-emt-1f2e3d4c.0");
    CHECK(by.at("1234[2].pbs01").exit == 2);
    CHECK(!by.at("1234[3].pbs01").exit);
    CHECK(by.at("1234[4].pbs01").reason.find("Insufficient") != std::string::npos);
    CHECK(by.at("1240.pbs01").exit == -29);

    const auto torque = parse_qstat_full(fixture("qstat_torque_full.txt"));
    REQUIRE(torque.size() == 3);
    CHECK(torque[0].job == "5678[1].torque01.cluster");
    CHECK(torque[0].tag == "ip-emt-1f2e3d4c.0");  // "NAME-1": the array's name
    CHECK(torque[0].index == 1);
    CHECK(torque[0].state == "C");
    CHECK(torque[0].exit == 0);
    CHECK(torque[1].exit == 271);
    CHECK(torque[2].state == "H");
    CHECK(!torque[2].exit);

    const auto bj = parse_bjobs(fixture("bjobs_o.txt"));
    REQUIRE(bj.size() == 11);
    CHECK(bj[0].job == "456[1]");
    CHECK(bj[0].index == 1);
    CHECK(bj[0].tag == "ip-emt-1f2e3d4c.0");
    CHECK(!bj[0].exit);
    CHECK(bj[1].exit == 3);
    CHECK(bj[5].job == "457");
    CHECK(bj[5].index == -1);
    CHECK(bj[5].reason.rfind("TERM_RUNLIMIT", 0) == 0);
    CHECK(parse_bjobs("No job found\n").empty());

    const auto bjj = parse_bjobs_json(fixture("bjobs_json.txt"));
    REQUIRE(bjj.size() == 3);
    CHECK(bjj[1].job == "456[2]");
    CHECK(bjj[1].exit == 3);
    CHECK(bjj[2].reason.rfind("TERM_RUNLIMIT", 0) == 0);
}

TEST_CASE("PBS and LSF states map to engine outcomes") {
    std::map<std::string, SchedulerRow> pro;
    for (const auto& r : parse_qstat_json(fixture("qstat_pro_json.txt"))) pro[r.job] = r;
    CHECK(pbs_fate(pro.at("1234[].pbs01")) == BatchFate::Active);  // B: the array has begun
    CHECK(pbs_fate(pro.at("1234[3].pbs01")) == BatchFate::Active);  // R
    CHECK(pbs_fate(pro.at("1234[4].pbs01")) == BatchFate::Active);  // Q
    CHECK(pbs_fate(pro.at("1234[1].pbs01")) == BatchFate::Ended);   // X, Exit_status 0
    CHECK(pbs_outcome("t", pro.at("1234[1].pbs01"), 0).succeeded());
    CHECK(pbs_outcome("t", pro.at("1234[2].pbs01"), 2).exit_code == 2);
    CHECK(pbs_fate(pro.at("1240.pbs01")) == BatchFate::TimeLimit);  // -29: walltime, continued with more time
    CHECK(pbs_outcome("t", pro.at("1240.pbs01"), -29).describe().find("walltime") != std::string::npos);
    CHECK(pbs_outcome("t", pro.at("1241.pbs01"), 271).signal == SIGTERM);
    for (const char* s : {"H", "W", "E", "T", "S", "U", "M"}) CHECK(pbs_fate({"1.s", s, "", "", -1, std::nullopt}) == BatchFate::Active);
    CHECK(pbs_fate({"1.s", "F", "", "", -1, -3}) == BatchFate::Resubmit);   // JOB_EXEC_RETRY
    CHECK(pbs_fate({"1.s", "C", "", "", -1, 1}) == BatchFate::Ended);       // Torque completed
    const SchedulerRow deleted{"1.s", "F", "", "", -1, std::nullopt};       // qdel while queued
    CHECK(pbs_fate(deleted) == BatchFate::Error);
    CHECK(pbs_outcome("t", deleted, std::nullopt).signal == SIGKILL);

    const auto bj = parse_bjobs(fixture("bjobs_o.txt"));
    CHECK(lsf_fate(bj[0]) == BatchFate::Ended);  // DONE
    CHECK(lsf_outcome("t", bj[0], std::nullopt).succeeded());
    CHECK(lsf_fate(bj[1]) == BatchFate::Ended);  // EXIT 3, no TERM_ reason: the program's code
    CHECK(lsf_outcome("t", bj[1], bj[1].exit).exit_code == 3);
    for (int i : {2, 3, 4, 10}) CHECK(lsf_fate(bj[static_cast<std::size_t>(i)]) == BatchFate::Active);  // RUN PEND SSUSP UNKWN
    CHECK(lsf_fate(bj[5]) == BatchFate::TimeLimit);  // TERM_RUNLIMIT: continued with more time
    CHECK(lsf_outcome("t", bj[5], 140).describe().find("run limit") != std::string::npos);
    CHECK(lsf_outcome("t", bj[6], 130).signal == SIGKILL);  // TERM_OWNER: retried as killed
    CHECK(lsf_outcome("t", bj[7], 137).describe().find("memory_per_cpu") != std::string::npos);
    CHECK(lsf_fate(bj[8]) == BatchFate::Resubmit);  // TERM_PREEMPT
    CHECK(lsf_fate(bj[9]) == BatchFate::Resubmit);  // ZOMBI
}

TEST_CASE("jobs run through the PBS Pro, Torque and LSF shims as arrays with one status call per cycle") {
    struct Case {
        std::string profile, submit, status;
    };
    for (const Case& c : {Case{"scheduler: pbs\n", "qsub", "qstat"}, Case{"scheduler: pbs\npbs_flavor: torque\n", "qsub", "qstat"},
                          Case{"scheduler: lsf\n", "bsub", "bjobs"}}) {
        CAPTURE(c.profile);
        const auto dir = testing::scratch("pbs-lsf-shim");
        const auto state = use_shims(dir);
        const auto profile = parse_cluster_profile(c.profile + kProfileTail, "p.yaml");
        auto ex = ExecutorRegistry::instance().create(profile.scheduler, {1, dir / "batch", "ip-test", profile});
        const auto jobs = echo_jobs(dir, 8);
        auto outcomes = run_all(*ex, jobs);
        REQUIRE(outcomes.size() == jobs.size());
        for (const auto& o : outcomes) {
            CAPTURE(o.describe());
            if (o.id == "task3") CHECK(o.exit_code == 3);
            else CHECK(o.succeeded());
        }
        CHECK(testing::slurp(jobs[5].workdir / "out.txt") == "it's #5\n");
        CHECK(count_calls(state, c.submit) == 1);       // one array
        CHECK(count_calls(state, c.status) <= 4);       // queued -> running -> done: a few cycles, not one per job
        const auto& counted = dynamic_cast<BatchExecutor&>(*ex).commands();
        CHECK(counted.at(c.submit) == 1);
    }
}

TEST_CASE("a PBS Pro walltime kill and an LSF run limit continue the task with more time") {
    // The shims report the first element as stopped at its time limit (PBS Pro Exit_status -29,
    // LSF EXIT TERM_RUNLIMIT) after its program died of SIGTERM, with the exit status 143 the
    // batch script recorded; the executor prepares the restart and submits again with twice the
    // time, and the continued program succeeds.
    struct Case {
        std::string profile, submit, first_limit, second_limit;
    };
    for (const Case& c : {Case{"scheduler: pbs\n", "qsub", "#PBS -l walltime=01:00:00", "#PBS -l walltime=02:00:00"},
                          Case{"scheduler: lsf\n", "bsub", "#BSUB -W 1:00", "#BSUB -W 2:00"}}) {
        CAPTURE(c.profile);
        const auto dir = testing::scratch("pbs-lsf-runlimit");
        const auto state = use_shims(dir);
        ::setenv("SHIM_RUNLIMIT_ONCE", (dir / "limit-reached").c_str(), 1);
        const auto profile = parse_cluster_profile(c.profile + kProfileTail, "p.yaml");
        auto ex = ExecutorRegistry::instance().create(profile.scheduler, {1, dir / "batch", "ip-test", profile});
        auto jobs = echo_jobs(dir, 1);
        jobs[0].argv = {"/bin/sh", "-c", "if [ -e checkpoint ]; then echo continued; exit 0; fi; kill -TERM $$"};
        int prepared = 0;
        jobs[0].prepare_restart = [&prepared, w = jobs[0].workdir] {
            std::ofstream(w / "checkpoint") << "x";
            return ++prepared > 0;
        };
        const auto outcomes = run_all(*ex, jobs);
        ::unsetenv("SHIM_RUNLIMIT_ONCE");
        REQUIRE(outcomes.size() == 1);
        CHECK_MESSAGE(outcomes[0].succeeded(), outcomes[0].describe());
        CHECK(prepared == 1);
        CHECK(count_calls(state, c.submit) == 2);
        CHECK(testing::slurp(dir / "batch" / "arrays" / "0.sh").find(c.first_limit) != std::string::npos);
        CHECK(testing::slurp(dir / "batch" / "arrays" / "1.sh").find(c.second_limit) != std::string::npos);
        CHECK(testing::slurp(dir / "batch" / "journal.jsonl").find("timeout_restart") != std::string::npos);
        CHECK(testing::slurp(jobs[0].workdir / "out.txt") == "continued\n");
    }
}

TEST_CASE("arrays: false submits one job per task") {
    const auto dir = testing::scratch("pbs-lsf-noarray");
    const auto state = use_shims(dir);
    const auto profile = parse_cluster_profile(std::string("scheduler: lsf\narrays: false\n") + kProfileTail, "p.yaml");
    LsfExecutor ex(profile, dir / "batch", "ip-test");
    const auto outcomes = run_all(ex, echo_jobs(dir, 5));
    CHECK(outcomes.size() == 5);
    CHECK(count_calls(state, "bsub") == 5);
}

TEST_CASE("cancel runs qdel or bkill once for the run") {
    for (const std::string sched : {"pbs", "lsf"}) {
        const auto dir = testing::scratch("pbs-lsf-cancel");
        const auto state = use_shims(dir);
        const auto profile = parse_cluster_profile("scheduler: " + sched + "\n" + kProfileTail, "p.yaml");
        auto ex = ExecutorRegistry::instance().create(sched, {1, dir / "batch", "ip-test", profile});
        for (const auto& j : echo_jobs(dir, 6)) ex->submit(j);
        CHECK(ex->wait(0ms).empty());  // submitted, nothing ended yet
        ex->cancel_all();
        const auto outcomes = ex->wait(0ms);
        CHECK(outcomes.size() == 6);
        for (const auto& o : outcomes) CHECK(o.signal == SIGTERM);
        CHECK(count_calls(state, sched == "pbs" ? "qdel" : "bkill") == 1);
        CHECK(ex->running() == 0);
    }
}

TEST_CASE("a killed engine's PBS and LSF jobs are re-attached from the journal") {
    for (const std::string sched : {"pbs", "lsf"}) {
        const auto dir = testing::scratch("pbs-lsf-reattach");
        const auto state = use_shims(dir);
        const auto profile = parse_cluster_profile("scheduler: " + sched + "\n" + kProfileTail, "p.yaml");
        const auto jobs = echo_jobs(dir, 3);
        {
            auto first = ExecutorRegistry::instance().create(sched, {1, dir / "batch", "ip-test", profile});
            for (const auto& j : jobs) first->submit(j);
            first->wait(0ms);  // submitted; then the engine "dies"
        }
        auto second = ExecutorRegistry::instance().create(sched, {1, dir / "batch", "ip-test", profile});
        std::vector<JobOutcome> outcomes;
        for (const auto& j : jobs) REQUIRE(second->reattach(j));
        for (int i = 0; i < 100 && outcomes.size() < jobs.size(); ++i)
            for (auto& o : second->wait(200ms)) outcomes.push_back(std::move(o));
        CHECK(outcomes.size() == jobs.size());
        CHECK(count_calls(state, sched == "pbs" ? "qsub" : "bsub") == 1);  // never submitted twice
    }
}

TEST_CASE("an EMT workflow through the PBS and LSF shims gives the local executor's results") {
    const auto dir = testing::scratch("pbs-lsf-emt");
    fs::copy_file(kHere / "data/emt_small.yaml", dir / "wf.yaml");
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir local --quiet", "local.log") == 0);
    const auto reference = testing::h5_numbers(dir / "local" / "results.h5");
    REQUIRE(reference != "<unreadable>");
    struct Case {
        std::string name, profile, submit, status;
    };
    for (const Case& c : {Case{"pbs", "scheduler: pbs\n", "qsub", "qstat"}, Case{"torque", "scheduler: pbs\npbs_flavor: torque\n", "qsub", "qstat"},
                          Case{"lsf", "scheduler: lsf\n", "bsub", "bjobs"}}) {
        CAPTURE(c.name);
        const auto state = use_shims(dir / c.name);
        std::ofstream(dir / (c.name + ".yaml")) << c.profile << kProfileTail;
        const auto executor = c.name == "torque" ? std::string("pbs") : c.name;
        const int rc = testing::run_cli(dir, fmt::format("run wf.yaml --run-dir run-{} --executor {} --cluster-profile {}.yaml --quiet",
                                                         c.name, executor, c.name),
                                        c.name + ".log");
        INFO(testing::slurp(dir / (c.name + ".log")).substr(0, 3000));
        REQUIRE(rc == 0);
        CHECK(testing::h5_numbers(dir / ("run-" + c.name) / "results.h5") == reference);
        const int submits = count_calls(state, c.submit), polls = count_calls(state, c.status);
        MESSAGE(fmt::format("{}: {} {} and {} {} calls", c.name, submits, c.submit, polls, c.status));
        CHECK(submits >= 1);
        CHECK(submits <= 6);  // one array per wave of ready tasks
    }
}
