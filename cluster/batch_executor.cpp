#include "cluster/batch_executor.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <sys/wait.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "cluster/local_executor.hpp"
#include "cluster/script_text.hpp"
#include "cluster/unique_fd.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"

extern char** environ;  // NOLINT

namespace interphase::cluster {


namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Arrays larger than this are split: clusters often keep Slurm's default MaxArraySize (1001);
// PBS Pro's max_array_size defaults to 10000, LSF's MAX_JOB_ARRAY_SIZE to 1000.
constexpr std::size_t kMaxArrayTasks = 1000;
// Consecutive failed submissions after which the queued jobs are reported as failed.
constexpr int kMaxSbatchFailures = 20;
// A scheduler command that hangs longer than this is killed (a wedged slurmctld).
constexpr auto kCommandTimeout = std::chrono::seconds(120);

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv) {
    CommandResult res;
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        res.err = std::strerror(errno);
        return res;
    }
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        res.err = std::strerror(errno);
        return res;
    }
    UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group: ChildProcess may signal it as a whole
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    out_w.reset();
    err_w.reset();
    if (rc != 0) {
        res.err = fmt::format("cannot run '{}': {}", argv[0], std::strerror(rc));
        return res;
    }
    ChildProcess child(pid);  // killed and reaped on every early return
    const auto deadline = Clock::now() + kCommandTimeout;
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            res.err += fmt::format("\n'{}' timed out after {} s", argv[0], kCommandTimeout.count());
            return res;  // ~ChildProcess kills the group
        }
        pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
        const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const auto got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(got));
            else if (got == 0 || errno != EINTR) (i == 0 ? out_open : err_open) = false;
        }
    }
    const auto status = child.reap();
    if (status && WIFEXITED(*status)) res.status = WEXITSTATUS(*status);
    return res;
}

