#include "engine/runner.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "cluster/local_executor.hpp"
#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "engine/builtin_task.hpp"
#include "engine/cache.hpp"
#include "engine/executor_setup.hpp"
#include "engine/drivers/relax.hpp"
#include "plugins/potential.hpp"
#include "engine/force_providers.hpp"
#include "engine/hash.hpp"
#include "engine/store.hpp"
#include "engine/task_kind.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

// Installs SIGINT/SIGTERM handlers for the duration of a run and restores the old ones.
class SignalGuard {
public:
    SignalGuard() {
        g_interrupted = false;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~SignalGuard() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;
private:
    struct sigaction old_int_ {}, old_term_ {};
};

// One engine per run folder at a time: an exclusive flock on RUN_DIR/.lock.
class RunLock {
public:
    explicit RunLock(const fs::path& dir) {
        fd_ = ::open((dir / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        if (fd_ < 0) throw StorageError("cannot create lock file in " + dir.string());
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            throw ExecutionError(fmt::format("{} is in use by another interphase process", dir.string()));
        }
        // The holder's process id, for `interphase cancel`.
        const std::string pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
            throw StorageError("cannot write the lock file in " + dir.string());
    }
    ~RunLock() {
        if (fd_ >= 0) ::close(fd_);  // closing releases the lock
    }
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;
private:
    int fd_ = -1;
};

// Written into a calculation's folder while it runs: its process group on this machine.
constexpr const char* kProcessGroupFile = "process_group";

}  // namespace

// Stops what a killed engine left running for `folder`: the process group recorded there, if
// it still exists and still works in that folder (so a recycled process id is never touched).
void stop_orphaned_calculation(const fs::path& folder) {
    std::ifstream in(folder / kProcessGroupFile);
    long pgid = 0;
    if (!(in >> pgid) || pgid <= 1) return;
    std::error_code ec;
    const auto cwd = fs::read_symlink(fs::path("/proc") / std::to_string(pgid) / "cwd", ec);
    if (ec || fs::weakly_canonical(cwd, ec) != fs::weakly_canonical(folder, ec)) return;
    ::kill(static_cast<pid_t>(-pgid), SIGKILL);
    for (int i = 0; i < 100 && ::kill(static_cast<pid_t>(-pgid), 0) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

namespace {

double now_unix() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

// A readable slug of the task name plus 12 hex digits of its SHA-256: the slug alone maps
// many names to one folder ("α-M(100)" and "γ-M(100)" both to "_-M(100)"), and two tasks
// sharing a folder overwrite each other's inputs and outputs.
std::string task_folder_name(const std::string& task) {
    constexpr std::size_t kSlugBytes = 80;  // keeps the whole path far below NAME_MAX (255)
    std::string slug;
    for (char c : task) {
        if (slug.size() >= kSlugBytes) break;
        const auto u = static_cast<unsigned char>(c);
        slug += (u < 0x80 && (std::isalnum(u) || c == '(' || c == ')' || c == '-' || c == '+' || c == '_'))
                    ? c
                    : (c == '/' ? '.' : '_');
    }
    return slug + "_" + sha256_hex(task).substr(0, 12);
}

namespace {

std::string hms(double seconds) {
    const long s = static_cast<long>(seconds);
    return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

// What the workflow knows about the system that an electronic-structure code needs: written into
// the task's parameters (and so into its hash) by the workflow, only for such codes.
void describe_system(const Task& t, plugins::CalculationRequest& req) {
    const std::string source = "task " + t.name;
    if (t.params.contains("electronic"))
        req.electronic = plugins::electronic_from_string(t.params.at("electronic").get<std::string>(), source, "electronic");
    req.slab = t.params.value("slab", false);
    if (t.params.contains("spin"))
        req.spin = plugins::spin_from_string(t.params.at("spin").get<std::string>(), source, "spin");
}

plugins::CalculationRequest make_request(const Task& t, const nlohmann::json& structure_output,
                                         const plugins::Protocol& protocol) {
    plugins::CalculationRequest req;
    req.structure = structures::structure_from_json(structure_output.at("structure"), t.name);
    req.kind = t.params.at("calculation") == "relaxation" ? plugins::CalculationKind::Relaxation
                                                          : plugins::CalculationKind::SinglePoint;
    req.protocol = protocol;
    req.spin_multiplicity = t.params.value("spin_multiplicity", 0);
    req.label = t.params.value("label", t.name);
    describe_system(t, req);
    return req;
}

// A calculation with an in-process potential (builtin calculators): single points directly,
// relaxations with the engine's L-BFGS driver on the protocol's fmax and step limit.
nlohmann::json run_with_potential(const plugins::Calculator& calc, const plugins::CalculationRequest& req) {
    const plugins::Potential& potential = *calc.potential();
    const auto forces = drivers::in_process(potential);
    if (req.kind == plugins::CalculationKind::SinglePoint) {
        auto ef = forces({req.structure}).at(0);
        plugins::CalculationResult r;
        r.energy = ef.energy;
        r.forces = std::move(ef.forces);
        r.structure = req.structure;
        r.scf_converged = r.geometry_converged = true;
        r.code = calc.name();
        r.code_version = calc.plugin_version();
        auto out = r.to_json();
        if (ef.has_stress) {  // `interphase calc` reports it; eV/Å³, ASE's sign
            nlohmann::json stress = nlohmann::json::array();
            for (int i = 0; i < 3; ++i) stress.push_back({ef.stress(i, 0), ef.stress(i, 1), ef.stress(i, 2)});
            out["stress_eV_per_A3"] = stress;
        }
        return out;
    }
    drivers::RelaxOptions opt;
    opt.optimizer = drivers::RelaxOptimizer::Lbfgs;
    opt.fmax = req.protocol.fmax;
    opt.max_steps = req.protocol.max_relax_steps;
    const auto relaxed = drivers::relax(req.structure, forces, opt);
    if (!relaxed.converged)
        throw CalculationError(CalculationError::Reason::GeometryNotConverged,
                               fmt::format("{}: not relaxed to fmax {} eV/Å in {} steps (fmax {:.4f})", req.label,
                                           opt.fmax, relaxed.steps, relaxed.fmax));
    auto r = relaxed.to_calculation_result(calc.name());
    r.code_version = calc.plugin_version();
    return r.to_json();
}

class Run {
public:
    Run(const RunPlan& plan, const RunOptions& opt, std::ostream& log)
        : plan_(plan), spec_(plan.settings), opt_(opt), log_(log), graph_(plan.graph) {}

    RunSummary execute();

private:
    // One line of the run's log, control characters escaped (a code's message may hold any byte).
    // `always`: failures and the run's end are printed even with --quiet, which silences progress,
    // not the reason for a non-zero exit.
    void say(const std::string& line, bool always = false) {
        if (!opt_.quiet || always) log_ << fmt::format("[{}] {}", hms(elapsed()), text::printable(line)) << std::endl;
    }
    void keep_input_copies();
    double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }
    void progress();
    bool inputs_done(const Task& t) const;
    Inputs inputs_of(const Task& t) const;
    std::string hash_of(const Task& t, const Inputs& in) const;
    void finish(const std::string& name, const std::string& hash, const nlohmann::json& out, double wall, bool reused,
                const std::string& reused_from = "");
    void fail(const std::string& name, const std::string& error);
    void start_calculation(const Task& t, const Inputs& in, const std::string& hash);
    cluster::Job make_job(const std::string& task, const fs::path& folder) const;
    bool reattach_calculation(const Task& t, const Inputs& in, const std::string& hash);
    void collect(const cluster::JobOutcome& outcome);

    const RunPlan& plan_;
    const RunSettings& spec_;
    RunOptions opt_;
    std::ostream& log_;
    TaskGraph graph_;
    std::unique_ptr<plugins::Calculator> calculator_;
    std::unique_ptr<RunStore> store_;
    std::unique_ptr<ResultCache> cache_;  ///< shared across runs; null when none is configured
    std::unique_ptr<cluster::Executor> executor_;
    ExecutorSetup exec_;           ///< local, or a batch system with its cluster profile
    bool builtin_as_job_ = false;  ///< builtin calculations run as batch jobs (`interphase calc-task`)
    std::set<std::string> reattach_tried_;  ///< tasks already looked up in the executor's journal
    std::map<std::string, nlohmann::json> outputs_;
    std::map<std::string, std::string> state_;
    struct Running {
        std::string hash;
        plugins::CalculationRequest request;
        fs::path folder;
        std::chrono::steady_clock::time_point started;
    };
    std::map<std::string, Running> running_;
    std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
    /// When the last progress line was printed: long calculations get one every kHeartbeat.
    std::chrono::steady_clock::time_point last_progress_ = t0_;
    static constexpr std::chrono::seconds kHeartbeat{30};
    /// In-process tasks finished within this window share one store transaction (RunStore::
    /// begin_batch): a SIGKILL loses at most that much work, which simply runs again.
    static constexpr std::chrono::milliseconds kBatchWindow{100};
    std::chrono::steady_clock::time_point batch_opened_;
    void batch_in_process_work();
    RunSummary summary_;
    int cores_per_task_ = 1;
    std::vector<std::string> order_;  ///< topological order; recomputed when the graph grows
};

void Run::batch_in_process_work() {
    const auto now = std::chrono::steady_clock::now();
    if (store_->in_batch() && now - batch_opened_ < kBatchWindow) return;
    store_->commit_batch();
    store_->begin_batch();
    batch_opened_ = now;
}

bool Run::inputs_done(const Task& t) const {
    for (const auto& [role, dep] : t.inputs)
        if (state_.at(dep) != state::kDone) return false;
    return true;
}

Inputs Run::inputs_of(const Task& t) const {
    Inputs in;
    for (const auto& [role, dep] : t.inputs) in[role] = outputs_.at(dep);
    return in;
}

std::string Run::hash_of(const Task& t, const Inputs& in) const {
    const TaskKind& kind = TaskKindRegistry::instance().of(t);
    nlohmann::json id{{"kind", t.kind}, {"params", t.params}, {"inputs", nlohmann::json::object()}};
    if (kind.runs == TaskKind::Runs::Calculation) {
        // What determines a calculation's result: the structure, the code and its settings, the
        // protocol — not its label, nor the builders that produced the structure.
        id["params"].erase("label");
        id["inputs"]["structure"] = in.at("structure").at("structure");
    } else {
        for (const auto& [role, out] : in) id["inputs"][role] = out;
        id["interphase"] = kVersion;  // builders may change between versions
    }
    if (kind.depends_on_calculator) {
        id["calculator"] = {{"code", spec_.calculator_code},
                            {"settings", calculator_->hashed_settings()},
                            {"plugin_version", calculator_->plugin_version()}};
        id["protocol"] = calculator_->potential() ? spec_.protocol.identity_v1() : spec_.protocol.to_json();
    }
    return content_hash(id);
}

void Run::finish(const std::string& name, const std::string& hash, const nlohmann::json& out, double wall, bool reused,
                 const std::string& reused_from) {
    store_->mark_done(name, hash, out, wall, reused, reused_from);
    const TaskKind& kind = TaskKindRegistry::instance().of(graph_.at(name));
    if (cache_ && !reused && kind.shared_in_cache)
        cache_->put(hash, graph_.at(name).kind, out, opt_.run_dir.string(), name);
    outputs_[name] = out;
    state_[name] = state::kDone;
    ++summary_.done;
    if (reused) ++summary_.reused;
    const Task& t = graph_.at(name);  // stays valid while grow() appends (TaskGraph is a deque)
    if (kind.grow) {
        const auto added = kind.grow(graph_, t, out);
        if (added.empty()) return;
        std::vector<Task> tasks;
        for (const auto& a : added) {
            state_[a] = state::kPending;
            tasks.push_back(graph_.at(a));
        }
        store_->add_tasks(tasks);
        summary_.total = graph_.size();
        order_ = graph_.topological_order();
        say(fmt::format("{} added {} tasks ({} in total)", name, added.size(), graph_.size()));
    }
}

// The run folder keeps a copy of every structure file the workflow read (RUN_DIR/inputs), so a
// resume computes what the run started computing even if the original was edited or deleted.
// A new `run` of the workflow refreshes the copies from the files as they are now.
void Run::keep_input_copies() {
    if (!spec_.input_copies.empty()) return;  // read from the copies (resume): they stay as they are
    for (const auto& file : spec_.input_files) {
        const auto copy = input_copy_path(opt_.run_dir / "inputs", file);
        std::error_code ec;
        fs::create_directories(copy.parent_path(), ec);
        if (!ec) fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec);
        if (ec)
            throw StorageError(fmt::format("cannot keep a copy of input {} in {}: {}", file.string(),
                                           copy.parent_path().string(), ec.message()));
    }
}

void Run::fail(const std::string& name, const std::string& error) {
    store_->mark_failed(name, error);
    state_[name] = state::kFailed;
    ++summary_.failed;
    say(fmt::format("FAILED {}: {}", name, error), true);
    // The failure travels to the dependents as data.
    std::vector<std::string> todo = graph_.consumers(name);
    while (!todo.empty()) {
        const auto c = todo.back();
        todo.pop_back();
        if (state_[c] == state::kBlocked) continue;
        state_[c] = state::kBlocked;
        ++summary_.blocked;
        store_->mark_blocked(c, fmt::format("input '{}' failed", name));
        for (const auto& d : graph_.consumers(c)) todo.push_back(d);
    }
}

void Run::progress() {
    last_progress_ = std::chrono::steady_clock::now();
    std::string now;
    for (const auto& [name, r] : running_)
        now += fmt::format("{}{} ({})", now.empty() ? "" : ", ", name,
                           hms(std::chrono::duration<double>(last_progress_ - r.started).count()));
    say(fmt::format("{}/{} tasks done{}{}", summary_.done, summary_.total,
                    summary_.reused ? fmt::format(" ({} reused)", summary_.reused) : "",
                    now.empty() ? "" : " | running: " + now));
}

void Run::start_calculation(const Task& t, const Inputs& in, const std::string& hash) {
    const fs::path folder = opt_.run_dir / "tasks" / task_folder_name(t.name);
    // A folder left by an interrupted attempt is stale: start clean.
    fs::remove_all(folder);
    fs::create_directories(folder);
    auto request = make_request(t, in.at("structure"), spec_.protocol);
    calculator_->write_inputs(request, folder);
    if (builtin_as_job_)
        write_builtin_task(folder, spec_.calculator_code, spec_.calculator_config, spec_.source.string(), request);
    {
        write_file_atomically(folder / "task.json",
                              nlohmann::json{{"task", t.name}, {"hash", hash}, {"params", t.params}}.dump(2));
    }
    const cluster::Job job = make_job(t.name, folder);
    store_->commit_batch();  // durable before the job exists: a killed engine must know it ran
    store_->mark_running(t.name, hash);
    executor_->submit(job);
    if (auto pgid = executor_->process_group(t.name)) std::ofstream(folder / kProcessGroupFile) << *pgid << "\n";
    state_[t.name] = state::kRunning;
    running_[t.name] = {hash, std::move(request), folder, std::chrono::steady_clock::now()};
    say(fmt::format("start {} ({} atoms, {} cores)", t.name, running_[t.name].request.structure.size(), job.cores));
}

cluster::Job Run::make_job(const std::string& task, const fs::path& folder) const {
    const auto launch = builtin_as_job_
                            ? plugins::LaunchSpec{builtin_task_argv(folder, exec_.profile ? exec_.profile->interphase : ""),
                                                  folder, cores_per_task_, "stdout.txt", "stderr.txt", {}}
                            : calculator_->launch(folder, cores_per_task_);
    cluster::Job job;
    job.id = task;
    job.argv = launch.argv;
    job.workdir = folder;
    job.cores = launch.cores;
    job.stdout_path = folder / launch.stdout_file;
    job.stderr_path = folder / launch.stderr_file;
    job.environment = launch.environment;
    // A batch job stopped at its time limit continues from the calculator's last geometry and
    // wavefunction (builtin calculations are seconds long: they start over).
    if (!builtin_as_job_)
        job.prepare_restart = [this, task] {
            const auto it = running_.find(task);
            return it != running_.end() && calculator_->prepare_restart(it->second.request, it->second.folder);
        };
    return job;
}

// A batch job that a killed engine submitted for this very task (same folder, same hash) and
// that the scheduler still knows: follow it instead of submitting the task again.
bool Run::reattach_calculation(const Task& t, const Inputs& in, const std::string& hash) {
    if (!exec_.batch() || !reattach_tried_.insert(t.name).second) return false;
    const fs::path folder = opt_.run_dir / "tasks" / task_folder_name(t.name);
    std::ifstream task_file(folder / "task.json");
    if (!task_file) return false;
    const auto recorded = nlohmann::json::parse(task_file, nullptr, false);
    if (recorded.is_discarded() || recorded.value("hash", "") != hash) return false;
    if (!executor_->reattach(make_job(t.name, folder))) return false;
    store_->commit_batch();
    store_->mark_running(t.name, hash);
    state_[t.name] = state::kRunning;
    running_[t.name] = {hash, make_request(t, in.at("structure"), spec_.protocol), folder, std::chrono::steady_clock::now()};
    say(fmt::format("re-attached {} to its {} job", t.name, executor_->name()));
    return true;
}

void Run::collect(const cluster::JobOutcome& outcome) {
    auto it = running_.find(outcome.id);
    if (it == running_.end()) return;
    Running r = std::move(it->second);
    running_.erase(it);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.started).count();
    try {
        if (!outcome.error.empty()) throw ExecutionError(outcome.error);
        // Parse even after a non-zero exit: the code's own error message is the useful one.
        // A builtin calculation run as a job left its output as computed (result.json).
        const nlohmann::json builtin_out = builtin_as_job_ ? read_builtin_output(r.folder) : nlohmann::json();
        auto result = builtin_as_job_ ? plugins::CalculationResult::from_json(builtin_out)
                                      : calculator_->parse(r.request, r.folder);
        if (!outcome.succeeded())
            throw ExecutionError(fmt::format("{} ended with {}", r.request.label, outcome.describe()));
        finish(outcome.id, r.hash, builtin_as_job_ ? builtin_out : result.to_json(), wall, false);
        say(fmt::format("done  {}  E = {:.6f} eV  ({:.1f} s)", outcome.id, result.energy, wall));
    } catch (const Error& e) {
        std::string msg = e.what();
        if (!outcome.succeeded() && msg.find(outcome.describe()) == std::string::npos)
            msg += fmt::format(" ({}; see {})", outcome.describe(), (r.folder / "stderr.txt").string());
        // Why it failed decides whether another attempt can help (the workflow's retry policy).
        std::string reason = "crashed";
        if (const auto* ce = dynamic_cast<const CalculationError*>(&e)) reason = CalculationError::reason_name(ce->reason());
        if (outcome.signal != 0 && outcome.signal != SIGINT && outcome.signal != SIGTERM) reason = "killed";
        const auto record = store_->task(outcome.id);
        const int attempts = record ? record->attempts : 1;
        if (!g_interrupted && spec_.retry.retries(reason, attempts)) {
            store_->mark_retry(outcome.id, fmt::format("attempt {} failed ({}): {}", attempts, reason, msg));
            state_[outcome.id] = state::kPending;
            ++summary_.retried;
            say(fmt::format("RETRY {} (attempt {} of {} failed: {}): {}", outcome.id, attempts, spec_.retry.max_attempts,
                            reason, msg));
            return;
        }
        fail(outcome.id, attempts > 1 ? fmt::format("{} (after {} attempts)", msg, attempts) : msg);
    }
}

RunSummary Run::execute() {
    // 1. Everything that can be checked is checked before the run folder is touched.
    calculator_ = plugins::CalculatorRegistry::instance().create(spec_.calculator_code, spec_.calculator_config,
                                                                 spec_.source.string());
    calculator_->check_available();
    const int budget = opt_.cores > 0 ? opt_.cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cores_per_task_ = spec_.cores_per_task > 0 ? std::min(spec_.cores_per_task, budget) : budget;
    exec_ = resolve_executor(opt_.executor, opt_.cluster_profile, opt_.run_dir);
    builtin_as_job_ = exec_.batch() && calculator_->potential() != nullptr;
    if (exec_.batch() && exec_.profile)  // a batch job's cores: the workflow's cores_per_task, else the profile's
        cores_per_task_ = spec_.cores_per_task > 0 ? spec_.cores_per_task : exec_.profile->cores_per_task;

    // 2. The run folder, its lock and its store.
    if (std::error_code ec; fs::create_directories(opt_.run_dir, ec), ec)
        throw StorageError(fmt::format("cannot create the run folder {}: {}", opt_.run_dir.string(), ec.message()));
    RunLock lock(opt_.run_dir);
    const bool existed = RunStore::exists(opt_.run_dir);
    if (existed) store_ = std::make_unique<RunStore>(opt_.run_dir);
    if (existed && !opt_.adopt) {
        // Another workflow's run folder is not silently taken over (its tasks, results.h5 and
        // workflow copy would be replaced); an edited version of the same workflow continues it.
        const auto owner = store_->meta("workflow_name");
        if (owner && *owner != spec_.name)
            throw InputError(opt_.run_dir.string(), "",
                             fmt::format("holds the run of workflow '{}' ({}), not '{}'; choose another --run-dir, "
                                         "or pass --force to continue it with this workflow",
                                         *owner, store_->meta("workflow_source").value_or("?"), spec_.name));
    }
    // The inputs and the workflow copy exist before the store does: a folder with a store can
    // always be resumed, even when the first engine was killed within its start-up.
    keep_input_copies();
    write_file_atomically(opt_.run_dir / "workflow.yaml", spec_.yaml_text);
    if (!store_) store_ = std::make_unique<RunStore>(opt_.run_dir);
    // A killed engine may have left a half-written results.h5.tmp-PID (results.h5 itself is
    // replaced atomically): we hold the lock, so nobody else is writing one.
    for (const auto& e : fs::directory_iterator(opt_.run_dir))
        if (e.path().filename().string().rfind("results.h5.tmp-", 0) == 0) fs::remove(e.path());
    if (const auto cache_path = resolve_cache_path(opt_.cache ? opt_.cache : spec_.cache)) {
        // A busy or damaged cache only costs sharing: it says so in the log, never fails a task.
        cache_ = std::make_unique<ResultCache>(*cache_path, [this](const std::string& line) { say(line); });
        store_->set_meta("cache", cache_->path().string());
    }
    store_->set_meta("workflow_source", fs::absolute(spec_.source).string());
    store_->set_meta("workflow_name", spec_.name);
    store_->set_meta("interphase_version", kVersion);
    store_->set_meta("calculator", spec_.calculator_code);
    store_->set_meta("protocol", spec_.protocol.to_json().dump());
    store_->set_meta("workflow_kind", spec_.kind);
    for (const auto& [key, value] : spec_.metadata) store_->set_meta(key, value);
    if (!store_->meta("created")) store_->set_meta("created", fmt::format("{:.0f}", now_unix()));
    for (const auto& t : store_->tasks())
        if (t.state == state::kRunning) stop_orphaned_calculation(opt_.run_dir / "tasks" / task_folder_name(t.name));
    const int reset = store_->sync(graph_);
    executor_ = make_executor(exec_, budget, opt_.run_dir);
    store_->set_meta("executor", exec_.name);
    store_->set_meta("cluster_profile", exec_.profile_path.string());
    summary_.total = graph_.size();
    for (const auto& t : graph_.tasks()) state_[t.name] = state::kPending;
    say(fmt::format("workflow '{}': {} tasks, {} cores ({} per calculation), run folder {}", spec_.name, graph_.size(),
                    budget, cores_per_task_, opt_.run_dir.string()));
    if (reset > 0) say(fmt::format("resuming: {} interrupted task(s) will start again", reset));

    SignalGuard signals;
    order_ = graph_.topological_order();
    std::size_t last_done = static_cast<std::size_t>(-1);
    while (true) {
        if (g_interrupted) break;
        bool progressed = false;
        // By index: a finishing task may grow the graph and replace order_ during the pass.
        for (std::size_t i = 0; i < order_.size(); ++i) {
            // In-process tasks can keep a pass busy for minutes (100,000 builds): SIGTERM and
            // `interphase cancel` must not wait for the pass to end.
            if (g_interrupted) break;
            const std::string name = order_[i];
            if (state_[name] != state::kPending) continue;
            const Task& t = graph_.at(name);
            if (!inputs_done(t)) continue;
            batch_in_process_work();
            const Inputs in = inputs_of(t);
            std::string hash;
            try {
                hash = hash_of(t, in);
            } catch (const Error& e) {
                fail(name, e.what());
                progressed = true;
                continue;
            }
            std::optional<nlohmann::json> cached;
            try {
                cached = store_->cached_output(hash);
            } catch (const DamagedOutputError& e) {  // changed or damaged since it was stored: compute it again
                say(fmt::format("warning: {}; {} runs again", e.what(), name));
            }
            if (cached) {
                finish(name, hash, *cached, 0, true);
                progressed = true;
                continue;
            }
            const TaskKind& kind = TaskKindRegistry::instance().of(t);
            if (cache_ && kind.shared_in_cache) {
                if (auto hit = cache_->lookup(hash)) {
                    finish(name, hash, hit->output, 0, true, fmt::format("cache {}: {}", cache_->path().string(), hit->origin));
                    ++summary_.from_cache;
                    say(fmt::format("reuse {} from the shared cache ({})", name, hit->origin));
                    progressed = true;
                    continue;
                }
            }
            if (kind.runs == TaskKind::Runs::ForceDriver) {
                // A driver of many force calls (CI-NEB): images on threads (builtin potentials)
                // or as jobs of the executor (external codes); it saves its state as it goes.
                store_->commit_batch();  // a band may run for hours: nothing finished waits on it
                const auto t1 = std::chrono::steady_clock::now();
                const fs::path folder = opt_.run_dir / "tasks" / task_folder_name(name);
                try {
                    store_->mark_running(name, hash);
                    ExecutorForces external{calculator_.get(), executor_.get(), spec_.protocol, cores_per_task_, folder,
                                            name, [this](const cluster::JobOutcome& o) { collect(o); },
                                            [] { return g_interrupted.load(); }, nullptr};
                    {
                        plugins::CalculationRequest system;
                        describe_system(t, system);
                        external.electronic = system.electronic;
                        external.slab = system.slab;
                        external.spin = system.spin;
                    }
                    const drivers::ForceProvider images =
                        calculator_->potential() ? parallel_in_process(*calculator_->potential(), executor_->capacity())
                                                 : executor_forces(external);
                    // SIGINT/SIGTERM (interphase cancel) stops the driver between iterations.
                    DriverContext context{hash,
                                          [&images](const std::vector<structures::Structure>& batch) {
                                              if (g_interrupted) throw DriverInterrupted{};
                                              return images(batch);
                                          },
                                          folder, [this](const std::string& line) { say(line); }};
                    auto out = kind.drive(t, in, context);
                    finish(name, hash, out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), false);
                    if (kind.done_line) say(fmt::format("done  {}  {}", name, kind.done_line(t, out)));
                } catch (const DriverInterrupted&) {
                    // Stays "running": the next run or resume continues from the saved band.
                } catch (const Error& e) {
                    fail(name, e.what());
                }
                progressed = true;
                continue;
            }
            if (kind.runs == TaskKind::Runs::InProcess) {
                const auto t1 = std::chrono::steady_clock::now();
                try {
                    store_->mark_running(name, hash);
                    auto out = kind.run(t, in);
                    finish(name, hash, out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), false);
                    if (kind.done_line) say(fmt::format("done  {}  {}", name, kind.done_line(t, out)));
                } catch (const Error& e) {
                    fail(name, e.what());
                }
                progressed = true;
                continue;
            }
            if (calculator_->potential() && !builtin_as_job_) {  // a calculation, in this process
                const auto t1 = std::chrono::steady_clock::now();
                try {
                    store_->mark_running(name, hash);
                    auto out = run_with_potential(*calculator_, make_request(t, in.at("structure"), spec_.protocol));
                    finish(name, hash, out, std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), false);
                } catch (const Error& e) {
                    fail(name, e.what());
                }
                progressed = true;
                continue;
            }
            if (reattach_calculation(t, in, hash)) {
                progressed = true;
                continue;
            }
            // The same calculation is running under another task's name (a hop's end point that
            // is a site's own structure): wait for it, then reuse its result by hash.
            if (std::any_of(running_.begin(), running_.end(), [&hash](const auto& r) { return r.second.hash == hash; }))
                continue;
            if (executor_->free_cores() >= cores_per_task_) {
                try {
                    start_calculation(t, in, hash);
                } catch (const Error& e) {
                    fail(name, e.what());
                }
                progressed = true;
            }
        }
        store_->commit_batch();  // the pass is over: what it finished is durable before any wait
        if (summary_.done != last_done ||
            (!running_.empty() && std::chrono::steady_clock::now() - last_progress_ >= kHeartbeat)) {
            last_done = summary_.done;
            progress();
        }
        if (running_.empty() && !progressed) break;  // nothing runs and nothing can start
        if (!running_.empty())
            for (const auto& outcome : executor_->wait(std::chrono::milliseconds(progressed ? 0 : 500))) collect(outcome);
        for (const auto& notice : executor_->take_notices()) say(notice);
    }

