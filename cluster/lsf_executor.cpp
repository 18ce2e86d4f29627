#include "cluster/lsf_executor.hpp"

#include <csignal>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster/script_text.hpp"
#include "common/text.hpp"

namespace interphase::cluster {

namespace fs = std::filesystem;

namespace {

std::optional<int> int_value(const std::string& s) {
    if (const auto v = text::parse_int(text::trim(s))) return static_cast<int>(*v);
    return std::nullopt;  // "-": no exit code (DONE, or never ran)
}

SchedulerRow make_row(const std::string& jobid, const std::string& jobindex, const std::string& stat,
                      const std::string& exit_code, const std::string& exit_reason, std::string job_name) {
    SchedulerRow r;
    const int index = int_value(jobindex).value_or(0);
    r.index = index > 0 ? index : -1;
    r.job = index > 0 ? fmt::format("{}[{}]", jobid, index) : jobid;
    r.state = stat;
    r.exit = int_value(exit_code);
    r.reason = exit_reason == "-" ? "" : exit_reason;
    // Array elements are listed as "NAME[INDEX]": the tag is the array's name.
    if (const auto b = job_name.rfind('['); b != std::string::npos && !job_name.empty() && job_name.back() == ']')
        job_name.resize(b);
    r.tag = job_name;
    return r;
}

bool has_reason(const SchedulerRow& row, const char* what) { return row.reason.find(what) != std::string::npos; }

}  // namespace

std::vector<SchedulerRow> parse_bjobs(const std::string& text) {
    std::vector<SchedulerRow> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line = text::trim(line);
        if (line.empty() || line.find('|') == std::string::npos) continue;  // "No job found", headers
        std::vector<std::string> f;
        for (std::size_t start = 0;;) {
            const auto bar = line.find('|', start);
            f.push_back(text::trim(line.substr(start, bar == std::string::npos ? std::string::npos : bar - start)));
            if (bar == std::string::npos) break;
            start = bar + 1;
        }
        if (f.size() < 4 || !text::parse_int(f[0])) continue;
        f.resize(6);
        rows.push_back(make_row(f[0], f[1], f[2], f[3], f[4], f[5]));
    }
    return rows;
}

std::vector<SchedulerRow> parse_bjobs_json(const std::string& text) {
    std::vector<SchedulerRow> rows;
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("RECORDS")) return rows;
    for (const auto& rec : j.at("RECORDS")) {
        if (!rec.contains("JOBID")) continue;
        rows.push_back(make_row(rec.value("JOBID", ""), rec.value("JOBINDEX", "0"), rec.value("STAT", ""),
                                rec.value("EXIT_CODE", "-"), rec.value("EXIT_REASON", "-"), rec.value("JOB_NAME", "")));
    }
    return rows;
}

BatchFate lsf_fate(const SchedulerRow& row) {
    const auto& s = row.state;
    if (s == "DONE") return BatchFate::Ended;
    if (s == "ZOMBI") return BatchFate::Resubmit;
    if (s != "EXIT") return BatchFate::Active;  // PEND PROV WAIT RUN PSUSP USUSP SSUSP UNKWN
    if (has_reason(row, "TERM_PREEMPT") || has_reason(row, "TERM_REQUEUE") || has_reason(row, "TERM_LOAD") ||
        has_reason(row, "TERM_ZOMBIE") || has_reason(row, "TERM_RMS") || has_reason(row, "TERM_CHKPNT"))
        return BatchFate::Resubmit;
    if (has_reason(row, "TERM_RUNLIMIT")) return BatchFate::TimeLimit;
    if (has_reason(row, "TERM_")) return BatchFate::Error;
    return BatchFate::Ended;  // the program's own non-zero exit
}

JobOutcome lsf_outcome(const std::string& id, const SchedulerRow& row, std::optional<int> exit) {
    JobOutcome o;
    o.id = id;
    if (row.state == "DONE") return exit_status_outcome(id, exit.value_or(0));
    if (has_reason(row, "TERM_RUNLIMIT")) {
        o.error = fmt::format("LSF job {} reached its run limit (TERM_RUNLIMIT); raise `time:` in the cluster profile",
                              row.job);
    } else if (has_reason(row, "TERM_MEMLIMIT") || has_reason(row, "TERM_SWAP")) {
        o.signal = SIGKILL;
        o.error = fmt::format("LSF job {} exceeded its memory limit ({}); raise `memory_per_cpu:` in the cluster profile",
                              row.job, row.reason);
    } else if (has_reason(row, "TERM_OWNER") || has_reason(row, "TERM_ADMIN") || has_reason(row, "TERM_FORCE")) {
        // As a kill, so that the workflow's retry policy ("killed") starts it again.
        o.signal = SIGKILL;
        o.error = fmt::format("LSF job {} was killed outside interphase (bkill): {}", row.job, row.reason);
    } else if (has_reason(row, "TERM_")) {
        o.error = fmt::format("LSF ended job {}: {}", row.job, row.reason);
    } else if (exit) {
        return exit_status_outcome(id, *exit);
    } else {
        o.error = fmt::format("LSF job {} EXIT without an exit code", row.job);
    }
    return o;
}