namespace {

std::string now_iso() {
    const auto t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
    return buf;
}

std::string one_line(std::string s) {
    s = text::trim(s);
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s.size() > 300 ? s.substr(0, 297) + "..." : s;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::string encode_field(const std::string& s) {
    if (s.empty()) return "-";  // a lone dash is the empty string ('-' itself is encoded)
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '.' || c == '_' || c == '/' || c == '+' || c == '=' || c == ':' || c == ',' ||
            c == '@')
            out += static_cast<char>(c);
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// BatchExecutor

JobOutcome exit_status_outcome(const std::string& id, int exit) {
    JobOutcome o;
    o.id = id;
    if (exit > 128 && exit <= 128 + 64) o.signal = exit - 128;  // bash reports 128+N
    else o.exit_code = exit;
    return o;
}

BatchExecutor::BatchExecutor(ClusterProfile profile, fs::path state_dir, std::string job_name, std::string scheduler)
    : profile_(std::move(profile)), state_dir_(std::move(state_dir)), job_name_(safe_job_name(job_name)),
      scheduler_(std::move(scheduler)) {
    // Checked before anything is created: the path reaches sbatch --output/--chdir, qsub -o and
    // LSF's #BSUB -o line, where a line break would end the directive.
    require_printable(fs::absolute(state_dir_).string(), scheduler_ + " executor", "run folder");
    slot_cores_ = std::max(1, profile_.cores_per_task);
    interval_ = profile_.poll_interval;
    next_poll_ = Clock::now();
    fs::create_directories(state_dir_ / "arrays");
    fs::create_directories(state_dir_ / "logs");
}

int BatchExecutor::free_cores() const {
    const auto active = static_cast<int>(jobs_.size() + queued_.size());
    return std::max(0, profile_.max_queued_jobs - active) * slot_cores_;
}

long memory_mb(const std::string& memory_per_cpu, int cores) {
    if (memory_per_cpu.empty()) return 0;
    const char unit = memory_per_cpu.back();
    const bool has_unit = std::isalpha(static_cast<unsigned char>(unit));
    const long v = text::parse_int(has_unit ? memory_per_cpu.substr(0, memory_per_cpu.size() - 1) : memory_per_cpu).value_or(0);
    const double mb = unit == 'K' ? v / 1024.0 : unit == 'G' ? v * 1024.0 : unit == 'T' ? v * 1048576.0 : double(v);
    return std::max(1L, static_cast<long>(mb * cores + 0.5));
}

std::set<std::string> BatchExecutor::active_arrays() const {
    std::set<std::string> out;
    for (const auto& [id, t] : jobs_)
        if (!t.array_id.empty()) out.insert(t.array_id);
    return out;
}

bool BatchExecutor::has_unconfirmed() const {
    for (const auto& [id, t] : jobs_)
        if (t.sched_id.empty()) return true;
    return false;
}

int BatchExecutor::total_commands() const {
    int n = 0;
    for (const auto& [cmd, count] : commands_) n += count;
    return n;
}

std::string BatchExecutor::tag(int seq) const { return fmt::format("{}.{}", job_name_, seq); }

CommandResult BatchExecutor::run(const std::vector<std::string>& argv) {
    ++commands_[fs::path(argv.at(0)).filename().string()];
    auto r = run_command(argv);
    std::ofstream log(state_dir_ / "commands.log", std::ios::app);
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    log << now_iso() << '\t' << line << "\t-> " << r.status;
    if (r.status != 0) log << '\t' << one_line(r.err);
    log << '\n';
    return r;
}

void BatchExecutor::journal(const std::string& json_line) {
    // Appended and flushed before the next scheduler command: what a killed engine submitted
    // is on disk, and an entry cut short by a kill is skipped when read back.
    std::ofstream out(state_dir_ / "journal.jsonl", std::ios::app);
    out << json_line << '\n';
    out.flush();
    if (!out) throw StorageError(fmt::format("cannot write {}", (state_dir_ / "journal.jsonl").string()));
}

void BatchExecutor::load_journal() {
    std::ifstream in(state_dir_ / "journal.jsonl");
    std::map<int, std::vector<std::string>> arrays;  // seq -> task ids in index order
    for (std::string line; std::getline(in, line);) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception&) {
            continue;  // a line cut short by a kill
        }
        const std::string e = j.value("event", "");
        if (e == "array") {
            const int seq = j.at("seq").get<int>();
            next_seq_ = std::max(next_seq_, seq + 1);
            auto& ids = arrays[seq];
            int index = 0;
            const long walltime = j.value("walltime", profile_.walltime());
            array_walltime_[seq] = walltime;
            for (const auto& t : j.at("tasks")) {
                Tracked tr;
                tr.job.id = t.at("id").get<std::string>();
                tr.job.workdir = t.at("workdir").get<std::string>();
                tr.array_seq = seq;
                tr.index = index++;
                tr.per_job = std::max(1, j.value("per_job", 1));
                tr.resubmits = t.value("resubmits", 0);
                tr.timeouts = t.value("timeouts", 0);
                tr.walltime = walltime;
                tr.array = j.value("array", true);
                ids.push_back(tr.job.id);
                journal_jobs_[tr.job.id] = std::move(tr);
            }
        } else if (e == "submitted") {
            const int seq = j.at("seq").get<int>();
            const std::string sid = j.at(scheduler_).get<std::string>();
            const bool array = j.value("array", true);
            for (const auto& id : arrays[seq]) {
                auto it = journal_jobs_.find(id);
                if (it != journal_jobs_.end() && it->second.array_seq == seq) {
                    it->second.array_id = sid;
                    it->second.array = array;
                    it->second.sched_id = element_id(sid, static_cast<std::size_t>(it->second.element()), array);
                }
            }
        } else if (e == "submit_failed" || e == "sbatch_failed") {
            const int seq = j.at("seq").get<int>();
            for (const auto& id : arrays[seq]) {
                auto it = journal_jobs_.find(id);
                if (it != journal_jobs_.end() && it->second.array_seq == seq) journal_jobs_.erase(it);
            }
        } else if (e == "end" || e == "resubmit" || e == "timeout_restart" || e == "cancelled") {
            journal_jobs_.erase(j.value("id", ""));
        }
    }
}

void BatchExecutor::submit(const Job& job) {
    if (job.argv.empty()) throw ExecutionError(fmt::format("job '{}' has an empty argument vector", job.id));
    if (!fs::is_directory(job.workdir))
        throw ExecutionError(fmt::format("job '{}': working folder {} does not exist", job.id, job.workdir.string()));
    if (static_cast<int>(jobs_.size() + queued_.size()) >= profile_.max_queued_jobs)
        throw ExecutionError(fmt::format("job '{}': {} jobs are already queued (max_queued_jobs)", job.id,
                                         profile_.max_queued_jobs));
    slot_cores_ = std::max(slot_cores_, job.cores);
    queued_.push_back({job, 0, 0, profile_.walltime()});
}

