// The local executor: a process pool on this machine under a core budget. It is what
// `interphase run` uses on a workstation and inside a batch allocation, and the reference the
// other executors are tested against.
//
// Each job starts from its argument vector (posix_spawn, never a shell) in its own folder and
// its own process group, so cancelling a job also reaches the MPI ranks or helper processes it
// started. The executor only waits for its own children (waitpid on each pid, never
// waitpid(-1)), so it coexists with other code in the process that starts programs.
// It is not thread-safe: one thread (the engine's scheduler) drives it. See docs/executors.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "cluster/executor.hpp"

namespace interphase::cluster {

/// Owns one started child process, which leads its own process group. Whoever holds the
/// ChildProcess is responsible for reaping it; if it is destroyed while the child may still
/// run, the destructor kills the whole group and reaps the leader, so no child outlives its
/// owner and no zombie is left. Never throws from the destructor.
class ChildProcess {
public:
    ChildProcess() noexcept = default;
    /// Takes ownership of `pid`, which must lead its own process group.
    explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ~ChildProcess();

    pid_t pid() const noexcept { return pid_; }
    /// True while the child has not been reaped.
    bool owns_process() const noexcept { return pid_ > 0; }

    /// True once the leader has ended (without reaping it: its pid, and so the process group
    /// id, stays reserved until reap(), so signalling the group cannot hit a stranger).
    bool has_exited() const noexcept;
    /// Sends `sig` to every process of the group; ignores groups that are already empty.
    void signal_group(int sig) const noexcept;
    /// Waits for the leader and returns its wait status; then owns nothing. Returns nullopt
    /// when the child cannot be waited for (SIGCHLD set to SIG_IGN reaps children early).
    std::optional<int> reap() noexcept;

private:
    void kill_and_reap() noexcept;
    pid_t pid_ = -1;
};

/// A process pool under a core budget. submit() starts a job at once or refuses it; wait()
/// reports the jobs that ended. Jobs that could not start (executable not found, not
/// executable) come back from the next wait() as outcomes with `error` set.
class LocalExecutor : public Executor {
public:
    /// `cores` is the budget (at least 1); jobs asking for more are clamped to it.
    explicit LocalExecutor(int cores);
    ~LocalExecutor() override;  ///< cancels running jobs (may take the grace period); never throws
    LocalExecutor(const LocalExecutor&) = delete;
    LocalExecutor& operator=(const LocalExecutor&) = delete;

    std::string name() const override { return "local"; }
    int capacity() const override { return capacity_; }
    int free_cores() const override { return capacity_ - used_cores_; }
    /// Starts `job` now. Throws ExecutionError when the free cores do not suffice, argv is
    /// empty, the working directory does not exist, the output files cannot be opened or the
    /// system cannot start a process. A missing or non-executable program is not thrown: it
    /// becomes an outcome with `error` set, returned by the next wait().
    void submit(const Job& job) override;
    /// Reaps ended jobs, waiting up to `timeout` for at least one; returns at once when some
    /// outcome is ready or no job is running.
    std::vector<JobOutcome> wait(std::chrono::milliseconds timeout) override;
    std::size_t running() const override { return jobs_.size(); }
    /// SIGTERM to every job's process group, SIGKILL to the groups after the grace period
    /// (or as soon as every leader has ended, to catch stragglers). Blocks until all are
    /// reaped; their outcomes (killed by signal) come back from the next wait().
    void cancel_all() override;
    std::optional<long> process_group(const std::string& job_id) const override;

    /// Time between SIGTERM and SIGKILL in cancel_all() (default 5 s).
    void set_grace_period(std::chrono::milliseconds grace) { grace_ = grace; }
    std::chrono::milliseconds grace_period() const { return grace_; }

private:
    struct Running {
        std::string id;
        int cores = 1;
        ChildProcess process;
        std::chrono::steady_clock::time_point started;
    };
    JobOutcome finish(Running& job);  ///< reaps an ended job and builds its outcome

    int capacity_;
    int used_cores_ = 0;
    std::chrono::milliseconds grace_{5000};
    std::vector<Running> jobs_;
    std::vector<JobOutcome> ready_;  ///< outcomes waiting for the next wait()
};

/// Submits `job` and waits until it ends; for one-off runs (tests, `interphase doctor`).
/// The executor must have no running job, so no other job's outcome is swallowed; throws
/// ExecutionError otherwise, or when submit() does.
JobOutcome run_to_completion(Executor& executor, const Job& job);

/// "SIGKILL" for 9; "signal N" for numbers without a name.
std::string signal_name(int signal);

}  // namespace interphase::cluster
