#include "cluster/pbs_executor.hpp"

#include <csignal>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster/script_text.hpp"
#include "common/text.hpp"

namespace interphase::cluster {

namespace fs = std::filesystem;

namespace {

// "1234[5].server" -> 5; "1234.server" and "1234[].server" -> -1.
int subjob_index(const std::string& id) {
    const auto open = id.find('['), close = id.find(']');
    if (open == std::string::npos || close == std::string::npos || close <= open + 1) return -1;
    return static_cast<int>(text::parse_int(id.substr(open + 1, close - open - 1)).value_or(-1));
}

std::optional<int> int_value(const std::string& s) {
    if (const auto v = text::parse_int(text::trim(s))) return static_cast<int>(*v);
    return std::nullopt;
}

// qstat -F json prints every numeric-looking value unquoted ("PBS_RESC_MEM":4294967296 in a real
// capture, tests/cluster/pbs_lsf/data/captured): a job named "123" has "Job_Name":123.
std::string json_text(const nlohmann::json& job, const char* key) {
    if (!job.contains(key)) return "";
    const auto& v = job.at(key);
    return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

// Torque names subjob i of array "name" "name-i": the tag is the array's name.
std::string array_name(std::string name, int index) {
    const std::string suffix = "-" + std::to_string(index);
    if (index >= 0 && name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        name.resize(name.size() - suffix.size());
    return name;
}

}  // namespace

std::vector<SchedulerRow> parse_qstat_json(const std::string& text) {
    std::vector<SchedulerRow> rows;
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("Jobs")) return rows;
    for (const auto& [id, job] : j.at("Jobs").items()) {
        if (!job.is_object()) continue;
        SchedulerRow r;
        r.job = id;
        r.state = json_text(job, "job_state");
        r.tag = json_text(job, "Job_Name");
        r.index = job.contains("array_index") ? int_value(json_text(job, "array_index")).value_or(-1) : subjob_index(id);
        if (job.contains("Exit_status")) r.exit = int_value(json_text(job, "Exit_status"));
        r.reason = json_text(job, "comment");
        rows.push_back(std::move(r));
    }
    return rows;
}

std::vector<SchedulerRow> parse_qstat_full(const std::string& text) {
    std::vector<SchedulerRow> rows;
    std::istringstream in(text);
    std::string last_key;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Job Id:", 0) == 0) {
            SchedulerRow r;
            r.job = text::trim(line.substr(7));
            r.index = subjob_index(r.job);
            rows.push_back(std::move(r));
            last_key.clear();
            continue;
        }
        if (rows.empty()) continue;
        auto& r = rows.back();
        if (!line.empty() && line[0] == '\t') {  // a long value wrapped onto the next line
            if (last_key == "comment") r.reason += text::trim(line);
            continue;
        }
        const auto eq = line.find(" = ");
        if (eq == std::string::npos) continue;
        last_key = text::trim(line.substr(0, eq));
        const std::string value = text::trim(line.substr(eq + 3));
        if (last_key == "job_state") r.state = value;
        else if (last_key == "Job_Name") r.tag = array_name(value, r.index);
        else if (last_key == "Exit_status" || last_key == "exit_status") r.exit = int_value(value);
        else if (last_key == "comment") r.reason = value;
    }
    return rows;
}

BatchFate pbs_fate(const SchedulerRow& row) {
    const auto& s = row.state;
    if (s == "F" || s == "X" || s == "C") {
        if (!row.exit) return BatchFate::Error;  // deleted before it ran
        const int e = *row.exit;
        // PBS's own codes (JOB_EXEC_*): the job did not run to its end through its own doing.
        if (e == -3 || e == -11 || e == -20 || e == -14 || e == -16 || e == -18) return BatchFate::Resubmit;
        if (e == -29) return BatchFate::TimeLimit;  // JOB_EXEC_KILL_WALLTIME
        if (e < 0) return BatchFate::Error;
        return BatchFate::Ended;
    }
    return BatchFate::Active;  // Q H W T M S U B R E
}

