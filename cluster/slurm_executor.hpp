// The Slurm executor: the engine stays on a login node and each calculation becomes a Slurm
// job, the way a careful user drives a shared scheduler — few commands, job arrays, restarts
// that pick up where they stopped. See docs/cluster.md.
//
// - submit() only queues a job in memory; the next wait() submits every queued job of the same
//   shape (cores) as ONE job array with a `%` throttle (`sbatch --parsable`, one call per
//   array). The array's batch script maps SLURM_ARRAY_TASK_ID to its job through a table file
//   (one line per task: working folder, output files, environment, argument vector, each field
//   percent-encoded, so no user data is ever parsed by a shell).
// - wait() polls with ONE `squeue` call per cycle for all jobs of the run (they share a job
//   name); `scontrol show job` is asked only about a failed job whose exit code the batch
//   script could not record. The interval grows by a back-off factor while nothing changes.
// - NODE_FAIL, PREEMPTED and jobs that vanished are resubmitted by the executor (up to the
//   profile's max_resubmits); every other end state becomes an outcome carrying the state.
// - Every submission is written to a journal (STATE_DIR/journal.jsonl) before and after
//   sbatch, so an engine that was killed re-attaches to its queued and running jobs
//   (reattach()) instead of submitting them again.
// - Every scheduler command is counted (commands()) and logged to STATE_DIR/commands.log.
// The queue, journal, table, polling and resubmission logic is shared with the PBS and LSF
// executors (cluster/batch_executor.hpp); this file says what is Slurm's own.
// With `arrays: false` in the profile every job is its own sbatch (for comparison, bench/cluster).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/batch_executor.hpp"

namespace interphase::cluster {

/// What a Slurm job state means for the engine.
using SlurmFate = BatchFate;
/// PENDING, RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED...: Active; COMPLETED, FAILED:
/// Ended; NODE_FAIL, PREEMPTED: Resubmit; TIMEOUT: TimeLimit; CANCELLED, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE...: Error.
SlurmFate slurm_fate(const std::string& state);
/// The profile's site lines of every Slurm batch script: --partition, --account, --qos,
/// --constraint, --mem-per-cpu (those set) and the sbatch_options, in that order.
std::string slurm_site_directives(const ClusterProfile& profile);
/// Seconds as Slurm's --time: HH:MM:SS, or D-HH:MM:SS from one day on.
std::string slurm_time(long seconds);
/// The outcome of a job that ended in `state` (an Ended or Error fate). `exit` is the program's
/// exit status recorded by the batch script when known (128+N means killed by signal N).
JobOutcome slurm_outcome(const std::string& id, const std::string& slurm_id, const std::string& state,
                         const std::string& reason, std::optional<int> exit);

/// One line of `squeue -h -r -t all -o '%i|%T|%r|%k'`.
struct SqueueRow {
    std::string job;      ///< "123_4" (array task) or "123"
    std::string state;    ///< "PENDING"
    std::string reason;   ///< "Priority", "None"
    std::string comment;  ///< the executor's array tag
};
std::vector<SqueueRow> parse_squeue(const std::string& text);

class SlurmExecutor : public BatchExecutor {
public:
    /// `state_dir` holds the journal, the batch scripts and their tables (created if missing);
    /// `job_name` is shared by every job of the run (squeue filters on it).
    SlurmExecutor(ClusterProfile profile, std::filesystem::path state_dir, std::string job_name);

protected:
    std::string script_directives(int seq, std::size_t tasks, int cores) const override;
    std::string script_identity() const override;
    bool as_array(std::size_t /*tasks*/) const override { return profile().arrays; }
    std::vector<std::string> submit_argv(int seq, std::size_t tasks, const std::filesystem::path& script) const override;
    std::optional<std::string> parse_submission(const CommandResult& r) const override;
    std::string element_id(const std::string& array_id, std::size_t index, bool array) const override;
    int scheduler_index(std::size_t index) const override { return static_cast<int>(index); }
    std::optional<std::vector<SchedulerRow>> query() override;
    BatchFate fate(const SchedulerRow& row) const override { return slurm_fate(row.state); }
    JobOutcome outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) override;
    std::string cancel_command() const override { return "scancel"; }
};

}  // namespace interphase::cluster