    if (g_interrupted) {
        summary_.interrupted = true;
        say(fmt::format("interrupted: stopping {} running task(s); `interphase resume {}` continues",
                        running_.size(), opt_.run_dir.string()),
            true);
        executor_->cancel_all();
        // Their state stays "running"; the next run or resume resets them to pending.
    }
    if (cache_)
        if (const auto n = cache_->flush(); n > 0)
            say(fmt::format("cache {} stayed busy: {} result(s) not shared (they are in this run's store)",
                            cache_->path().string(), n));
    summary_.wall_seconds = elapsed();
    if (summary_.ok()) {
        std::string table;
        try {
            if (plan_.write_results)
                table = plan_.write_results(*store_, opt_.run_dir / "results.h5", [] { return g_interrupted.load(); });
        } catch (const Interrupted&) {
            // Every task is done and stored: only the file is missing, and a resume writes it.
            summary_.interrupted = true;
            say(fmt::format("interrupted while writing results.h5; `interphase resume {}` writes it",
                            opt_.run_dir.string()),
                true);
            return summary_;
        }
        say(fmt::format("all {} tasks done ({} reused) in {:.1f} s; results in {}", summary_.total, summary_.reused,
                        summary_.wall_seconds, (opt_.run_dir / "results.h5").string()));
        if (!opt_.quiet && !table.empty()) log_ << "\n" << table;
    } else if (!summary_.interrupted) {
        say(fmt::format("run incomplete: {} done, {} failed, {} blocked of {} tasks (see `interphase status {}`)",
                        summary_.done, summary_.failed, summary_.blocked, summary_.total, opt_.run_dir.string()),
            true);
    }
    return summary_;
}

}  // namespace

