// The PBS executor: PBS Professional / OpenPBS and Torque. Everything but the scheduler's own
// words is shared with the Slurm executor (cluster/batch_executor.hpp): queued jobs of one shape
// become one job array, one status command per poll cycle, a journal for re-attaching.
//
// - Arrays: PBS Pro `qsub -J 1-N` (the script reads PBS_ARRAY_INDEX), Torque `qsub -t 1-N%T`
//   (PBS_ARRAYID). PBS Pro refuses one-element arrays, so a lone job is a plain job.
// - Polling: PBS Pro `qstat -x -f -F json -t IDS...` (-x keeps finished jobs, -t lists the
//   subjobs); Torque `qstat -f -t IDS...` (the text form; finished jobs stay as C for the
//   server's keep_completed time).
// - States: Q, H, W, T, M, S, U, B, R, E are active; F (finished, with -x), X (subjob done) and
//   C (Torque completed) end the job, and Exit_status decides: >= 0 the program's exit status
//   (> 256: killed by signal Exit_status - 256), PBS's own negative codes: -29 walltime and -27
//   memory limit are errors, -3/-11/-20 (rerun, retry, mother superior failure) resubmit.
// - Cancellation: one `qdel` with every array id of the run.
// Tested against outputs reconstructed from the documented formats through shim commands and
// against captured real outputs from public projects' test data (tests/cluster/pbs_lsf/data/
// captured), not against a live PBS server: see docs/cluster.md.
#pragma once

#include "cluster/batch_executor.hpp"  // SchedulerRow, BatchFate, <optional> <string> <vector>

namespace interphase::cluster {

/// `qstat -f -F json` (PBS Pro): one row per job or subjob (array parents have index -1).
std::vector<SchedulerRow> parse_qstat_json(const std::string& text);
/// `qstat -f` text form (PBS Pro, and Torque with -t): "Job Id: ..." blocks of "key = value".
std::vector<SchedulerRow> parse_qstat_full(const std::string& text);
/// The state letter and Exit_status of a row, as the table at the top of this file says.
BatchFate pbs_fate(const SchedulerRow& row);
/// `exit` is the batch script's record, else Exit_status; none: deleted before it ran (a kill).
JobOutcome pbs_outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit);

class PbsExecutor : public BatchExecutor {
public:
    PbsExecutor(ClusterProfile profile, std::filesystem::path state_dir, std::string job_name);
    bool torque() const { return profile().pbs_flavor == "torque"; }

protected:
    // qsub and its answer ("1234[].server"), and the subjob ids ("1234[5].server").
    std::vector<std::string> submit_argv(int seq, std::size_t tasks, const std::filesystem::path& script) const override;
    std::optional<std::string> parse_submission(const CommandResult& r) const override;
    std::string element_id(const std::string& array_id, std::size_t index, bool array) const override;
    std::string cancel_command() const override { return "qdel"; }
    // The #PBS lines, and the subjob's index and id inside the job.
    std::string script_directives(int seq, std::size_t tasks, int cores) const override;
    std::string script_identity() const override;
    // qstat and the state mapping.
    std::optional<std::vector<SchedulerRow>> query() override;
    BatchFate fate(const SchedulerRow& row) const override { return pbs_fate(row); }
    JobOutcome outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) override {
        return pbs_outcome(id, row, exit);
    }
};

}  // namespace interphase::cluster