JobOutcome pbs_outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) {
    JobOutcome o;
    o.id = id;
    if (exit && *exit >= 0) {
        // PBS reports a job killed by signal N as 256+N; the batch script's record says 128+N.
        if (*exit > 256) {
            o.signal = *exit - 256;
            return o;
        }
        return exit_status_outcome(id, *exit);
    }
    const std::string why = row.reason.empty() ? "" : fmt::format(" ({})", row.reason);
    if (!exit) {
        // As a kill, so that the workflow's retry policy ("killed") starts it again.
        o.signal = SIGKILL;
        o.error = fmt::format("PBS job {} ended ({}) without an exit status: deleted with qdel outside interphase?{}",
                              row.job, row.state, why);
    } else if (*exit == -29) {
        o.error = fmt::format("PBS job {} exceeded its walltime (Exit_status -29); raise `time:` in the cluster profile",
                              row.job);
    } else if (*exit == -27 || *exit == -26) {
        o.signal = SIGKILL;
        o.error = fmt::format("PBS job {} exceeded its memory (Exit_status {}); raise `memory_per_cpu:` in the cluster "
                              "profile", row.job, *exit);
    } else {
        o.error = fmt::format("PBS could not run job {} (Exit_status {}, a JOB_EXEC code){}", row.job, *exit, why);
    }
    return o;
}

PbsExecutor::PbsExecutor(ClusterProfile profile, fs::path state_dir, std::string job_name)
    : BatchExecutor(std::move(profile), std::move(state_dir), std::move(job_name), "pbs") {
    load_journal();
    check_script_values();
}

std::string PbsExecutor::script_directives(int seq, std::size_t /*tasks*/, int cores) const {
    const auto& p = profile();
    std::string s;
    const long mem = memory_mb(p.memory_per_cpu, cores);
    if (torque()) {
        s += fmt::format("#PBS -l nodes=1:ppn={}\n", cores);
        if (mem > 0) s += fmt::format("#PBS -l mem={}mb\n", mem);
    } else {
        s += fmt::format("#PBS -l select=1:ncpus={}{}\n", cores, mem > 0 ? fmt::format(":mem={}mb", mem) : "");
    }
    const long t = walltime(seq);
    s += fmt::format("#PBS -l walltime={:02}:{:02}:{:02}\n", t / 3600, t / 60 % 60, t % 60);
    const auto line = [&](const char* option, const std::string& value, const char* field) {
        s += fmt::format("#PBS {} {}\n", option, directive_value(DirectiveSyntax::Pbs, value, p.source, field));
    };
    if (!p.queue.empty()) line("-q", p.queue, "queue");
    if (!p.account.empty()) line("-A", p.account, "account");
    if (!p.project.empty() && !torque()) line("-P", p.project, "project");
    s += "#PBS -j oe\n";
    return s;
}

std::string PbsExecutor::script_identity() const {
    return R"sh(cd "${PBS_O_WORKDIR:-.}" 2> /dev/null
idx=${PBS_ARRAY_INDEX:-${PBS_ARRAYID:-1}}; me="$PBS_JOBID"
)sh";
}

std::vector<std::string> PbsExecutor::submit_argv(int seq, std::size_t tasks, const fs::path& script) const {
    std::vector<std::string> argv{"qsub", "-N", tag(seq), "-o", (state_dir() / "logs").string() + "/"};
    if (as_array(tasks)) {
        if (torque()) argv.insert(argv.end(), {"-t", fmt::format("1-{}%{}", tasks, throttle())});
        else argv.insert(argv.end(), {"-J", fmt::format("1-{}", tasks)});  // PBS Pro has no per-array throttle
    }
    argv.push_back(script.string());
    return argv;
}

std::optional<std::string> PbsExecutor::parse_submission(const CommandResult& r) const {
    // "1234[].server" for an array, "1235.server" for a job.
    const std::string id = text::trim(r.out);
    if (r.status != 0 || id.empty() || id.find_first_of(" \t\n") != std::string::npos ||
        !std::isdigit(static_cast<unsigned char>(id[0])))
        return std::nullopt;
    return id;
}

std::string PbsExecutor::element_id(const std::string& array_id, std::size_t index, bool array) const {
    if (!array) return array_id;
    const auto at = array_id.find("[]");
    if (at == std::string::npos) return fmt::format("{}[{}]", array_id, index + 1);
    return array_id.substr(0, at) + fmt::format("[{}]", index + 1) + array_id.substr(at + 2);
}

std::optional<std::vector<SchedulerRow>> PbsExecutor::query() {
    std::vector<std::string> argv{"qstat"};
    if (torque()) argv.insert(argv.end(), {"-f", "-t"});
    else argv.insert(argv.end(), {"-x", "-f", "-F", "json", "-t"});
    // Named ids keep the answer to the run's jobs; a lost submission needs the whole list.
    if (!has_unconfirmed())
        for (const auto& a : active_arrays()) argv.push_back(a);
    const auto r = run(argv);
    // qstat exits non-zero when one of the named jobs is unknown (purged) but lists the others.
    if (r.status != 0 && r.out.empty() && r.err.find("Unknown Job Id") == std::string::npos) return std::nullopt;
    return torque() ? parse_qstat_full(r.out) : parse_qstat_json(r.out);
}


}  // namespace interphase::cluster
