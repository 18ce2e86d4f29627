// The PBS (Pro and Torque) and LSF parsers on CAPTURED outputs of real schedulers, copied from the
// test suites of other projects (data/captured/*.txt; each file's "#@" lines say where it comes from:
// repository, path, commit, license, and whether the source says it was recorded on a cluster).
// Where test_pbs_lsf.cpp checks our reading of the documented formats, this checks what a user
// would read off these real answers by eye: the job ids, states, names, exit statuses and the
// engine's fate of each job. None of the captures has a job array (see docs/cluster.md).
#include <doctest/doctest.h>

#include <csignal>
#include <sstream>

#include "cluster/lsf_executor.hpp"
#include "cluster/pbs_executor.hpp"
#include "cluster/profile.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::cluster;

namespace {

const fs::path kCaptured = testing::source_dir() / "tests/cluster/pbs_lsf/data/captured";

// A capture without its "#@" provenance lines: the rest is byte for byte what the source holds.
std::string capture(const std::string& name) {
    const std::string all = testing::slurp(kCaptured / name);
    REQUIRE_MESSAGE(!all.empty(), "missing capture " << name);
    std::string out;
    std::size_t at = 0;
    while (at < all.size() && all.compare(at, 2, "#@") == 0) {
        const auto nl = all.find('\n', at);
        at = nl == std::string::npos ? all.size() : nl + 1;
    }
    return all.substr(at);
}

std::vector<std::string> column(const std::vector<SchedulerRow>& rows, std::string SchedulerRow::*field) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.*field);
    return out;
}

using Strings = std::vector<std::string>;

// Exposes the protected submission parser.
struct LsfProbe : LsfExecutor {
    using LsfExecutor::LsfExecutor;
    using LsfExecutor::parse_submission;
};

}  // namespace

TEST_CASE("captured PBS Pro qstat -f (aiida-core, 2013): ids, states, names and wrapped comments") {
    const auto rows = parse_qstat_full(capture("aiida_pbspro_qstat_f.txt"));
    REQUIRE(rows.size() == 6);
    CHECK(column(rows, &SchedulerRow::job) == Strings{"68350.mycluster", "68351.mycluster", "69301.mycluster",
                                                      "69302.mycluster", "74164.mycluster", "74165.mycluster"});
    CHECK(column(rows, &SchedulerRow::state) == Strings{"Q", "Q", "R", "H", "R", "H"});
    CHECK(column(rows, &SchedulerRow::tag) ==
          Strings{"cell-Qnormal", "cell-Qnormal", "Cu-dbp", "Cu-dbp", "u-100-l-96.job", "u-100-l-97.job"});
    for (const auto& r : rows) {
        CHECK(r.index == -1);  // plain jobs
        CHECK(!r.exit);        // none has finished
        CHECK(pbs_fate(r) == BatchFate::Active);
    }
    CHECK(rows[0].reason == "Not Running: Node is in an ineligible state: offline");
    // A comment wrapped by qstat onto a TAB-indented line is joined again.
    CHECK(rows[2].reason == "Job run at Sat Apr 20 at 01:36 on (b141:ncpus=16)+(b142:ncpus=16)"
                            "+(b143:ncpus=16)+(b144:ncpus=16)");
    CHECK(rows[4].reason == "Job run at Mon Apr 22 at 07:17 on (b270:ncpus=16)+(b275:ncpus=16)");
    CHECK(rows[3].reason.empty());
}

TEST_CASE("captured Torque qstat -f (aiida-core, ICHEC 2015): completed jobs, exit_status 271, raw newlines") {
    const auto rows = parse_qstat_full(capture("aiida_torque_qstat_f.txt"));
    REQUIRE(rows.size() == 10);
    CHECK(column(rows, &SchedulerRow::job) == Strings{"549159", "555716", "556491", "546437", "547637", "547683",
                                                      "549004", "549005", "549008", "543984"});
    CHECK(column(rows, &SchedulerRow::state) == Strings{"H", "R", "R", "C", "Q", "Q", "Q", "Q", "Q", "C"});
    CHECK(column(rows, &SchedulerRow::tag) == Strings{"somejob", "ini_J2", "somejob010", "job_546437", "job_546437",
                                                      "job_547683", "job_549004", "job_549004", "job_549008",
                                                      "job_543984"});
    for (const auto& r : rows) {
        CHECK(r.index == -1);
        CHECK(r.reason.empty());  // no comment attribute in this Torque's answer
        if (r.state == "C") {
            // exit_status 271 = 256 + 15: the job was killed by SIGTERM (walltime or qdel).
            CHECK(r.exit == 271);
            CHECK(pbs_fate(r) == BatchFate::Ended);
            const auto o = pbs_outcome(r.job, r, r.exit);
            CHECK(o.signal == SIGTERM);
            CHECK(!o.succeeded());
        } else {
            CHECK(!r.exit);
            CHECK(pbs_fate(r) == BatchFate::Active);
        }
    }
    // The last job's sched_hint runs over raw newlines ("*** error from copy", "/bin/cp: ..."): the
    // attributes after it (exit_status) are still read.
    CHECK(rows[9].exit == 271);
}