nlohmann::json evaluate_builtin(const plugins::Calculator& calc, const plugins::CalculationRequest& req) {
    return run_with_potential(calc, req);
}

namespace {

// Why process `pid` is not the engine holding the flock on the open lock file `fd`, or nullopt
// if it is: /proc/locks lists every lock with its holder's pid and the file's device and inode,
// /proc/PID/cmdline says what the process runs.
std::optional<std::string> not_the_engine(pid_t pid, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return "cannot stat the lock file";
    std::ifstream locks("/proc/locks");
    if (!locks) return "cannot read /proc/locks to check who holds the lock";
    bool holds = false;
    for (std::string line; std::getline(locks, line) && !holds;) {
        // "1: FLOCK  ADVISORY  WRITE 12345 fd:01:1234567 0 EOF"
        std::istringstream in(line);
        std::string id, type, mode, access, dev_inode;
        long holder = 0;
        if (!(in >> id >> type >> mode >> access >> holder >> dev_inode) || type != "FLOCK") continue;
        unsigned major_id = 0, minor_id = 0;
        unsigned long long inode = 0;
        if (std::sscanf(dev_inode.c_str(), "%x:%x:%llu", &major_id, &minor_id, &inode) != 3) continue;
        holds = holder == pid && inode == static_cast<unsigned long long>(st.st_ino) && major_id == major(st.st_dev) &&
                minor_id == minor(st.st_dev);
    }
    if (!holds) return "it does not hold the run's lock (a stale or edited lock file?)";
    std::ifstream cmd_file(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(cmd_file)), std::istreambuf_iterator<char>());
    const std::string program = fs::path(cmdline.substr(0, cmdline.find('\0'))).filename().string();
    if (program.find("interphase") == std::string::npos)
        return fmt::format("it runs '{}', not interphase", text::printable(program));
    return std::nullopt;
}

}  // namespace

