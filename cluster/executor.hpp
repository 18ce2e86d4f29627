// Executors own processes and queues. An executor runs Jobs — an argument vector, a working
// directory, a core count — and reports how they ended; it never knows which DFT code a job
// runs. The local executor is a process pool under a core budget, the Slurm executor submits
// job arrays (cluster/slurm_executor.hpp); executors are created by name (cluster/registry.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace interphase::cluster {

struct Job {
    std::string id;                          ///< engine-chosen identifier (task name)
    std::vector<std::string> argv;           ///< argv[0] looked up on PATH; no shell involved
    std::filesystem::path workdir;
    int cores = 1;
    std::filesystem::path stdout_path;       ///< absolute or relative to workdir
    std::filesystem::path stderr_path;
    std::map<std::string, std::string> environment;  ///< added to the inherited environment
    /// Inherited variables whose names start with one of these are not passed on (local
    /// executor). The MPI pilot drops its own MPI runtime's (OMPI_, PMIX_...), so that a code
    /// started with its own `mpirun` is not taken for a recursive call of the pilot's.
    std::vector<std::string> drop_environment_prefixes;
    /// Called by a batch executor before it submits the job again after the scheduler stopped
    /// it at its time limit: prepares `workdir` so that the same argv continues where the run
    /// stopped (the calculator's last geometry and wavefunction). Returns false when there is
    /// nothing to continue from (the job then starts over). May be empty (always starts over).
    std::function<bool()> prepare_restart;
};

struct JobOutcome {
    std::string id;
    int exit_code = -1;       ///< valid when signal == 0
    int signal = 0;           ///< terminating signal, 0 if exited
    double wall_seconds = 0;
    std::string error;        ///< could not start (e.g. executable not found)
    bool succeeded() const { return error.empty() && signal == 0 && exit_code == 0; }
    std::string describe() const;
};

class Executor {
public:
    virtual ~Executor() = default;
    virtual std::string name() const = 0;
    /// Total cores this executor may use at once.
    virtual int capacity() const = 0;
    /// Cores currently free for new jobs.
    virtual int free_cores() const = 0;
    /// Starts a job now; throws ExecutionError when it cannot (the executable not found is
    /// reported through the outcome instead, so one bad task does not stop the run).
    virtual void submit(const Job& job) = 0;
    /// Waits up to `timeout` for jobs to end; returns the ones that ended (possibly none).
    virtual std::vector<JobOutcome> wait(std::chrono::milliseconds timeout) = 0;
    virtual std::size_t running() const = 0;
    /// Terminates every running job (SIGTERM, then SIGKILL after a grace period).
    virtual void cancel_all() = 0;
    /// The process group of a running job on this machine, when the executor has one; the
    /// engine records it so that a resumed run can stop what a killed engine left behind.
    virtual std::optional<long> process_group(const std::string& /*job_id*/) const { return std::nullopt; }
    /// Cores a calculation gets when the workflow does not say: the whole budget on one machine,
    /// the cluster profile's cores_per_task for a batch executor.
    virtual int default_job_cores() const { return capacity(); }
    /// Adopts a job that an earlier engine (killed, then resumed) submitted for `job.id` in
    /// `job.workdir` and that the batch system still runs or has finished: its outcome comes
    /// from wait() as if submit() had been called. False when there is no such job (the local
    /// executor never has one: its children die with the engine).
    virtual bool reattach(const Job& /*job*/) { return false; }
    /// What the executor did on its own since the last call, one line each, for the run's log:
    /// a job submitted again after a node failure, continued after its time limit...
    virtual std::vector<std::string> take_notices() { return {}; }
};

}  // namespace interphase::cluster