TEST_CASE("captured PBS Pro qstat -f on Gadi-like systems (aiida-core fixtures, pysqa)") {
    const auto running = parse_qstat_full(capture("aiida_pbspro_qstat_f_running.txt"));
    REQUIRE(running.size() == 1);
    CHECK(running[0].job == "171390152.mycluster");
    CHECK(running[0].state == "R");
    CHECK(running[0].tag == "script.sh");
    CHECK(running[0].reason ==
          "Job run at Wed Jun 17 at 04:57 on (mycluster-cpu-0686:ncpus=1:mem=512000kb:jobfs=102400kb)");
    CHECK(pbs_fate(running[0]) == BatchFate::Active);

    // Variable_List with an exported multi-line bash function: lines that start with a space or "}".
    const auto func = parse_qstat_full(capture("aiida_pbspro_qstat_f_multiline_func.txt"));
    REQUIRE(func.size() == 1);
    CHECK(func[0].job == "171389798.mycluster");
    CHECK(func[0].state == "Q");
    CHECK(func[0].tag == "script.sh");
    CHECK(!func[0].exit);
    CHECK(func[0].reason.empty());

    // Continuation lines indented with 8 spaces instead of a TAB in this copy.
    const auto gadi = parse_qstat_full(capture("pysqa_gadi_qstat_f.txt"));
    REQUIRE(gadi.size() == 3);
    CHECK(column(gadi, &SchedulerRow::job) ==
          Strings{"80005196.gadi-pbs", "80005197.gadi-pbs", "80005198.gadi-pbs"});
    CHECK(column(gadi, &SchedulerRow::state) == Strings{"R", "Q", "Q"});
    CHECK(column(gadi, &SchedulerRow::tag) ==
          Strings{"test1", "test2", "test_asdfasdfasdfasdfasdfasdfasdfasdfasdfasdf"});
    for (const auto& r : gadi) {
        CHECK(!r.exit);
        CHECK(r.index == -1);
        CHECK(pbs_fate(r) == BatchFate::Active);
    }
}

TEST_CASE("captured PBS Pro qstat -xf -F json (flow123d/swrap, MetaCentrum 2022)") {
    const std::string text = capture("swrap_metacentrum_qstat_xf_json.txt");
    const auto rows = parse_qstat_json(text);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].job == "12860476.meta-pbs.metacentrum.cz");
    CHECK(rows[0].state == "R");
    CHECK(rows[0].tag == "swrap_01");
    CHECK(rows[0].index == -1);
    CHECK(!rows[0].exit);
    CHECK(rows[0].reason ==
          "Job run at Tue Oct 04 at 21:23 on (charon24:ncpus=2:mem=4194304kb)+(charon21:ncpus=2:mem=4194304kb)");
    CHECK(pbs_fate(rows[0]) == BatchFate::Active);

    // The capture shows qstat printing numeric-looking values unquoted ("PBS_RESC_MEM":4294967296).
    // A job whose name looks like a number comes out the same way: derived from the capture by
    // renaming the job, it must still parse (it threw nlohmann::type_error before).
    std::string numeric = text;
    const std::string name = "\"Job_Name\":\"swrap_01\"";
    REQUIRE(numeric.find(name) != std::string::npos);
    numeric.replace(numeric.find(name), name.size(), "\"Job_Name\":20221004");
    const auto renamed = parse_qstat_json(numeric);
    REQUIRE(renamed.size() == 1);
    CHECK(renamed[0].tag == "20221004");
    CHECK(renamed[0].state == "R");
}

