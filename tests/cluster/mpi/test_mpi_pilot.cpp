// The MPI pilot under a real `mpirun` (OpenMPI from Debian), label "mpi": a builtin (EMT)
// workflow run by `mpirun -np 1|2|3 interphase worker` gives the local executor's results, its
// calculations ran on the worker ranks (RUN_DIR/mpi/journal.tsv), and a worker rank killed with
// SIGKILL in the middle of a job is noticed by its missing heartbeats; its job goes to another
// rank and the run completes; an external code that starts its own mpirun (CP2K on 2 cores) runs
// inside the pilot as a nested MPI job. Runs as root too (OMPI_ALLOW_RUN_AS_ROOT*, --oversubscribe).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cluster/mpi/pilot_journal.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using interphase::testing::run_cli;
using interphase::testing::slurp;

namespace {

const fs::path kWorkflow = fs::path("tests/cluster/mpi/data/emt_pilot.yaml");

std::string mpiexec() {
    const char* e = std::getenv("INTERPHASE_MPIEXEC");
    return e && *e ? e : "mpirun";
}

// `mpirun -np N interphase worker ARGS` in `dir` (as a shell command line; test-controlled text).
std::string pilot_command(const fs::path& dir, int np, const std::string& args, const std::string& env = "") {
    // --enable-recovery: OpenMPI 4.1 otherwise ends the whole job when one rank dies (docs/executors.md).
    return fmt::format("cd '{}' && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 {} '{}' --oversubscribe "
                       "--enable-recovery -np {} '{}' worker {}",
                       dir.string(), env, mpiexec(), np, testing::cli().string(), args);
}

int run_pilot(const fs::path& dir, int np, const std::string& args, const std::string& log) {
    const std::string cmd = pilot_command(dir, np, args) + " > '" + log + "' 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The science part of `interphase results --json` (provenance differs between runs by design).
nlohmann::json science(const fs::path& dir, const std::string& run) {
    REQUIRE(run_cli(dir, "results " + run + " --json", run + ".json") == 0);
    auto j = nlohmann::json::parse(slurp(dir / (run + ".json")));
    return {{"binding_energies", j["binding_energies"]}, {"pairs", j["pairs"]}};
}

fs::path prepare(const std::string& name) {
    const auto dir = testing::scratch(name);
    fs::copy_file(testing::source_dir() / kWorkflow, dir / "wf.yaml");
    return dir;
}

}  // namespace

TEST_CASE("mpirun -np 1, 2 and 3: the local executor's results, computed on the worker ranks") {
    const auto dir = prepare("mpi-pilot");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir local --quiet", "local.log") == 0);
    const auto expected = science(dir, "local");
    REQUIRE(expected["binding_energies"].size() == 4);

    for (int np : {1, 2, 3}) {
        CAPTURE(np);
        const std::string run = fmt::format("np{}", np);
        const int rc = run_pilot(dir, np, run + " --workflow wf.yaml", run + ".log");
        INFO(slurp(dir / (run + ".log")));
        REQUIRE(rc == 0);
        CHECK(science(dir, run) == expected);
        const auto done = testing::done_per_rank(dir / run);
        int total = 0;
        for (const auto& [rank, n] : done) total += n;
        CHECK(total == 18);  // every calculation went through the pilot
        if (np == 1) {
            CHECK(done.size() == 1);
            CHECK(done.count(0) == 1);  // a lone rank runs its jobs itself
        } else {
            CHECK(done.count(0) == 0);  // rank 0 only schedules
            for (int r = 1; r < np; ++r) CHECK(done.count(r) == 1);
        }
    }
}

TEST_CASE("a worker rank killed with SIGKILL mid-job: noticed, its job reassigned, the run completes") {
    const auto dir = prepare("mpi-pilot-kill");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir local --quiet", "local.log") == 0);
    const auto expected = science(dir, "local");

    // Each job waits 300 ms on its worker first (INTERPHASE_PILOT_JOB_DELAY_MS), so a kill lands mid-job.
    const std::string cmd =
        pilot_command(dir, 3, "run --workflow wf.yaml --heartbeat-interval 0.2 --heartbeat-timeout 2",
                      "INTERPHASE_PILOT_JOB_DELAY_MS=300") +
        " > pilot.log 2>&1";
    const pid_t shell = ::fork();
    REQUIRE(shell >= 0);
    if (shell == 0) {
        ::setpgid(0, 0);  // its own process group, so a hung job can be ended as a whole
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Wait until rank 2 has said hello and has started a job, then kill it.
    long victim = 0;
    std::string victim_task;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (victim_task.empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (const auto& l : testing::pilot_journal(dir / "run")) {
            if (l.rank != 2) continue;
            if (l.event == "hello") victim = l.pid;
            if (l.event == "start" && victim > 0) victim_task = l.task;
        }
    }
    REQUIRE(victim > 0);
    REQUIRE(!victim_task.empty());
    // Never signal a stranger: the pid must be an `interphase worker` process.
    REQUIRE(slurp(fs::path("/proc") / std::to_string(victim) / "cmdline").find("worker") != std::string::npos);
    REQUIRE(::kill(static_cast<pid_t>(victim), SIGKILL) == 0);

    int status = 0;
    INFO(slurp(dir / "pilot.log"));
    INFO(slurp(dir / "run" / "mpi" / "journal.tsv"));
    // The pilot must end by itself: a rank hung in MPI_Finalize leaves after 20 s (Pilot::set_exit_status).
    pid_t ended = 0;
    for (int i = 0; i < 1800 && ended == 0; ++i) {
        ended = ::waitpid(shell, &status, WNOHANG);
        if (ended == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ended == 0) {
        ::kill(-shell, SIGKILL);
        ::waitpid(shell, &status, 0);
        FAIL("mpirun did not end within 180 s of the kill");
    }
    REQUIRE(ended == shell);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);

    std::set<std::string> lost, reassigned;
    std::string reassigned_to;
    for (const auto& l : testing::pilot_journal(dir / "run")) {
        if (l.event == "lost" && l.rank == 2) lost.insert(l.task);
        if (l.event == "reassign") reassigned.insert(l.task), reassigned_to += std::to_string(l.rank);
    }
    REQUIRE(lost.size() == 1);
    const std::string task = *lost.begin();
    CHECK(task != "-");
    CHECK(reassigned.count(task) == 1);
    CHECK(reassigned_to == "1");
    // After the loss, only rank 1 finished jobs, and the run's results are the local ones.
    CHECK(science(dir, "run") == expected);
    const auto done = testing::done_per_rank(dir / "run");
    CHECK(done.at(1) > 0);
}

TEST_CASE("an external code that starts its own mpirun runs inside the pilot (CP2K on 2 cores)") {
    // The CP2K plugin launches `mpirun -np 2 cp2k.psmp` for a 2-core calculation. Inside the
    // pilot that is a nested OpenMPI job, refused as a "recursive call" unless the worker drops
    // its own MPI runtime's variables (OMPI_*, PMIX_*...) from the code's environment.
    if (!testing::have_cp2k()) {
        MESSAGE("cp2k.psmp not on PATH: skipped (scripts/setup.sh installs it)");
        return;
    }
    const auto dir = testing::scratch("mpi-pilot-cp2k");
    {
        std::ofstream(dir / "li2.xyz") << "2\nLattice=\"7 0 0 0 7 0 0 0 8\" Properties=species:S:1:pos:R:3 pbc=\"F F F\"\n"
                                          "Li 3.5 3.5 2.65\nLi 3.5 3.5 5.35\n";
        std::ofstream(dir / "wf.yaml") << "workflow: calculation\ncalculator: {code: cp2k, cutoff: 150, rel_cutoff: 30}\n"
                                          "protocol: {name: plumbing}\nstructure: li2.xyz\nrelax: false\n";
    }
    const int rc = run_pilot(dir, 2, "run --workflow wf.yaml --cores 2", "pilot.log");
    INFO(slurp(dir / "pilot.log"));
    REQUIRE(rc == 0);
    const auto done = testing::done_per_rank(dir / "run");
    CHECK(done.count(1) == 1);  // computed on the worker rank
    // CP2K ran as a 2-process MPI job of its own.
    fs::path out;
    for (const auto& e : fs::recursive_directory_iterator(dir / "run" / "tasks"))
        if (e.path().filename() == "cp2k.out") out = e.path();
    REQUIRE(!out.empty());
    const std::string text = slurp(out);
    CHECK(text.find("Total number of message passing processes                             2") != std::string::npos);
    CHECK(text.find("PROGRAM ENDED AT") != std::string::npos);
}
