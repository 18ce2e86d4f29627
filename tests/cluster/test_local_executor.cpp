// The local executor against real programs: exit codes, signals, output files, workdir,
// environment, the core budget (measured with timestamps the jobs write), missing programs,
// cancellation of whole process groups, and no zombies left behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "cluster/local_executor.hpp"
#include "common/errors.hpp"
#include "test_paths.hpp"

using namespace interphase::cluster;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using interphase::testing::slurp;

namespace {


Job program_job(const std::string& id, std::vector<std::string> argv, const fs::path& workdir) {
    Job job;
    job.id = id;
    job.argv = std::move(argv);
    job.workdir = workdir;
    return job;
}

Job shell_job(const std::string& id, const fs::path& workdir, const std::string& script, int cores = 1) {
    Job job;
    job.id = id;
    job.argv = {"/bin/sh", "-c", script};
    job.workdir = workdir;
    job.cores = cores;
    return job;
}

/// True while `pid` runs; a zombie (dead, waiting for its new parent to reap it) counts as
/// gone. Orphans are reparented to init or a subreaper, which may reap them late.
bool process_alive(pid_t pid) {
    std::ifstream stat(fs::path("/proc") / std::to_string(pid) / "stat");
    if (!stat) return false;
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    if (paren == std::string::npos || paren + 2 >= text.size()) return false;
    return text[paren + 2] != 'Z' && text[paren + 2] != 'X';
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (process_alive(pid)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

/// No child of this process is left, running or zombie.
void check_no_children() {
    int status = 0;
    errno = 0;
    CHECK(::waitpid(-1, &status, WNOHANG) == -1);
    CHECK(errno == ECHILD);
}

pid_t wait_for_pid_file(const fs::path& file) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string text = slurp(file);
        if (!text.empty() && text.back() == '\n') return static_cast<pid_t>(std::stol(text));
        std::this_thread::sleep_for(10ms);
    }
    FAIL("no pid written to " << file);
    return -1;
}

/// Highest number of [start, end] intervals covering one instant.
int max_overlap(std::vector<std::pair<long long, long long>> intervals) {
    std::vector<std::pair<long long, int>> events;
    for (auto [start, end] : intervals) {
        events.emplace_back(start, +1);
        events.emplace_back(end, -1);
    }
    std::sort(events.begin(), events.end());  // at equal times the end (-1) sorts first
    int current = 0, best = 0;
    for (auto [t, delta] : events) best = std::max(best, current += delta);
    return best;
}

/// Runs `jobs` the way the engine does (submit while free cores allow, then wait) and
/// returns the [start, end] nanosecond timestamps each job wrote.
std::vector<std::pair<long long, long long>> schedule(LocalExecutor& executor, std::deque<Job> jobs,
                                                      const std::vector<fs::path>& dirs) {
    while (!jobs.empty() || executor.running() > 0) {
        while (!jobs.empty() && executor.free_cores() >= jobs.front().cores) {
            executor.submit(jobs.front());
            jobs.pop_front();
            CHECK(executor.free_cores() >= 0);
        }
        for (const auto& outcome : executor.wait(10s)) CHECK_MESSAGE(outcome.succeeded(), outcome.describe());
    }
    std::vector<std::pair<long long, long long>> intervals;
    for (const auto& dir : dirs)
        intervals.emplace_back(std::stoll(slurp(dir / "start")), std::stoll(slurp(dir / "end")));
    return intervals;
}

}  // namespace

TEST_CASE("exit codes and describe()") {
    auto dir = interphase::testing::scratch("exec-exit");
    LocalExecutor executor(2);
    CHECK(executor.name() == "local");
    CHECK(executor.capacity() == 2);

    Job ok = program_job("true", {"/bin/true"}, dir);
    auto outcome = run_to_completion(executor, ok);
    CHECK(outcome.id == "true");
    CHECK(outcome.succeeded());
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.describe() == "exit code 0");

    Job bad = program_job("false", {"false"}, dir);  // found on PATH
    outcome = run_to_completion(executor, bad);
    CHECK_FALSE(outcome.succeeded());
    CHECK(outcome.exit_code == 1);

    outcome = run_to_completion(executor, shell_job("three", dir, "exit 3"));
    CHECK(outcome.exit_code == 3);
    CHECK(outcome.signal == 0);
    CHECK(outcome.describe() == "exit code 3");
    CHECK(outcome.wall_seconds >= 0.0);
    CHECK(outcome.wall_seconds < 5.0);

    CHECK(executor.free_cores() == 2);
    check_no_children();
}

