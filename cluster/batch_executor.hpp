// What every batch-system executor (Slurm, PBS Pro/Torque, LSF) shares, so that each scheduler
// only says how it differs. The engine stays on a login node; each calculation becomes one
// element of a job array:
//
// - submit() only queues a job in memory; the next wait() submits every queued job of the same
//   shape (cores, time limit) as ONE job array (one submission command per array). The array's
//   batch script maps the scheduler's array index to its tasks through a table file (one line
//   per task: working folder, output files, environment, argument vector, each field
//   percent-encoded, so no user data is ever parsed by a shell). An array element runs one task,
//   or a bundle of `tasks_per_job` tasks one after another; each task leaves an exit record in
//   its folder, so tasks of a bundle are collected as they end.
// - wait() polls with ONE status command per cycle for all jobs of the run (query()); the
//   interval grows by a back-off factor while no job ends. Tasks of a running bundle are
//   collected from their exit records between polls, without a scheduler command.
// - Jobs lost to the machine (node failure, preemption, vanished) are resubmitted up to the
//   profile's max_resubmits; a job stopped at its time limit is submitted again with more time
//   (on_timeout: factor, cap, count) after Job::prepare_restart made its folder continue; every
//   other end state becomes an outcome carrying the state.
// - Every submission is written to a journal (STATE_DIR/journal.jsonl) before and after the
//   submission command, so an engine that was killed re-attaches (reattach()) instead of
//   submitting again; every scheduler command is counted (commands()) and logged to
//   STATE_DIR/commands.log.
// A scheduler implements the hooks below: batch-script directives and array identity, the
// submission command and its answer, the status query, the state mapping and cancellation.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/executor.hpp"
#include "cluster/profile.hpp"

namespace interphase::cluster {

/// What a scheduler's job state means for the engine.
enum class BatchFate {
    Active,    ///< queued, running, suspended, held...: keep polling
    Ended,     ///< the program ran to its end: its exit code decides
    Resubmit,  ///< not the job's fault (node failure, preemption): submit it again
    TimeLimit, ///< stopped at its time limit: continue it with more time (profile on_timeout)
    Error,     ///< killed by the scheduler or an operator, memory limit...
};

/// One job (array element) in the answer of a status command.
struct SchedulerRow {
    std::string job;           ///< the scheduler's id of the element: "123_4", "1234[5].pbs01", "456[3]"
    std::string state;         ///< the scheduler's state word: "PENDING", "F", "DONE"
    std::string reason;        ///< pending or exit reason, when the scheduler gives one
    std::string tag;           ///< what identifies the executor's array (comment or job name)
    int index = -1;            ///< the element's array index, -1 for a job that is not an array element
    std::optional<int> exit;   ///< the job's exit status when the scheduler reports it
};

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

/// The outcome of a program that exited with `exit` as recorded by a shell (128+N: signal N).
JobOutcome exit_status_outcome(const std::string& id, int exit);
/// A profile `memory_per_cpu` ("2G", "500M", "2000" = MB) times `cores`, in MB.
long memory_mb(const std::string& memory_per_cpu, int cores);

class BatchExecutor : public Executor {
public:
    ~BatchExecutor() override = default;  ///< jobs keep running: a resumed engine re-attaches
    BatchExecutor(const BatchExecutor&) = delete;
    BatchExecutor& operator=(const BatchExecutor&) = delete;

    std::string name() const override { return scheduler_; }
    /// Counted in jobs: max_queued_jobs slots of the largest job seen (profile cores_per_task at first).
    int capacity() const override { return profile_.max_queued_jobs * slot_cores_; }
    int free_cores() const override;
    int default_job_cores() const override { return profile_.cores_per_task; }
    /// Queues the job; it reaches the scheduler with the next wait(). Throws ExecutionError when
    /// no slot is free, argv is empty or the working folder is missing.
    void submit(const Job& job) override;
    std::vector<JobOutcome> wait(std::chrono::milliseconds timeout) override;
    std::size_t running() const override { return jobs_.size() + queued_.size(); }
    /// One cancel command for every array of the run; their outcomes (SIGTERM) come from the next wait().
    void cancel_all() override;
    bool reattach(const Job& job) override;
    std::vector<std::string> take_notices() override { return std::exchange(notices_, {}); }