LsfExecutor::LsfExecutor(ClusterProfile profile, fs::path state_dir, std::string job_name)
    : BatchExecutor(std::move(profile), std::move(state_dir), std::move(job_name), "lsf") {
    load_journal();
    check_script_values();
}

std::vector<std::string> LsfExecutor::options(int seq, int cores) const {
    const auto& p = profile();
    std::vector<std::string> o{"-n", std::to_string(cores), "-R", "span[hosts=1]"};
    const long minutes = (walltime(seq) + 59) / 60;
    o.insert(o.end(), {"-W", fmt::format("{}:{:02}", minutes / 60, minutes % 60)});
    if (const long mem = memory_mb(p.memory_per_cpu, 1); mem > 0)
        o.insert(o.end(), {"-R", fmt::format("rusage[mem={}MB]", mem)});  // per slot
    if (!p.queue.empty()) o.insert(o.end(), {"-q", p.queue});
    const std::string project = p.project.empty() ? p.account : p.project;
    if (!project.empty()) o.insert(o.end(), {"-P", project});
    o.insert(o.end(), {"-o", (state_dir() / "logs" / "%J_%I.out").string()});
    return o;
}

std::string LsfExecutor::script_directives(int seq, std::size_t /*tasks*/, int cores) const {
    // Given on bsub's command line too (a script passed as an argument is not scanned for #BSUB).
    // Bash reads these lines as comments: a value must not end its line (directive_value).
    const auto& p = profile();
    const auto field = [&](const std::string& option) -> std::pair<std::string, std::string> {
        if (option == "-q") return {p.source, "queue"};
        if (option == "-P") return {p.source, p.project.empty() ? "account" : "project"};
        if (option == "-o") return {"lsf executor", "run folder"};
        return {"lsf executor", option};
    };
    std::string s;
    const auto o = options(seq, cores);
    for (std::size_t i = 0; i + 1 < o.size(); i += 2) {
        const auto [source, name] = field(o[i]);
        s += fmt::format("#BSUB {} {}\n", o[i], directive_value(DirectiveSyntax::Lsf, o[i + 1], source, name));
    }
    return s;
}

std::string LsfExecutor::script_identity() const {
    return R"sh(if [ "${LSB_JOBINDEX:-0}" != 0 ]; then idx=$LSB_JOBINDEX; me="${LSB_JOBID}[${LSB_JOBINDEX}]"; else idx=1; me="$LSB_JOBID"; fi
)sh";
}

std::vector<std::string> LsfExecutor::submit_argv(int seq, std::size_t tasks, const fs::path& script) const {
    // Every element has the same cores: read them back from the script's "-n" line.
    std::vector<std::string> argv{"bsub", "-J",
                                  as_array(tasks) ? fmt::format("{}[1-{}]%{}", tag(seq), tasks, throttle()) : tag(seq)};
    int cores = profile().cores_per_task;
    std::ifstream in(script);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("#BSUB -n ", 0) == 0) cores = static_cast<int>(text::parse_int(line.substr(9)).value_or(cores));
    const auto o = options(seq, cores);
    argv.insert(argv.end(), o.begin(), o.end());
    argv.insert(argv.end(), {"/bin/bash", script.string()});
    return argv;
}

std::optional<std::string> LsfExecutor::parse_submission(const CommandResult& r) const {
    // "Job <456> is submitted to queue <normal>."
    const auto open = r.out.find("Job <"), close = r.out.find('>', open == std::string::npos ? 0 : open);
    if (r.status != 0 || open == std::string::npos || close == std::string::npos) return std::nullopt;
    const std::string id = r.out.substr(open + 5, close - open - 5);
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return id;
}

std::string LsfExecutor::element_id(const std::string& array_id, std::size_t index, bool array) const {
    return array ? fmt::format("{}[{}]", array_id, index + 1) : array_id;
}

std::optional<std::vector<SchedulerRow>> LsfExecutor::query() {
    // One call lists the user's jobs, finished ones within CLEAN_PERIOD included (-a).
    const auto r = run({"bjobs", "-a", "-o", "jobid jobindex stat exit_code exit_reason job_name delimiter='|'", "-noheader"});
    // With LSB_BJOBS_CONSISTENT_EXIT_CODE=Y an empty list exits 255 with "No job found".
    if (r.status != 0 && r.err.find("No ") == std::string::npos && r.out.find("No ") == std::string::npos)
        return std::nullopt;
    return parse_bjobs(r.out);
}


}  // namespace interphase::cluster