bool BatchExecutor::reattach(const Job& job) {
    auto it = journal_jobs_.find(job.id);
    if (it == journal_jobs_.end()) return false;
    Tracked t = std::move(it->second);
    journal_jobs_.erase(it);
    if (fs::path(t.job.workdir).lexically_normal() != fs::path(job.workdir).lexically_normal()) return false;
    t.job = job;
    t.started = Clock::now();
    jobs_[job.id] = std::move(t);
    next_poll_ = Clock::now();  // learn its state at once
    return true;
}

std::string BatchExecutor::table_line(const Job& job) const {
    // workdir stdout stderr N env1..envN argv...: every field encoded, so one line per job and
    // one word per field whatever the data holds.
    const auto out = job.stdout_path.empty() ? fs::path("stdout.txt") : job.stdout_path;
    const auto err = job.stderr_path.empty() ? fs::path("stderr.txt") : job.stderr_path;
    std::string line = encode_field(fs::absolute(job.workdir).string()) + ' ' + encode_field(out.string()) + ' ' +
                       encode_field(err.string());
    line += ' ' + std::to_string(job.environment.size());
    for (const auto& [k, v] : job.environment) line += ' ' + encode_field(k + "=" + v);
    for (const auto& a : profile_.launch_argv(job.argv, job.cores)) line += ' ' + encode_field(a);
    return line;
}

void BatchExecutor::check_script_values() const {
    (void)batch_script(0, 1, std::max(1, profile_.cores_per_task), state_dir_ / "arrays" / "0.tasks");
}

long BatchExecutor::walltime(int seq) const {
    const auto it = array_walltime_.find(seq);
    return it != array_walltime_.end() ? it->second : profile_.walltime();
}

