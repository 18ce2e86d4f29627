// A cluster profile: what a batch executor needs to know about one cluster — where jobs go
// (partition, account, QOS, constraint, time limit), what every job script sets up (module or
// environment lines), how each program is found and launched (executables and MPI launch
// templates), and how hard the engine may lean on the scheduler (max queued jobs, array
// throttle, poll interval with back-off). It is a small YAML file kept beside the workflow;
// the format and a worked example are in docs/cluster.md. Errors name the file, line and field.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace interphase::cluster {

/// How one program (argv[0] of a job, e.g. "cp2k.psmp") runs on the cluster.
struct ProgramProfile {
    std::string executable;  ///< path or name on the compute nodes' PATH; empty = the job's argv[0]
    /// Words of the launch line; {executable}, {args} (the job's remaining arguments, each kept
    /// one word), {cores} are replaced. Empty = the executable alone. E.g. "srun -n {cores} {executable} {args}".
    std::string launch;
};

struct ClusterProfile {
    std::string source;                     ///< file the profile came from (for messages)
    std::string scheduler = "slurm";        ///< slurm, pbs or lsf
    std::string partition, account, qos, constraint;  ///< account: Slurm --account, PBS -A
    std::string queue;                      ///< PBS -q, LSF -q
    std::string project;                    ///< PBS Pro -P, LSF -P
    std::string pbs_flavor = "pro";         ///< "pro" (PBS Professional / OpenPBS: -J, PBS_ARRAY_INDEX) or "torque" (-t, PBS_ARRAYID)
    bool arrays = true;                     ///< false: one submission per job (for comparison; bench/cluster)
    std::string time = "01:00:00";          ///< --time of every job ([D-]HH:MM:SS)
    std::string memory_per_cpu;             ///< --mem-per-cpu, e.g. "2G"; empty = cluster default
    int cores_per_task = 1;                 ///< cores of a calculation when the workflow does not say
    std::vector<std::string> setup;         ///< shell lines run before each task (module load ...)
    std::map<std::string, std::string> environment;  ///< exported in every job
    std::map<std::string, ProgramProfile> programs;  ///< keyed by the program name a calculator launches
    std::vector<std::string> sbatch_options;  ///< extra options, each one word (e.g. "--begin=now+5")
    int max_queued_jobs = 500;              ///< jobs (array tasks) queued or running at once
    int array_throttle = 0;                 ///< the `%N` of each array; 0 = max_queued_jobs
    double poll_interval = 2;               ///< seconds between scheduler polls at first
    double poll_max_interval = 30;          ///< back-off cap
    double poll_backoff = 1.5;              ///< factor applied while nothing changes
    int max_resubmits = 3;                  ///< NODE_FAIL / PREEMPTED / lost jobs resubmitted this often
    /// Tasks one batch job (array element) runs one after another: a "bundle". 1 = a job per
    /// task. Larger bundles cut the jobs the scheduler must start (tiny tasks, busy clusters);
    /// `time` must then cover the whole bundle. Tasks that ended are collected while their
    /// bundle still runs.
    int tasks_per_job = 1;
    /// A task stopped at its time limit (TIMEOUT, PBS walltime, LSF TERM_RUNLIMIT) is submitted
    /// again with `time_factor` times its time, up to `max_time`, at most `restarts` times; the
    /// calculator first prepares its folder to continue (last geometry, wavefunction).
    struct TimeLimitRestart {
        int restarts = 2;
        double time_factor = 2;
        std::string max_time;  ///< [D-]HH:MM:SS; empty = four times `time`
    } on_timeout;
    std::string interphase;                 ///< the `interphase` binary jobs run for builtin tasks; empty = this one

    /// The time limit of a first submission and the cap of the time-limit restarts, in seconds.
    long walltime() const;
    long max_walltime() const;
    /// The launch line of `argv` (program looked up in `programs`) for `cores` cores.
    std::vector<std::string> launch_argv(const std::vector<std::string>& argv, int cores) const;
};

/// A profile `time` ([D-]HH:MM:SS, HH:MM:SS, MM:SS or minutes, as Slurm reads it) in seconds.
long walltime_seconds(const std::string& time);

/// Parses a profile; throws ParseError (bad YAML) or InputError "FILE:LINE: field 'F': ...".
ClusterProfile parse_cluster_profile(const std::string& yaml_text, const std::string& source);
/// Reads and parses a profile file.
ClusterProfile load_cluster_profile(const std::filesystem::path& file);

}  // namespace interphase::cluster