CancelOutcome cancel_run(const fs::path& run_dir, std::chrono::seconds wait) {
    if (!RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
    const fs::path lock_file = run_dir / ".lock";
    const int fd = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return CancelOutcome::NotRunning;
    // If we can take the lock, no engine holds it: nothing runs.
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::close(fd);
        return CancelOutcome::NotRunning;
    }
    char buf[32] = {};
    const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
    const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (pid <= 1) {
        ::close(fd);
        throw ExecutionError(fmt::format("{}: the engine holding {} did not record its process id", run_dir.string(),
                                         lock_file.string()));
    }
    // The file's number is only a claim: anyone can write it, and a process id is recycled.
    // Signal it only if that process holds the lock on this very file and is an interphase engine.
    if (const auto why = not_the_engine(static_cast<pid_t>(pid), fd)) {
        ::close(fd);
        throw ExecutionError(fmt::format("{}: not stopping process {} named in {}: {}", run_dir.string(), pid,
                                         lock_file.string(), *why));
    }
    // SIGTERM: the engine stops its jobs' process groups, records them as interrupted, exits.
    if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
        ::close(fd);
        throw ExecutionError(fmt::format("cannot signal the engine (process {}) of {}", pid, run_dir.string()));
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
            ::close(fd);
            return CancelOutcome::Stopped;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::close(fd);
    return CancelOutcome::StillRunning;
}

fs::path default_run_dir(const std::string& workflow_name) { return fs::path("runs") / workflow_name; }

RunSummary run_graph(const RunPlan& plan, const RunOptions& options, std::ostream& log) {
    RunOptions opt = options;
    if (opt.run_dir.empty()) opt.run_dir = default_run_dir(plan.settings.name);
    opt.run_dir = fs::absolute(opt.run_dir).lexically_normal();  // jobs run in their own folders
    Run run(plan, opt, log);
    return run.execute();
}

}  // namespace interphase::engine
