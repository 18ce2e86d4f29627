// The MPI pilot: the engine inside one allocation. `mpirun -np N interphase worker RUN_DIR`
// starts N copies; rank 0 runs the engine with its durable store as usual and sees the other
// ranks through an Executor ("mpi", cluster/registry.cpp), so the engine's code path is the one
// of every other executor. Ranks 1..N-1 are workers: they receive one job at a time over MPI,
// run it (a builtin calculation in-process, an external code through a configurable launcher on
// the cores given to the rank) and send its outcome back. A worker that stops sending heartbeats
// is declared dead and its job goes to another rank. With a single rank, rank 0 runs the jobs
// itself. See docs/executors.md ("MPI pilot") for the protocol and what OpenMPI does when a
// rank dies.
//
// MPI is optional at build time: without it (INTERPHASE_HAVE_MPI undefined) every entry point
// throws an ExecutionError that says so, and mpi_available() is false.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/executor.hpp"

namespace interphase::cluster {

/// True when Interphase was built with MPI (find_package(MPI) found it).
bool mpi_available() noexcept;

/// Runs a job inside the worker process instead of starting a program: `handles` says whether a
/// job is one of those (e.g. `interphase calc-task DIR`), `run` computes it on a separate thread
/// and returns its exit code (exceptions become exit code 70 and a line in the job's stderr).
struct InProcessRunner {
    std::function<bool(const Job&)> handles;
    std::function<int(const Job&)> run;
};

struct PilotOptions {
    int cores_per_rank = 1;  ///< cores each worker rank owns; a job gets all of them
    /// Prefix of an external job's argv: "none" (or empty), "srun --exclusive -n {cores}",
    /// "mpirun --host {host} -np {cores}"; {cores}, {host} and {rank} are substituted.
    std::string launcher = "none";
    std::chrono::milliseconds heartbeat_interval{1000};
    /// A worker silent for this long is dead: its job is given to another rank.
    std::chrono::milliseconds heartbeat_timeout{30000};
    InProcessRunner in_process;  ///< builtin calculations (apps/cmd_worker.cpp sets it)
    /// Test hook: a worker sleeps this long before each job, so tests can kill it mid-job.
    std::chrono::milliseconds job_delay{0};
};

/// The launcher template split into words with {cores}, {host} and {rank} substituted; empty for
/// "none". Throws InputError for an unknown placeholder.
std::vector<std::string> launcher_prefix(const std::string& launcher, int cores, const std::string& host, int rank);

/// One MPI process of the pilot: MPI_Init_thread on construction, MPI_Finalize on destruction
/// (RAII; never throws from the destructor). Rank 0 becomes the engine side: while it exists,
/// the registry's "mpi" executor talks to the worker ranks through it, and its destructor
/// tells every live worker to stop. Other ranks call serve(), which returns when rank 0 says so.
class Pilot {
public:
    explicit Pilot(PilotOptions options);
    ~Pilot();
    Pilot(const Pilot&) = delete;
    Pilot& operator=(const Pilot&) = delete;

    int rank() const;
    int size() const;
    /// The worker loop of ranks 1..N-1; returns when rank 0 sends stop (or is gone).
    void serve();
    /// The executor of rank 0 (borrows this Pilot, which must outlive it). `cores` overrides the
    /// cores per rank when > 0; `journal_dir` receives journal.tsv (one line per job event).
    std::unique_ptr<Executor> executor(int cores, const std::filesystem::path& journal_dir);
    /// The Pilot of this process on rank 0, or null (not under `interphase worker`).
    static Pilot* current() noexcept;
    /// The exit status of this process if MPI_Finalize hangs: after a worker rank died,
    /// OpenMPI 4.1 can block in MPI_Finalize for ever (seen about once in twenty killed-rank
    /// runs under load), which would keep a finished batch job until its wall time. The
    /// destructor waits `finalize_timeout` and then leaves without MPI_Finalize, with this
    /// status (the run is already durable; docs/executors.md).
    void set_exit_status(int status) noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

/// Throws InputError unless this process is rank 0 of `interphase worker` (checked before a run
/// folder is touched, so `interphase run --executor mpi` outside mpirun changes nothing).
void require_mpi_pilot();

/// The registry's "mpi" executor: Pilot::current()->executor(cores, journal_dir); throws
/// InputError when this process is not rank 0 of `interphase worker` (or has no MPI).
std::unique_ptr<Executor> make_mpi_pilot_executor(int cores, const std::filesystem::path& journal_dir);

}  // namespace interphase::cluster