TEST_CASE("a job killed by a signal reports it") {
    auto dir = interphase::testing::scratch("exec-signal");
    LocalExecutor executor(1);
    auto outcome = run_to_completion(executor, shell_job("self-kill", dir, "kill -9 $$"));
    CHECK(outcome.signal == SIGKILL);
    CHECK_FALSE(outcome.succeeded());
    CHECK(outcome.describe() == "killed by signal 9 (SIGKILL)");
    outcome = run_to_completion(executor, shell_job("segv", dir, "kill -SEGV $$"));
    CHECK(outcome.describe() == "killed by signal 11 (SIGSEGV)");
    CHECK(signal_name(200) == "signal 200");
    check_no_children();
}

TEST_CASE("stdout and stderr go to files in the workdir") {
    auto dir = interphase::testing::scratch("exec-output");
    LocalExecutor executor(1);

    SUBCASE("default names") {
        auto outcome = run_to_completion(executor, shell_job("out", dir, "echo hello; echo oops >&2"));
        CHECK(outcome.succeeded());
        CHECK(slurp(dir / "stdout.txt") == "hello\n");
        CHECK(slurp(dir / "stderr.txt") == "oops\n");
    }
    SUBCASE("relative and absolute paths") {
        auto job = shell_job("out", dir, "echo to-out; echo to-err >&2");
        job.stdout_path = "calc.out";
        job.stderr_path = dir / "elsewhere.err";
        CHECK(run_to_completion(executor, job).succeeded());
        CHECK(slurp(dir / "calc.out") == "to-out\n");
        CHECK(slurp(dir / "elsewhere.err") == "to-err\n");
    }
    SUBCASE("one file for both streams keeps every line") {
        auto job = shell_job("out", dir, "echo one; echo two >&2; echo three");
        job.stdout_path = "log.txt";
        job.stderr_path = "log.txt";
        CHECK(run_to_completion(executor, job).succeeded());
        CHECK(slurp(dir / "log.txt") == "one\ntwo\nthree\n");
    }
    SUBCASE("stdin is /dev/null, so a job never waits for the terminal") {
        auto outcome = run_to_completion(executor, shell_job("in", dir, "cat; echo done"));
        CHECK(outcome.succeeded());
        CHECK(slurp(dir / "stdout.txt") == "done\n");
    }
    SUBCASE("an output file that cannot be opened is an ExecutionError naming it") {
        auto job = shell_job("out", dir, "true");
        job.stdout_path = "missing-folder/out.txt";
        CHECK_THROWS_WITH_AS(executor.submit(job), doctest::Contains("missing-folder/out.txt"),
                             interphase::ExecutionError);
        CHECK(executor.free_cores() == 1);
    }
    check_no_children();
}

TEST_CASE("the job runs in its workdir") {
    auto dir = interphase::testing::scratch("exec-workdir");
    fs::create_directories(dir / "task-7");
    LocalExecutor executor(1);
    auto outcome = run_to_completion(executor, shell_job("pwd", dir / "task-7", "pwd -P; touch created-here"));
    CHECK(outcome.succeeded());
    CHECK(slurp(dir / "task-7" / "stdout.txt") == fs::canonical(dir / "task-7").string() + "\n");
    CHECK(fs::exists(dir / "task-7" / "created-here"));

    // A relative program path is relative to the workdir, as in a shell started there.
    {
        std::ofstream script(dir / "task-7" / "run.sh");
        script << "#!/bin/sh\necho from-script\n";
    }
    fs::permissions(dir / "task-7" / "run.sh", fs::perms::owner_all);
    Job relative = program_job("rel", {"./run.sh"}, dir / "task-7");
    CHECK(run_to_completion(executor, relative).succeeded());
    CHECK(slurp(dir / "task-7" / "stdout.txt") == "from-script\n");

    CHECK_THROWS_AS(executor.submit(shell_job("nowhere", dir / "no-such-dir", "true")),
                    interphase::ExecutionError);
    check_no_children();
}