std::string BatchExecutor::batch_script(int seq, std::size_t elements, int cores, const fs::path& table,
                                        int per_job) const {
    std::string s = "#!/bin/bash\n";
    s += fmt::format("# Written by interphase (cluster/{}_executor.cpp): array {} of {} element(s), each running {} "
                     "line(s)\n# of its table one after another (fields percent-encoded: workdir stdout stderr N "
                     "env... argv...).\n",
                     scheduler_, seq, elements, per_job);
    s += script_directives(seq, elements, cores);
    s += "set -u\n";
    s += "dec() { if [ \"$2\" = - ]; then printf -v \"$1\" '%s' ''; else printf -v \"$1\" '%b' \"${2//%/\\\\x}\"; fi; }\n";
    s += "# The profile's environment and setup lines.\n";
    for (const auto& [k, v] : profile_.environment) {
        require_variable_name(k, profile_.source, "environment");
        s += fmt::format("dec v '{}'; export {}=\"$v\"\n", encode_field(v), k);
    }
    for (const auto& line : profile_.setup) s += line + "\n";
    s += fmt::format("dec table '{}'\n", encode_field(fs::absolute(table).string()));
    s += script_identity();
    s += fmt::format("per_job={}\n", per_job);
    // Each task in a subshell: its environment and folder do not leak into the next one. The
    // start record tells a task that ran from one its bundle never reached; the exit record
    // (element id and exit status) is written when the program has ended.
    s += R"sh(run_line() (
  line=$(sed -n "${1}p" "$table")
  read -r -a f <<< "$line"
  dec workdir "${f[0]}"; dec out "${f[1]}"; dec err "${f[2]}"
  i=4
  for ((k = 0; k < f[3]; k++)); do dec kv "${f[i]}"; export "$kv"; i=$((i + 1)); done
  argv=()
  for ((; i < ${#f[@]}; i++)); do dec a "${f[i]}"; argv+=("$a"); done
  cd "$workdir" || { echo "cannot enter $workdir" >&2; exit 97; }
  rm -f .@-exit .@-error
  printf '%s\n' "$me" > .@-start
  if ! command -v -- "${argv[0]}" > /dev/null 2>&1; then
    echo "executable '${argv[0]}' not found on PATH of the compute node" > .@-error
    printf '%s %s\n' "$me" 127 > .@-exit
    exit 127
  fi
  if [ "$out" = "$err" ]; then
    "${argv[@]}" > "$out" 2>&1 < /dev/null
  else
    "${argv[@]}" > "$out" 2> "$err" < /dev/null
  fi
  rc=$?
  printf '%s %s\n' "$me" "$rc" > .@-exit
  exit $rc
)
lines=$(wc -l < "$table")
first=$(( (idx - 1) * per_job + 1 )); last=$(( idx * per_job ))
[ "$last" -gt "$lines" ] && last=$lines
status=0
for ((n = first; n <= last; n++)); do run_line "$n" || status=$?; done
exit $status
)sh";
    // The exit records are named after the scheduler (.slurm-exit, .pbs-exit, .lsf-exit).
    for (auto at = s.find(".@-"); at != std::string::npos; at = s.find(".@-", at)) s.replace(at + 1, 1, scheduler_);
    return s;
}

bool BatchExecutor::submit_array(const std::vector<Pending>& jobs) {
    const int seq = next_seq_++;
    const int cores = jobs.front().job.cores;
    const long time = jobs.front().walltime;
    const int per_job = std::max(1, profile_.tasks_per_job);
    const std::size_t elements = (jobs.size() + per_job - 1) / per_job;
    array_walltime_[seq] = time;
    const fs::path table = state_dir_ / "arrays" / fmt::format("{}.tasks", seq);
    const fs::path script = state_dir_ / "arrays" / fmt::format("{}.sh", seq);
    {
        std::ofstream t(table);
        for (const auto& p : jobs) t << table_line(p.job) << '\n';
        std::ofstream sc(script);
        sc << batch_script(seq, elements, cores, table, per_job);
        if (!t || !sc) throw StorageError(fmt::format("cannot write {} or {}", table.string(), script.string()));
    }
    const bool array = as_array(elements);
    nlohmann::json entry{{"event", "array"}, {"seq", seq},         {"time", now_iso()},
                         {"array", array},   {"per_job", per_job}, {"walltime", time},
                         {"tasks", nlohmann::json::array()}};
    for (const auto& p : jobs)
        entry["tasks"].push_back({{"id", p.job.id},
                                  {"workdir", fs::absolute(p.job.workdir).string()},
                                  {"resubmits", p.resubmits},
                                  {"timeouts", p.timeouts}});
    journal(entry.dump());

    const auto r = run(submit_argv(seq, elements, script));
    const auto submitted = parse_submission(r);
    if (!submitted) {
        journal(nlohmann::json{{"event", "submit_failed"}, {"seq", seq}, {"error", one_line(r.err)}}.dump());
        last_submit_error_ = one_line(r.err.empty() ? r.out : r.err);
        return false;
    }
    const std::string id = *submitted;
    journal(nlohmann::json{{"event", "submitted"}, {"seq", seq}, {scheduler_, id}, {"array", array}}.dump());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        Tracked t;
        t.job = jobs[i].job;
        t.array_id = id;
        t.array = array;
        t.array_seq = seq;
        t.index = static_cast<int>(i);
        t.per_job = per_job;
        t.sched_id = element_id(id, static_cast<std::size_t>(t.element()), array);
        t.resubmits = jobs[i].resubmits;
        t.timeouts = jobs[i].timeouts;
        t.walltime = time;
        t.started = Clock::now();
        jobs_[t.job.id] = std::move(t);
    }
    return true;
}

