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
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/executor.hpp"
#include "cluster/profile.hpp"

namespace interphase::cluster {

/// What a Slurm job state means for the engine.
enum class SlurmFate {
    Active,    ///< PENDING, RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED...: keep polling
    Ended,     ///< COMPLETED, FAILED: the program's exit code decides
    Resubmit,  ///< NODE_FAIL, PREEMPTED: not the job's fault, submit it again
    Error,     ///< CANCELLED (outside the engine), TIMEOUT, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE...
};
SlurmFate slurm_fate(const std::string& state);
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

/// Percent-encodes every byte outside [A-Za-z0-9._/+=:,@-] (the batch script decodes with printf %b).
std::string encode_field(const std::string& s);

/// Result of a scheduler command.
struct CommandResult {
    int status = -1;  ///< exit code, or -1 when it could not run or timed out
    std::string out, err;
};
/// Runs `argv` (PATH look-up, no shell, stdin /dev/null) and captures its output; a command
/// running longer than two minutes is killed (status -1).
CommandResult run_command(const std::vector<std::string>& argv);

class SlurmExecutor : public Executor {
public:
    /// `state_dir` holds the journal, the batch scripts and their tables (created if missing);
    /// `job_name` is shared by every job of the run (squeue filters on it).
    SlurmExecutor(ClusterProfile profile, std::filesystem::path state_dir, std::string job_name);
    ~SlurmExecutor() override = default;  ///< jobs keep running in Slurm: a resumed engine re-attaches
    SlurmExecutor(const SlurmExecutor&) = delete;
    SlurmExecutor& operator=(const SlurmExecutor&) = delete;

    std::string name() const override { return "slurm"; }
    /// Counted in jobs: max_queued_jobs slots of the largest job seen (profile cores_per_task at first).
    int capacity() const override { return profile_.max_queued_jobs * slot_cores_; }
    int free_cores() const override;
    int default_job_cores() const override { return profile_.cores_per_task; }
    /// Queues the job; it reaches Slurm with the next wait(). Throws ExecutionError when no
    /// slot is free, argv is empty or the working folder is missing.
    void submit(const Job& job) override;
    std::vector<JobOutcome> wait(std::chrono::milliseconds timeout) override;
    std::size_t running() const override { return jobs_.size() + queued_.size(); }
    /// scancel for every job of the run; their outcomes (SIGTERM) come from the next wait().
    void cancel_all() override;
    bool reattach(const Job& job) override;

    /// Scheduler commands issued so far, by program ("sbatch", "squeue", "scontrol", "scancel").
    const std::map<std::string, int>& commands() const { return commands_; }
    int total_commands() const;
    const std::filesystem::path& state_dir() const { return state_dir_; }
    /// The batch script of one array, as written to disk (for tests and docs).
    std::string batch_script(int seq, std::size_t tasks, int cores, const std::filesystem::path& table) const;
    /// One table line: the job's fields, encoded.
    std::string table_line(const Job& job) const;

private:
    struct Tracked {
        Job job;
        std::string slurm_id;  ///< "123_4"; empty while the array's sbatch is unconfirmed
        int array_seq = -1;
        int index = -1;
        int resubmits = 0;
        std::chrono::steady_clock::time_point started;
    };
    CommandResult run(const std::vector<std::string>& argv);
    void flush();
    bool submit_array(const std::vector<Job>& jobs, std::map<std::string, int> resubmits);
    void poll();
    void finish(const std::string& id, JobOutcome outcome);
    void resubmit(const std::string& id, const std::string& why);
    void journal(const std::string& json_line);
    void load_journal();
    std::optional<int> recorded_exit(const Tracked& t) const;
    std::string tag(int seq) const;

    ClusterProfile profile_;
    std::filesystem::path state_dir_;
    std::string job_name_;
    int slot_cores_ = 1;
    int next_seq_ = 0;
    std::vector<std::pair<Job, int>> queued_;         ///< (job, resubmits) not yet given to sbatch
    std::map<std::string, Tracked> jobs_;             ///< in Slurm, by engine id
    std::map<std::string, Tracked> journal_jobs_;     ///< from a previous engine's journal, not yet re-attached
    std::vector<JobOutcome> ready_;
    std::map<std::string, int> commands_;
    std::chrono::steady_clock::time_point next_poll_{};
    double interval_ = 0;
    int sbatch_failures_ = 0;
    std::string last_sbatch_error_;
    int poll_failures_ = 0;
};

}  // namespace interphase::cluster
