#include "cluster/slurm_executor.hpp"

#include <array>
#include <cstdio>
#include <csignal>
#include <fmt/format.h>

#include "cluster/script_text.hpp"
#include "common/text.hpp"

namespace interphase::cluster {

namespace fs = std::filesystem;

namespace {

// "ExitCode=2:0" in `scontrol show job -o` output: exit status and signal.
std::optional<std::pair<int, int>> scontrol_exit_code(const std::string& text) {
    const auto pos = text.find(" ExitCode=");
    if (pos == std::string::npos) return std::nullopt;
    int code = 0, sig = 0;
    if (std::sscanf(text.c_str() + pos + 10, "%d:%d", &code, &sig) != 2) return std::nullopt;
    return std::make_pair(code, sig);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// State mapping

SlurmFate slurm_fate(const std::string& raw) {
    // squeue prints the base state; sacct may append "+" or " by UID".
    std::string s = raw.substr(0, raw.find_first_of(" +"));
    if (s == "COMPLETED" || s == "FAILED") return SlurmFate::Ended;
    if (s == "NODE_FAIL" || s == "PREEMPTED") return SlurmFate::Resubmit;
    if (s == "TIMEOUT") return SlurmFate::TimeLimit;
    if (s == "CANCELLED" || s == "OUT_OF_MEMORY" || s == "BOOT_FAIL" || s == "DEADLINE" ||
        s == "SPECIAL_EXIT" || s == "REVOKED")
        return SlurmFate::Error;
    return SlurmFate::Active;  // PENDING RUNNING COMPLETING CONFIGURING SUSPENDED REQUEUED RESIZING STOPPED ...
}

JobOutcome slurm_outcome(const std::string& id, const std::string& slurm_id, const std::string& raw_state,
                         const std::string& reason, std::optional<int> exit) {
    JobOutcome o;
    o.id = id;
    const std::string state = raw_state.substr(0, raw_state.find_first_of(" +"));
    const std::string why = reason.empty() || reason == "None" ? "" : fmt::format(", reason {}", reason);
    if (state == "COMPLETED" || state == "FAILED") {
        if (exit) {
            if (*exit > 128 && *exit <= 128 + 64) o.signal = *exit - 128;  // bash reports 128+N
            else o.exit_code = *exit;
        } else if (state == "COMPLETED") {
            o.exit_code = 0;
        } else {
            o.error = fmt::format("Slurm job {} FAILED before the program ran{} (see its log in the run "
                                  "folder's slurm/logs)", slurm_id, why);
        }
        return o;
    }
    if (state == "CANCELLED") {
        // Not by the engine (cancel_all reports its own): someone ran scancel, or an admin.
        // As a kill, so that the workflow's retry policy ("killed") starts it again.
        o.signal = SIGKILL;
        o.error = fmt::format("Slurm job {} was CANCELLED outside interphase (scancel){}", slurm_id, why);
    } else if (state == "TIMEOUT") {
        o.error = fmt::format("Slurm job {} reached its time limit (TIMEOUT); raise `time:` in the cluster profile",
                              slurm_id);
    } else if (state == "OUT_OF_MEMORY") {
        o.signal = SIGKILL;
        o.error = fmt::format("Slurm job {} ran OUT_OF_MEMORY; raise `memory_per_cpu:` in the cluster profile",
                              slurm_id);
    } else if (state == "NODE_FAIL" || state == "PREEMPTED") {
        o.error = fmt::format("Slurm job {} ended with {}{} too often (resubmitted up to max_resubmits)", slurm_id,
                              state, why);
    } else {
        o.error = fmt::format("Slurm job {} ended with {}{}", slurm_id, state, why);
    }
    return o;
}

std::vector<SqueueRow> parse_squeue(const std::string& text) {
    std::vector<SqueueRow> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line = text::trim(line);
        if (line.empty()) continue;
        SqueueRow r;
        std::array<std::string*, 4> fields{&r.job, &r.state, &r.reason, &r.comment};
        std::size_t start = 0;
        for (std::size_t f = 0; f < fields.size(); ++f) {
            const auto bar = f + 1 < fields.size() ? line.find('|', start) : std::string::npos;
            *fields[f] = line.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
            if (bar == std::string::npos) break;
            start = bar + 1;
        }
        if (!r.job.empty() && !r.state.empty()) rows.push_back(std::move(r));
    }
    return rows;
}

// ---------------------------------------------------------------------------------------------
// SlurmExecutor

SlurmExecutor::SlurmExecutor(ClusterProfile profile, fs::path state_dir, std::string job_name)
    : BatchExecutor(std::move(profile), std::move(state_dir), std::move(job_name), "slurm") {
    load_journal();
    check_script_values();
}

std::string slurm_site_directives(const ClusterProfile& p) {
    std::string s;
    const auto line = [&](const char* option, const std::string& value, const char* field) {
        if (!value.empty())
            s += fmt::format("#SBATCH {}={}\n", option, directive_value(DirectiveSyntax::Slurm, value, p.source, field));
    };
    line("--partition", p.partition, "partition");
    line("--account", p.account, "account");
    line("--qos", p.qos, "qos");
    line("--constraint", p.constraint, "constraint");
    line("--mem-per-cpu", p.memory_per_cpu, "memory_per_cpu");
    for (std::size_t i = 0; i < p.sbatch_options.size(); ++i)
        s += fmt::format("#SBATCH {}\n", directive_value(DirectiveSyntax::Slurm, p.sbatch_options[i], p.source,
                                                          fmt::format("sbatch_options[{}]", i)));
    return s;
}

std::string slurm_time(long seconds) {
    const long d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
    return d > 0 ? fmt::format("{}-{:02}:{:02}:{:02}", d, h, m, s) : fmt::format("{:02}:{:02}:{:02}", h, m, s);
}

std::string SlurmExecutor::script_directives(int seq, std::size_t /*tasks*/, int cores) const {
    const auto& p = profile();
    std::string s = "#SBATCH --ntasks=1\n";
    s += fmt::format("#SBATCH --cpus-per-task={}\n", cores);
    s += fmt::format("#SBATCH --time={}\n", slurm_time(walltime(seq)));
    s += slurm_site_directives(p);
    return s;
}

std::string SlurmExecutor::script_identity() const {
    return R"sh(if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  idx=$((SLURM_ARRAY_TASK_ID + 1)); me="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
else
  idx=1; me="${SLURM_JOB_ID:-}"
fi
)sh";
}

std::vector<std::string> SlurmExecutor::submit_argv(int seq, std::size_t tasks, const fs::path& script) const {
    std::vector<std::string> argv{"sbatch", "--parsable", "--job-name", job_name()};
    // A % of the run folder's own path must not become one of Slurm's filename patterns.
    const std::string logs = slurm_filename_literal((state_dir() / "logs").string());
    if (as_array(tasks)) {
        argv.insert(argv.end(), {"--array", fmt::format("0-{}%{}", tasks - 1, throttle())});
        argv.insert(argv.end(), {"--output", logs + "/%A_%a.out"});
    } else {
        argv.insert(argv.end(), {"--output", logs + "/%j.out"});
    }
    argv.insert(argv.end(), {"--comment", tag(seq), "--chdir", state_dir().string(), script.string()});
    return argv;
}

std::optional<std::string> SlurmExecutor::parse_submission(const CommandResult& r) const {
    // --parsable: "JOBID" or "JOBID;CLUSTER".
    std::string id = text::trim(r.out.substr(0, r.out.find(';')));
    if (r.status != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return id;
}

std::string SlurmExecutor::element_id(const std::string& array_id, std::size_t index, bool array) const {
    return array ? fmt::format("{}_{}", array_id, index) : array_id;
}

std::optional<std::vector<SchedulerRow>> SlurmExecutor::query() {
    // One call for every job of the run: they share the job name. `-t all` keeps jobs that
    // ended recently (until MinJobAge), so their final state comes from the same call.
    const auto r = run({"squeue", "-h", "-r", "-t", "all", "-n", job_name(), "-o", "%i|%T|%r|%k"});
    if (r.status != 0) return std::nullopt;
    std::vector<SchedulerRow> rows;
    for (auto& q : parse_squeue(r.out)) {
        SchedulerRow row;
        const auto us = q.job.find('_');
        if (us != std::string::npos) row.index = text::parse_int(q.job.substr(us + 1)).value_or(-1);
        row.job = std::move(q.job);
        row.state = std::move(q.state);
        row.reason = std::move(q.reason);
        row.tag = std::move(q.comment);
        rows.push_back(std::move(row));
    }
    return rows;
}

JobOutcome SlurmExecutor::outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) {
    if (!exit && slurm_fate(row.state) == SlurmFate::Ended && row.state != "COMPLETED") {
        // The batch script did not record the exit status: ask the controller.
        const auto sc = run({"scontrol", "show", "job", "-o", row.job});
        if (const auto ec = scontrol_exit_code(sc.out)) exit = ec->second != 0 ? 128 + ec->second : ec->first;
    }
    return slurm_outcome(id, row.job, row.state, row.reason, exit);
}


}  // namespace interphase::cluster