TEST_CASE("environment: inherited plus the job's variables") {
    auto dir = interphase::testing::scratch("exec-env");
    ::setenv("INTERPHASE_TEST_INHERITED", "from-parent", 1);
    ::setenv("INTERPHASE_TEST_OVERRIDDEN", "old", 1);
    LocalExecutor executor(1);
    auto job = shell_job("env", dir,
                         "printf '%s|%s|%s|%s' \"$INTERPHASE_TEST_INHERITED\" \"$INTERPHASE_TEST_OVERRIDDEN\" "
                         "\"$OMP_NUM_THREADS\" \"$INTERPHASE_TEST_UTF8\"");
    job.environment = {{"INTERPHASE_TEST_OVERRIDDEN", "new"},
                       {"OMP_NUM_THREADS", "4"},
                       {"INTERPHASE_TEST_UTF8", "Li in Å, ΔE = 0.1 eV"}};
    CHECK(run_to_completion(executor, job).succeeded());
    CHECK(slurp(dir / "stdout.txt") == "from-parent|new|4|Li in Å, ΔE = 0.1 eV");
    // The parent's own environment is untouched.
    CHECK(std::string(std::getenv("INTERPHASE_TEST_OVERRIDDEN")) == "old");

    // A PATH given by the job is the one used to find the program.
    fs::create_directories(dir / "bin");
    {
        std::ofstream tool(dir / "bin" / "interphase-fake-dft");
        tool << "#!/bin/sh\necho fake-dft-ran\n";
    }
    fs::permissions(dir / "bin" / "interphase-fake-dft", fs::perms::owner_all);
    Job fake = program_job("fake", {"interphase-fake-dft"}, dir);
    CHECK_FALSE(run_to_completion(executor, fake).succeeded());  // not on the inherited PATH
    fake.environment = {{"PATH", (dir / "bin").string() + ":/usr/bin:/bin"}};
    CHECK(run_to_completion(executor, fake).succeeded());
    CHECK(slurp(dir / "stdout.txt") == "fake-dft-ran\n");
    // Relative PATH entries and a relative workdir both resolve as a shell started there would.
    fake.workdir = fs::relative(dir);
    REQUIRE(fake.workdir.is_relative());
    fake.environment = {{"PATH", "bin:/usr/bin:/bin"}};
    fs::remove(dir / "stdout.txt");
    CHECK(run_to_completion(executor, fake).succeeded());
    CHECK(slurp(dir / "stdout.txt") == "fake-dft-ran\n");
    ::unsetenv("INTERPHASE_TEST_INHERITED");
    ::unsetenv("INTERPHASE_TEST_OVERRIDDEN");
    check_no_children();
}

TEST_CASE("environment: inherited variables under a dropped prefix are not passed on") {
    // What the MPI pilot does for external codes: the pilot's OMPI_*/PMIX_* variables would make
    // the code's own mpirun refuse to start ("recursive call"); the job's own variables stay.
    auto dir = interphase::testing::scratch("exec-env-drop");
    ::setenv("OMPI_INTERPHASE_TEST", "pilot", 1);
    ::setenv("PMIX_INTERPHASE_TEST", "pilot", 1);
    ::setenv("INTERPHASE_TEST_KEPT", "kept", 1);
    LocalExecutor executor(1);
    auto job = shell_job("env-drop", dir,
                         "printf '%s|%s|%s|%s' \"${OMPI_INTERPHASE_TEST:-unset}\" \"${PMIX_INTERPHASE_TEST:-unset}\" "
                         "\"$INTERPHASE_TEST_KEPT\" \"$OMPI_ALLOW_RUN_AS_ROOT\"");
    job.drop_environment_prefixes = {"OMPI_", "PMIX_"};
    job.environment = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"}};  // given by the job: kept
    CHECK(run_to_completion(executor, job).succeeded());
    CHECK(slurp(dir / "stdout.txt") == "unset|unset|kept|1");
    CHECK(std::string(std::getenv("OMPI_INTERPHASE_TEST")) == "pilot");  // ours untouched
    ::unsetenv("OMPI_INTERPHASE_TEST");
    ::unsetenv("PMIX_INTERPHASE_TEST");
    ::unsetenv("INTERPHASE_TEST_KEPT");
    check_no_children();
}