void BatchExecutor::flush() {
    if (queued_.empty()) return;
    // Jobs of one shape (cores, time limit) go into one array, in the order they were submitted.
    std::map<std::pair<int, long>, std::vector<Pending>> by_shape;
    for (auto& q : queued_) by_shape[{q.job.cores, q.walltime}].push_back(std::move(q));
    queued_.clear();
    bool failed = false;
    const std::size_t per_job = static_cast<std::size_t>(std::max(1, profile_.tasks_per_job));
    for (auto& [shape, group] : by_shape) {
        // Without arrays (profile `arrays: false`), one submission per job (one task, or one bundle).
        const std::size_t per = as_array(2) ? kMaxArrayTasks * per_job : per_job;
        for (std::size_t start = 0; start < group.size(); start += per) {
            const auto end = std::min(group.size(), start + per);
            std::vector<Pending> jobs(group.begin() + static_cast<long>(start), group.begin() + static_cast<long>(end));
            if (!failed && submit_array(jobs)) continue;
            failed = true;  // keep the rest for the next attempt
            for (auto i = start; i < end; ++i) queued_.push_back(std::move(group[i]));
        }
    }
    if (!failed) {
        submit_failures_ = 0;
        next_poll_ = std::min(next_poll_, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                              std::chrono::duration<double>(profile_.poll_interval)));
        interval_ = profile_.poll_interval;
        return;
    }
    // The submission failed (controller down or restarting, a rejected option): retry at the next poll,
    // and give up on these jobs only after many failures in a row.
    if (++submit_failures_ >= kMaxSbatchFailures) {
        for (auto& q : queued_) {
            JobOutcome o;
            o.id = q.job.id;
            o.error = fmt::format("{} submission failed {} times in a row: {}", scheduler_, submit_failures_,
                                  last_submit_error_);
            ready_.push_back(std::move(o));
        }
        queued_.clear();
        submit_failures_ = 0;
    }
}

std::optional<int> BatchExecutor::recorded_exit(const Tracked& t) const {
    std::ifstream in(t.job.workdir / exit_file());
    std::string who;
    int rc = 0;
    if (!(in >> who >> rc) || who != t.sched_id) return std::nullopt;
    return rc;
}

bool BatchExecutor::started(const Tracked& t) const {
    std::ifstream in(t.job.workdir / start_file());
    std::string who;
    return static_cast<bool>(in >> who) && who == t.sched_id;
}

void BatchExecutor::finish(const std::string& id, JobOutcome outcome) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    outcome.id = id;
    outcome.wall_seconds = std::chrono::duration<double>(Clock::now() - it->second.started).count();
    if (outcome.error.empty() && outcome.exit_code == 127) {
        const auto msg = text::trim(read_file(it->second.job.workdir / error_file()));
        if (!msg.empty()) outcome.error = msg;
    }
    journal(nlohmann::json{{"event", "end"}, {"id", id}, {scheduler_, it->second.sched_id}, {"outcome", outcome.describe()}}
                .dump());
    ready_.push_back(std::move(outcome));
    jobs_.erase(it);
}

void BatchExecutor::resubmit(const std::string& id, const std::string& why, bool counted) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Tracked t = it->second;
    if (counted && t.resubmits >= profile_.max_resubmits) {
        JobOutcome o;
        o.error = fmt::format("{} job {}: {}; resubmitted {} times already (max_resubmits)", scheduler_, t.sched_id, why,
                              t.resubmits);
        finish(id, std::move(o));
        return;
    }
    jobs_.erase(it);
    journal(nlohmann::json{{"event", "resubmit"}, {"id", id}, {scheduler_, t.sched_id}, {"why", why}}.dump());
    notices_.push_back(fmt::format("{} job {} of {} submitted again: {}", scheduler_, t.sched_id, id, why));
    std::error_code ec;
    fs::remove(t.job.workdir / exit_file(), ec);
    queued_.push_back({std::move(t.job), t.resubmits + (counted ? 1 : 0), t.timeouts, t.walltime});
}

