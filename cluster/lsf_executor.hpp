// The LSF executor (IBM Spectrum LSF). Everything but the scheduler's own words is shared with
// the Slurm executor (cluster/batch_executor.hpp): queued jobs of one shape become one job
// array, one status command per poll cycle, a journal for re-attaching.
//
// - Arrays: `bsub -J "NAME[1-N]%T"`; the script reads LSB_JOBINDEX. The resource options
//   (-n, -R span[hosts=1], -W, -q, -P, -o) are given on the command line and repeated as
//   #BSUB lines in the script for whoever reads it.
// - Polling: ONE `bjobs -a -o "jobid jobindex stat exit_code exit_reason job_name
//   delimiter='|'" -noheader` per cycle (-a keeps jobs finished within CLEAN_PERIOD).
// - States: PEND, PROV, WAIT, RUN, PSUSP, USUSP, SSUSP, UNKWN are active (UNKWN: mbatchd lost
//   contact with the host, which may come back); DONE ends with exit 0; EXIT ends with the
//   program's exit code unless a TERM_ reason says LSF killed it: TERM_RUNLIMIT (time) and
//   TERM_MEMLIMIT (memory) are errors, TERM_OWNER/TERM_ADMIN/TERM_FORCE_* (bkill outside the
//   engine) are kills, TERM_PREEMPT/TERM_REQUEUE_*/TERM_LOAD/TERM_HOST... resubmit; ZOMBI (killed
//   while its host was unreachable) resubmits.
// - Cancellation: one `bkill` with every array id of the run.
// Tested against outputs reconstructed from the documented formats through shim commands and
// against captured real outputs from public projects' test data (tests/cluster/pbs_lsf/data/
// captured), not against a live LSF cluster: see docs/cluster.md.
#pragma once

#include "cluster/batch_executor.hpp"  // SchedulerRow, BatchFate, <optional> <string> <vector>

namespace interphase::cluster {

/// `bjobs -o "jobid jobindex stat exit_code exit_reason job_name delimiter='|'" -noheader`.
/// Array elements get the id "JOBID[INDEX]". "No job found" and the like give no rows.
std::vector<SchedulerRow> parse_bjobs(const std::string& text);
/// `bjobs -json -o "jobid jobindex stat exit_code exit_reason job_name"`.
std::vector<SchedulerRow> parse_bjobs_json(const std::string& text);
BatchFate lsf_fate(const SchedulerRow& row);
JobOutcome lsf_outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit);

class LsfExecutor : public BatchExecutor {
public:
    LsfExecutor(ClusterProfile profile, std::filesystem::path state_dir, std::string job_name);

protected:
    std::string script_directives(int seq, std::size_t tasks, int cores) const override;
    std::string script_identity() const override;
    std::vector<std::string> submit_argv(int seq, std::size_t tasks, const std::filesystem::path& script) const override;
    std::optional<std::string> parse_submission(const CommandResult& r) const override;
    std::string element_id(const std::string& array_id, std::size_t index, bool array) const override;
    std::optional<std::vector<SchedulerRow>> query() override;
    BatchFate fate(const SchedulerRow& row) const override { return lsf_fate(row); }
    JobOutcome outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) override {
        return lsf_outcome(id, row, exit);
    }
    std::string cancel_command() const override { return "bkill"; }

private:
    /// The resource options (without -J), shared by the command line and the #BSUB lines.
    std::vector<std::string> options(int seq, int cores) const;
};

}  // namespace interphase::cluster