TEST_CASE("a missing executable is an outcome, not an exception") {
    auto dir = interphase::testing::scratch("exec-missing");
    LocalExecutor executor(2);
    Job job = program_job("ghost", {"interphase-no-such-program-xyz", "--flag"}, dir);
    CHECK_NOTHROW(executor.submit(job));
    CHECK(executor.running() == 0);
    CHECK(executor.free_cores() == 2);
    auto start = std::chrono::steady_clock::now();
    auto outcomes = executor.wait(10s);
    CHECK(std::chrono::steady_clock::now() - start < 1s);  // ready at once, no waiting
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].id == "ghost");
    CHECK_FALSE(outcomes[0].succeeded());
    CHECK(outcomes[0].error == "executable 'interphase-no-such-program-xyz' not found on PATH");
    CHECK(outcomes[0].describe() == outcomes[0].error);
    CHECK(executor.wait(0ms).empty());

    Job by_path = program_job("ghost-path", {"./not-here"}, dir);
    CHECK(run_to_completion(executor, by_path).error == "executable './not-here' not found");

    {
        std::ofstream data(dir / "data.txt");
        data << "not a program\n";
    }
    fs::permissions(dir / "data.txt", fs::perms::owner_read | fs::perms::owner_write);
    Job not_executable = program_job("noexec", {"./data.txt"}, dir);
    auto outcome = run_to_completion(executor, not_executable);
    CHECK(outcome.error.find("cannot execute './data.txt'") == 0);

    CHECK_THROWS_AS(executor.submit(program_job("empty", {}, dir)), interphase::ExecutionError);
    check_no_children();
}

TEST_CASE("the core budget is respected") {
    auto dir = interphase::testing::scratch("exec-budget");
    CHECK_THROWS_AS(LocalExecutor(0), interphase::ExecutionError);

    SUBCASE("a second 2-core job is refused on 3 cores while the first runs") {
        LocalExecutor executor(3);
        executor.submit(shell_job("first", dir, "sleep 0.3", 2));
        CHECK(executor.running() == 1);
        CHECK(executor.free_cores() == 1);
        CHECK_THROWS_WITH_AS(executor.submit(shell_job("second", dir, "true", 2)),
                             "job 'second' needs 2 cores but only 1 of 3 are free",
                             interphase::ExecutionError);
        CHECK(executor.running() == 1);
        // Nothing has ended yet: a short wait returns empty-handed after its timeout.
        auto start = std::chrono::steady_clock::now();
        CHECK(executor.wait(50ms).empty());
        CHECK(std::chrono::steady_clock::now() - start >= 50ms);

        std::vector<JobOutcome> outcomes;
        while (outcomes.empty()) outcomes = executor.wait(5s);
        CHECK(outcomes.at(0).id == "first");
        CHECK(outcomes.at(0).succeeded());
        CHECK(outcomes.at(0).wall_seconds >= 0.25);
        CHECK(executor.free_cores() == 3);
        CHECK_NOTHROW(executor.submit(shell_job("second", dir, "true", 2)));
        while (executor.running() > 0) executor.wait(5s);
    }
    SUBCASE("a job larger than the machine is clamped to the whole budget") {
        LocalExecutor executor(3);
        executor.submit(shell_job("huge", dir, "sleep 0.2", 64));
        CHECK(executor.free_cores() == 0);
        CHECK_THROWS_AS(executor.submit(shell_job("tiny", dir, "true", 1)), interphase::ExecutionError);
        while (executor.running() > 0) executor.wait(5s);
        CHECK(executor.free_cores() == 3);
    }
    SUBCASE("measured: 2-core jobs on 3 cores never overlap") {
        LocalExecutor executor(3);
        std::deque<Job> jobs;
        std::vector<fs::path> dirs;
        for (int i = 0; i < 3; ++i) {
            dirs.push_back(dir / ("pair-" + std::to_string(i)));
            fs::create_directories(dirs.back());
            jobs.push_back(shell_job("pair-" + std::to_string(i), dirs.back(),
                                     "date +%s%N > start; sleep 0.2; date +%s%N > end", 2));
        }
        CHECK(max_overlap(schedule(executor, jobs, dirs)) == 1);
    }
    SUBCASE("measured: 1-core jobs on 3 cores run in parallel, at most 3 at a time") {
        LocalExecutor executor(3);
        std::deque<Job> jobs;
        std::vector<fs::path> dirs;
        for (int i = 0; i < 7; ++i) {
            dirs.push_back(dir / ("single-" + std::to_string(i)));
            fs::create_directories(dirs.back());
            jobs.push_back(shell_job("single-" + std::to_string(i), dirs.back(),
                                     "date +%s%N > start; sleep 0.3; date +%s%N > end", 1));
        }
        const int overlap = max_overlap(schedule(executor, jobs, dirs));
        CHECK(overlap <= 3);
        CHECK(overlap >= 2);
    }
    check_no_children();
}