void BatchExecutor::restart_after_time_limit(const std::string& id, const SchedulerRow& row) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Tracked t = it->second;
    const auto& rule = profile_.on_timeout;
    const long cap = profile_.max_walltime();
    const long more = std::min(cap, static_cast<long>(std::ceil(static_cast<double>(t.walltime) * rule.time_factor)));
    if (t.timeouts >= rule.restarts || more <= t.walltime) {
        JobOutcome o = outcome(id, row, std::nullopt);
        o.error += fmt::format(" — after {} restart(s) with more time, at {} s (on_timeout: restarts {}, max_time {} s)",
                               t.timeouts, t.walltime, rule.restarts, cap);
        finish(id, std::move(o));
        return;
    }
    bool continued = false;
    if (t.job.prepare_restart) {
        try {
            continued = t.job.prepare_restart();
        } catch (const std::exception& e) {
            JobOutcome o;
            o.error = fmt::format("{} job {} reached its time limit ({} s) and could not be prepared to continue: {}",
                                  scheduler_, t.sched_id, t.walltime, e.what());
            finish(id, std::move(o));
            return;
        }
    }
    jobs_.erase(it);
    journal(nlohmann::json{{"event", "timeout_restart"},
                           {"id", id},
                           {scheduler_, t.sched_id},
                           {"walltime", t.walltime},
                           {"next_walltime", more},
                           {"continued", continued}}
                .dump());
    notices_.push_back(fmt::format("{} job {} of {} reached its time limit ({} s): {} with {} s (time-limit restart "
                                   "{} of {})",
                                   scheduler_, t.sched_id, id, t.walltime,
                                   continued ? "continued from where it stopped" : "started over", more,
                                   t.timeouts + 1, rule.restarts));
    std::error_code ec;
    fs::remove(t.job.workdir / exit_file(), ec);
    queued_.push_back({std::move(t.job), t.resubmits, t.timeouts + 1, more});
}

void BatchExecutor::poll() {
    if (jobs_.empty()) return;
    // One call for every job of the run (query()); jobs that ended recently are still listed,
    // so their final state comes from the same call.
    const auto rows = query();
    if (!rows) {
        // The controller is down or restarting: keep every job as it is and try later.
        ++poll_failures_;
        interval_ = std::min(interval_ * profile_.poll_backoff, profile_.poll_max_interval);
        return;
    }
    poll_failures_ = 0;
    std::map<std::string, const SchedulerRow*> by_id;
    std::map<std::string, std::string> by_tag_index;  // "tag#index" -> element id, for unconfirmed arrays
    for (const auto& row : *rows) {
        if (!row.tag.empty()) by_tag_index[row.tag + "#" + std::to_string(row.index)] = row.job;
        by_id[row.job] = &row;
    }
    bool changed = false;
    std::vector<std::string> ids;
    for (const auto& [id, t] : jobs_) ids.push_back(id);
    for (const auto& id : ids) {
        Tracked& t = jobs_.at(id);
        if (t.sched_id.empty()) {
            // Submitted by a killed engine between the journal entry and the scheduler's answer.
            const int index = t.array ? scheduler_index(static_cast<std::size_t>(t.element())) : -1;
            const auto it = by_tag_index.find(tag(t.array_seq) + "#" + std::to_string(index));
            if (it == by_tag_index.end()) {
                changed = true;
                resubmit(id, "its submission was never confirmed");
                continue;
            }
            t.sched_id = it->second;
        }
        const auto row = by_id.find(t.sched_id);
        if (row == by_id.end()) {
            // Gone from the controller's memory (its retention time passed while nobody polled):
            // the batch script's record says how the program ended; without one the job is lost.
            changed = true;
            if (const auto exit = recorded_exit(t))
                finish(id, exit_status_outcome(id, *exit));
            else
                resubmit(id, fmt::format("it vanished from {} (cancelled while pending, or purged) without a recorded "
                                         "exit status", scheduler_));
            continue;
        }
        const SchedulerRow& r = *row->second;
        const bool bundle = t.per_job > 1;
        const auto fate_now = fate(r);
        if (fate_now == BatchFate::Active) continue;  // tasks of running bundles: scan_bundles()
        changed = true;
        const auto exit = recorded_exit(t);
        if (fate_now == BatchFate::TimeLimit) {
            // The scheduler's SIGTERM may reach the batch script after the program died of it,
            // so the script can still record 128+15: only a program that ended by itself (a lone
            // task with 0; in a bundle, any status that is not a signal) is taken at its word.
            const bool ended_by_itself = exit && (bundle ? *exit <= 128 : *exit == 0);
            if (ended_by_itself)
                finish(id, exit_status_outcome(id, *exit));
            else if (bundle && !exit && !started(t))
                resubmit(id, fmt::format("its bundle ended with {} before the task started", r.state), false);
            else
                restart_after_time_limit(id, r);
            continue;
        }
        if (bundle && exit) {
            // The task ended by itself, whatever became of the rest of its bundle.
            finish(id, exit_status_outcome(id, *exit));
            continue;
        }
        if (bundle && fate_now == BatchFate::Ended) {
            // The bundle ran to its end but left no exit record for this task: it could not
            // start (its folder could not be entered). Never resubmitted blindly: it would fail again.
            JobOutcome o;
            o.error = fmt::format("{} job {} (a bundle) ended with {} without running this task (no exit record in "
                                  "{}; see the bundle's log in {})",
                                  scheduler_, t.sched_id, r.state, t.job.workdir.string(), (state_dir_ / "logs").string());
            finish(id, std::move(o));
            continue;
        }
        if (bundle && fate_now != BatchFate::Resubmit && !started(t)) {
            // Its bundle was cut short (cancelled) before reaching it: it never ran.
            resubmit(id, fmt::format("its bundle ended with {} before the task started", r.state), false);
            continue;
        }
        if (fate_now == BatchFate::Resubmit)
            resubmit(id, "it ended with " + r.state + (r.reason.empty() ? "" : " (" + r.reason + ")"));
        else  // Ended, Error
            finish(id, outcome(id, r, exit ? exit : r.exit));
    }
    interval_ = changed ? profile_.poll_interval : std::min(interval_ * profile_.poll_backoff, profile_.poll_max_interval);
}