TEST_CASE("captured LSF bjobs -o (aiida-core, CERN lxplus) in our column order") {
    // aiida asks for "id stat exit_reason exec_host user slots max_req_proc exec_host queue
    // finish_time start_time %complete submit_time name" (see the capture's notes); we ask for
    // "jobid jobindex stat exit_code exit_reason job_name". Each line is rewritten into ours
    // (no array index, no exit code column in theirs) and given to parse_bjobs.
    std::istringstream in(capture("aiida_lsf_bjobs_o.txt"));
    std::string ours;
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        std::vector<std::string> f;
        std::stringstream fields(line);
        for (std::string x; std::getline(fields, x, '|');) f.push_back(x);
        REQUIRE(f.size() == 14);
        ours += f[0] + "|0|" + f[1] + "|-|" + f[2] + "|" + f[13] + "\n";
    }
    CHECK(lines == 7);
    const auto rows = parse_bjobs(ours);
    REQUIRE(rows.size() == 7);
    CHECK(column(rows, &SchedulerRow::job) ==
          Strings{"764213236", "764220165", "764220167", "764254593", "764255172", "764245175", "764399747"});
    CHECK(column(rows, &SchedulerRow::state) == Strings{"EXIT", "PEND", "PEND", "RUN", "RUN", "RUN", "DONE"});
    CHECK(column(rows, &SchedulerRow::tag) ==
          Strings{"aiida-1033269", "aiida-1033444", "aiida-1033449", "test", "test", "test", "test"});
    CHECK(rows[0].reason == "TERM_RUNLIMIT: job killed after reaching LSF run time limit");
    for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].reason.empty());  // "-"
    for (const auto& r : rows) CHECK(r.index == -1);

    CHECK(lsf_fate(rows[0]) == BatchFate::TimeLimit);  // continued with more time
    CHECK(lsf_outcome(rows[0].job, rows[0], std::nullopt).describe().find("run limit") != std::string::npos);
    for (std::size_t i = 1; i <= 5; ++i) CHECK(lsf_fate(rows[i]) == BatchFate::Active);  // PEND, RUN
    CHECK(lsf_fate(rows[6]) == BatchFate::Ended);
    CHECK(lsf_outcome(rows[6].job, rows[6], std::nullopt).succeeded());
}

TEST_CASE("captured LSF bjobs -json (BatchEuphoria, DKFZ)") {
    // Only jobid, job_name, stat and finish_time were asked for: no JOBINDEX, EXIT_CODE, EXIT_REASON.
    const auto six = parse_bjobs_json(capture("batcheuphoria_bjobs_json_6jobs.txt"));
    REQUIRE(six.size() == 6);
    CHECK(column(six, &SchedulerRow::job) == Strings{"487641", "487642", "488155", "491861", "491864", "491867"});
    CHECK(column(six, &SchedulerRow::state) == Strings{"EXIT", "EXIT", "EXIT", "DONE", "DONE", "DONE"});
    CHECK(six[5].tag == "RoddyTest_testScriptMultiInMixedParameters");
    for (const auto& r : six) {
        CHECK(r.index == -1);
        CHECK(!r.exit);
        CHECK(r.reason.empty());
        CHECK(lsf_fate(r) == BatchFate::Ended);
    }
    CHECK(lsf_outcome(six[3].job, six[3], std::nullopt).succeeded());           // DONE
    CHECK(!lsf_outcome(six[0].job, six[0], std::nullopt).error.empty());        // EXIT, code unknown
    CHECK(lsf_outcome(six[0].job, six[0], std::nullopt).describe().find("without an exit code") !=
          std::string::npos);

    // 33 fields, "\/"-escaped paths, EXIT_CODE "" for a DONE job.
    const auto one = parse_bjobs_json(capture("batcheuphoria_bjobs_json_22005.txt"));
    REQUIRE(one.size() == 1);
    CHECK(one[0].job == "22005");
    CHECK(one[0].state == "DONE");
    CHECK(one[0].tag == "ls -l");
    CHECK(!one[0].exit);
    CHECK(lsf_fate(one[0]) == BatchFate::Ended);
    CHECK(lsf_outcome(one[0].job, one[0], one[0].exit).succeeded());
}

TEST_CASE("captured bsub answer (aiida-core, CERN) gives the job id") {
    const auto dir = testing::scratch("captured-submit");
    LsfProbe lsf(parse_cluster_profile("scheduler: lsf\n", "p.yaml"), dir / "lsf", "ip-test");
    CHECK(lsf.parse_submission({0, capture("aiida_lsf_bsub.txt"), ""}) == "764254593");
    fs::remove_all(dir);
}