TEST_CASE("cancel_all kills the job's whole process group") {
    auto dir = interphase::testing::scratch("exec-cancel");
    LocalExecutor executor(2);

    SUBCASE("SIGTERM is enough") {
        // The shell starts a grandchild, as mpirun starts ranks.
        executor.submit(shell_job("sleeper", dir, "sleep 60 & echo $! > child.pid; wait"));
        const pid_t child = wait_for_pid_file(dir / "child.pid");
        CHECK(process_alive(child));
        auto start = std::chrono::steady_clock::now();
        executor.cancel_all();
        CHECK(std::chrono::steady_clock::now() - start < 3s);  // no grace period needed
        CHECK(executor.running() == 0);
        CHECK(executor.free_cores() == 2);
        CHECK(gone_within(child, 2s));
        auto outcomes = executor.wait(0ms);
        REQUIRE(outcomes.size() == 1);
        CHECK(outcomes[0].id == "sleeper");
        CHECK(outcomes[0].signal == SIGTERM);
        CHECK_FALSE(outcomes[0].succeeded());
    }
    SUBCASE("SIGKILL after the grace period for jobs that ignore SIGTERM") {
        executor.set_grace_period(300ms);
        // The ignored SIGTERM is inherited by the grandchild too.
        executor.submit(shell_job("stubborn", dir, "trap '' TERM; sleep 60 & echo $! > child.pid; wait; wait"));
        const pid_t child = wait_for_pid_file(dir / "child.pid");
        auto start = std::chrono::steady_clock::now();
        executor.cancel_all();
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took >= 300ms);
        CHECK(took < 5s);
        CHECK(gone_within(child, 2s));
        auto outcomes = executor.wait(0ms);
        REQUIRE(outcomes.size() == 1);
        CHECK(outcomes[0].signal == SIGKILL);
    }
    SUBCASE("a child left behind by a finished job is killed with its group") {
        executor.submit(shell_job("leaves-orphan", dir, "sleep 60 & echo $! > child.pid"));
        const pid_t child = wait_for_pid_file(dir / "child.pid");
        std::vector<JobOutcome> outcomes;
        while (outcomes.empty()) outcomes = executor.wait(5s);
        CHECK(outcomes[0].succeeded());
        CHECK(gone_within(child, 2s));
    }
    check_no_children();
}

TEST_CASE("the destructor cancels running jobs") {
    auto dir = interphase::testing::scratch("exec-dtor");
    pid_t child = -1;
    {
        LocalExecutor executor(1);
        executor.submit(shell_job("left-running", dir, "sleep 60 & echo $! > child.pid; wait"));
        child = wait_for_pid_file(dir / "child.pid");
    }
    CHECK(gone_within(child, 2s));
    check_no_children();
}

TEST_CASE("ChildProcess owns its process") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::setpgid(0, 0);
        ::pause();
        ::_exit(0);
    }
    ::setpgid(pid, pid);  // both sides set it, so there is no race with signal_group
    {
        ChildProcess owner(pid);
        CHECK(owner.owns_process());
        CHECK_FALSE(owner.has_exited());
        ChildProcess moved(std::move(owner));
        CHECK_FALSE(owner.owns_process());
        CHECK(moved.pid() == pid);
    }  // killed and reaped here
    check_no_children();

    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(7);
    ChildProcess quick(pid);
    while (!quick.has_exited()) std::this_thread::sleep_for(1ms);
    auto status = quick.reap();
    REQUIRE(status.has_value());
    CHECK(WEXITSTATUS(*status) == 7);
    CHECK_FALSE(quick.owns_process());
    check_no_children();
}