    /// Scheduler commands issued so far, by program ("sbatch", "squeue", "qsub", "bjobs", ...).
    const std::map<std::string, int>& commands() const { return commands_; }
    int total_commands() const;
    const std::filesystem::path& state_dir() const { return state_dir_; }
    /// The name every job of the run carries (squeue -n, qsub -N, bsub -J): the constructor's
    /// `job_name` reduced to the alphabet every scheduler accepts (safe_job_name).
    const std::string& job_name() const { return job_name_; }
    /// The batch script of array `seq` of `elements` elements (each running `per_job` lines of
    /// `table`), as written to disk (for tests and docs).
    std::string batch_script(int seq, std::size_t elements, int cores, const std::filesystem::path& table,
                             int per_job = 1) const;
    /// One table line: the job's fields, encoded.
    std::string table_line(const Job& job) const;

protected:
    /// `scheduler` names the executor, its journal key and its exit-record file (.NAME-exit).
    /// The derived constructor calls load_journal() (it needs the virtual element_id()) and
    /// check_script_values(). Throws InputError (field "run folder") when `state_dir` holds a
    /// control character: its path reaches scheduler options and directive lines.
    BatchExecutor(ClusterProfile profile, std::filesystem::path state_dir, std::string job_name, std::string scheduler);
    void load_journal();
    /// Writes a batch script once, in memory, so that a value its lines cannot carry (a profile
    /// field with a line break, an environment name that is not a name, an LSF run folder with
    /// a ") is refused with an InputError when the executor is made, not at its first submission.
    void check_script_values() const;
    /// Runs a scheduler command: counted and logged.
    CommandResult run(const std::vector<std::string>& argv);
    /// What identifies array `seq` of this run in the status answer (SchedulerRow::tag).
    std::string tag(int seq) const;
    const ClusterProfile& profile() const { return profile_; }
    int throttle() const { return profile_.array_throttle > 0 ? profile_.array_throttle : profile_.max_queued_jobs; }
    /// The time limit of array `seq` in seconds (the profile's `time`, more after a time-limit restart).
    long walltime(int seq) const;
    /// Ids of the submitted arrays (or plain jobs) still followed, for status commands that take ids.
    std::set<std::string> active_arrays() const;
    /// True when some array's submission was never confirmed (a killed engine): the status
    /// command must then list every job, to find it by its tag.
    bool has_unconfirmed() const;