bool BatchExecutor::scan_bundles() {
    std::map<std::pair<int, int>, std::vector<std::pair<int, std::string>>> bundles;  // (array, element) -> (line, id)
    for (const auto& [id, t] : jobs_)
        if (t.per_job > 1 && !t.sched_id.empty()) bundles[{t.array_seq, t.element()}].emplace_back(t.index, id);
    bool any = false;
    for (auto& [element, tasks] : bundles) {
        std::sort(tasks.begin(), tasks.end());
        for (std::size_t k = 0; k < tasks.size(); ++k) {  // in the order the bundle runs them
            const std::string id = tasks[k].second;
            const auto exit = recorded_exit(jobs_.at(id));
            if (!exit) break;
            // Killed by a signal: perhaps by the scheduler at the bundle's time limit, which only
            // the bundle's end state tells (poll()), unless the bundle already went on to the next.
            if (*exit > 128 && !(k + 1 < tasks.size() && started(jobs_.at(tasks[k + 1].second)))) break;
            finish(id, exit_status_outcome(id, *exit));
            any = true;
        }
    }
    return any;
}

std::vector<JobOutcome> BatchExecutor::wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (!queued_.empty() && submit_failures_ == 0) flush();
    while (true) {
        if (!ready_.empty()) return std::exchange(ready_, {});
        if (jobs_.empty() && queued_.empty()) return {};
        const auto now = Clock::now();
        if (now >= next_poll_) {
            if (!queued_.empty()) flush();
            poll();
            next_poll_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_));
            continue;
        }
        const bool bundles = profile_.tasks_per_job > 1;
        if (bundles && now >= next_scan_) {
            next_scan_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(profile_.poll_interval));
            if (scan_bundles()) continue;
        }
        if (now >= deadline) return {};
        std::this_thread::sleep_until(std::min({next_poll_, deadline, bundles ? next_scan_ : deadline}));
    }
}

void BatchExecutor::cancel_all() {
    std::set<std::string> arrays;
    for (const auto& [id, t] : jobs_)
        if (!t.array_id.empty()) arrays.insert(t.array_id);
    if (!arrays.empty()) {
        std::vector<std::string> argv{cancel_command()};
        argv.insert(argv.end(), arrays.begin(), arrays.end());
        run(argv);
    }
    std::vector<std::string> ids;
    for (const auto& [id, t] : jobs_) ids.push_back(id);
    for (const auto& id : ids) {
        journal(nlohmann::json{{"event", "cancelled"}, {"id", id}, {scheduler_, jobs_.at(id).sched_id}}.dump());
        JobOutcome o;
        o.id = id;
        o.signal = SIGTERM;
        o.wall_seconds = std::chrono::duration<double>(Clock::now() - jobs_.at(id).started).count();
        ready_.push_back(std::move(o));
    }
    jobs_.clear();
    for (auto& q : queued_) {
        JobOutcome o;
        o.id = q.job.id;
        o.signal = SIGTERM;
        ready_.push_back(std::move(o));
    }
    queued_.clear();
}

}  // namespace interphase::cluster