    // --- the scheduler's hooks ---
    // `tasks` below counts array elements (batch jobs); with bundles one element runs several tasks.
    /// The directive lines (#SBATCH, #PBS, #BSUB) of an array of `tasks` jobs with `cores` cores
    /// and the time limit walltime(seq). Every value goes through directive_value() (script_text.hpp).
    virtual std::string script_directives(int seq, std::size_t tasks, int cores) const = 0;
    /// Shell lines that set `idx` (the 1-based number of the array element) and `me` (the
    /// element's id, as element_id() gives it) from the scheduler's environment.
    virtual std::string script_identity() const = 0;
    /// Whether `tasks` jobs go in as an array (else one plain job; only ever with tasks == 1).
    /// By default a lone job is a plain job (PBS Pro refuses one-element arrays).
    virtual bool as_array(std::size_t tasks) const { return profile_.arrays && tasks > 1; }
    /// The submission command of array `seq`.
    virtual std::vector<std::string> submit_argv(int seq, std::size_t tasks, const std::filesystem::path& script) const = 0;
    /// The submitted job's id from the submission command's answer; nullopt when it failed.
    virtual std::optional<std::string> parse_submission(const CommandResult& r) const = 0;
    /// The id of element `index` (0-based) of submitted array `array_id`.
    virtual std::string element_id(const std::string& array_id, std::size_t index, bool array) const = 0;
    /// The element's index as the scheduler shows it (SchedulerRow::index) for element `index`
    /// (0-based): arrays count from 1 (PBS, LSF) unless the scheduler says otherwise.
    virtual int scheduler_index(std::size_t index) const { return static_cast<int>(index) + 1; }
    /// ONE status command for every job of the run; nullopt when the scheduler did not answer.
    virtual std::optional<std::vector<SchedulerRow>> query() = 0;
    virtual BatchFate fate(const SchedulerRow& row) const = 0;
    /// The outcome of an element that ended (Ended or Error fate); `exit` is the exit status
    /// recorded by the batch script or reported by the scheduler.
    virtual JobOutcome outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) = 0;
    /// The cancel command ("scancel", "qdel", "bkill"); it gets every array (or plain job) id of the run.
    virtual std::string cancel_command() const = 0;

private:
    /// A job waiting for the next submission.
    struct Pending {
        Job job;
        int resubmits = 0;  ///< NODE_FAIL/PREEMPTED/lost so far
        int timeouts = 0;   ///< time-limit restarts so far
        long walltime = 0;  ///< seconds
    };
    struct Tracked {
        Job job;
        std::string sched_id;  ///< the element's id; empty while the array's submission is unconfirmed
        std::string array_id;  ///< the submitted array's (or plain job's) id
        int array_seq = -1;
        int index = -1;        ///< 0-based line of the array's table
        int per_job = 1;       ///< table lines per array element: the element is index / per_job
        bool array = true;
        int resubmits = 0;
        int timeouts = 0;
        long walltime = 0;
        std::chrono::steady_clock::time_point started;
        int element() const { return index / per_job; }
    };
    void flush();
    bool submit_array(const std::vector<Pending>& jobs);
    void poll();
    /// Collects tasks of bundles that ended, from their exit records alone (no scheduler
    /// command): only the next task of each bundle can have ended, so one file per bundle.
    /// Returns whether any did.
    bool scan_bundles();
    void finish(const std::string& id, JobOutcome outcome);
    /// Submits the job again with the next wait(); `counted` = it uses one of max_resubmits.
    void resubmit(const std::string& id, const std::string& why, bool counted = true);
    /// The job stopped at its time limit: continue it with more time, or fail at the cap.
    void restart_after_time_limit(const std::string& id, const SchedulerRow& row);
    void journal(const std::string& json_line);
    std::optional<int> recorded_exit(const Tracked& t) const;
    /// Whether the batch script started this task in the element it is tracked in.
    bool started(const Tracked& t) const;
    std::string exit_file() const { return "." + scheduler_ + "-exit"; }
    std::string start_file() const { return "." + scheduler_ + "-start"; }
    std::string error_file() const { return "." + scheduler_ + "-error"; }

    ClusterProfile profile_;
    std::filesystem::path state_dir_;
    std::string job_name_;
    std::string scheduler_;
    int slot_cores_ = 1;
    int next_seq_ = 0;
    std::vector<Pending> queued_;                     ///< not yet submitted
    std::map<int, long> array_walltime_;              ///< seconds, by array seq
    std::map<std::string, Tracked> jobs_;             ///< in the scheduler, by engine id
    std::map<std::string, Tracked> journal_jobs_;     ///< from a previous engine's journal, not yet re-attached
    std::vector<JobOutcome> ready_;
    std::vector<std::string> notices_;
    std::map<std::string, int> commands_;
    std::chrono::steady_clock::time_point next_poll_{};
    std::chrono::steady_clock::time_point next_scan_{};
    double interval_ = 0;
    int submit_failures_ = 0;
    std::string last_submit_error_;
    int poll_failures_ = 0;
};

}  // namespace interphase::cluster
