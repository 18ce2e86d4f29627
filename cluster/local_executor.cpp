#include "cluster/local_executor.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#include "cluster/unique_fd.hpp"
#include "common/errors.hpp"

extern char** environ;  // NOLINT: POSIX declares it only under some feature macros

namespace interphase::cluster {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// JobOutcome lives in executor.hpp, which has no .cpp of its own; every executor links this
// library, so its one function is defined here.
std::string JobOutcome::describe() const {
    if (!error.empty()) return error;
    if (signal != 0) return fmt::format("killed by signal {} ({})", signal, signal_name(signal));
    return fmt::format("exit code {}", exit_code);
}

std::string signal_name(int sig) {
    // A table instead of sigabbrev_np(): portable beyond glibc and stable in messages.
    static constexpr std::pair<int, const char*> names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
        {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
        {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
        {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGSYS, "SIGSYS"},
    };
    for (const auto& [number, name] : names)
        if (number == sig) return name;
    return fmt::format("signal {}", sig);
}

// ---------------------------------------------------------------------------------------------
// ChildProcess

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        kill_and_reap();
        pid_ = std::exchange(other.pid_, -1);
    }
    return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

bool ChildProcess::has_exited() const noexcept {
    if (pid_ <= 0) return true;
    siginfo_t info{};
    // WNOWAIT leaves the child a zombie: the pid stays reserved until reap().
    int rc;
    do {
        rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return true;  // ECHILD: not ours to wait for any more (reap() reports it)
    return info.si_pid != 0;
}

void ChildProcess::signal_group(int sig) const noexcept {
    if (pid_ > 0) ::kill(-pid_, sig);  // ESRCH (group already empty) is fine
}

std::optional<int> ChildProcess::reap() noexcept {
    if (pid_ <= 0) return std::nullopt;
    int status = 0;
    pid_t rc;
    do {
        rc = ::waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    pid_ = -1;
    if (rc < 0) return std::nullopt;
    return status;
}

void ChildProcess::kill_and_reap() noexcept {
    if (pid_ <= 0) return;
    signal_group(SIGKILL);
    reap();
}

// ---------------------------------------------------------------------------------------------
// Helpers around the POSIX calls, each owning what it creates.

namespace {

class SpawnFileActions {
public:
    SpawnFileActions() {
        if (int rc = ::posix_spawn_file_actions_init(&actions_); rc != 0)
            throw ExecutionError(fmt::format("posix_spawn_file_actions_init: {}", std::strerror(rc)));
    }
    SpawnFileActions(const SpawnFileActions&) = delete;
    SpawnFileActions& operator=(const SpawnFileActions&) = delete;
    ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
    posix_spawn_file_actions_t* get() noexcept { return &actions_; }
private:
    posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
public:
    SpawnAttributes() {
        if (int rc = ::posix_spawnattr_init(&attr_); rc != 0)
            throw ExecutionError(fmt::format("posix_spawnattr_init: {}", std::strerror(rc)));
    }
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
    ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
    posix_spawnattr_t* get() noexcept { return &attr_; }
private:
    posix_spawnattr_t attr_;
};

void check_spawn_setup(int rc, const char* call) {
    if (rc != 0) throw ExecutionError(fmt::format("{}: {}", call, std::strerror(rc)));
}

/// Opens an output file for the child. The descriptor is close-on-exec in the parent (so
/// jobs started later do not inherit it) and at least 3, so the child's dup2 onto 1 or 2
/// always creates a fresh descriptor, which is what clears close-on-exec there.
UniqueFd open_output(const fs::path& path, const std::string& job_id) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw ExecutionError(fmt::format("job '{}': cannot open output file '{}': {}", job_id,
                                         path.string(), std::strerror(errno)));
    UniqueFd file(fd);
    if (fd < 3) {
        int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (high < 0)
            throw ExecutionError(fmt::format("job '{}': fcntl on '{}': {}", job_id, path.string(),
                                             std::strerror(errno)));
        file = UniqueFd(high);
    }
    return file;
}

/// The child's environment: ours without the variables under `drop` prefixes, with the job's
/// variables added or replaced.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra,
                                           const std::vector<std::string>& drop) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        std::string key(entry.substr(0, eq));
        const bool dropped = std::any_of(drop.begin(), drop.end(), [&](const std::string& p) { return key.rfind(p, 0) == 0; });
        if (!extra.contains(key) && !dropped) env.emplace_back(entry);
    }
    for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
    return env;
}

std::string lookup(const std::vector<std::string>& env, std::string_view key) {
    for (const auto& entry : env)
        if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
            entry[key.size()] == '=')
            return entry.substr(key.size() + 1);
    return {};
}

/// Looks `name` up on the job's PATH the way execvp would, but in the parent: the engine gets
/// a clear "not found" instead of a bare ENOENT, and the child needs no PATH search of its
/// own. Relative PATH entries (and empty ones, meaning ".") are relative to the workdir.
std::optional<fs::path> find_on_path(const std::string& name, const std::string& path_variable,
                                     const fs::path& workdir) {
    std::string_view rest = path_variable.empty() ? std::string_view("/usr/local/bin:/usr/bin:/bin")
                                                  : std::string_view(path_variable);
    while (true) {
        auto colon = rest.find(':');
        fs::path dir(std::string(rest.substr(0, colon)));
        if (dir.empty()) dir = ".";
        if (dir.is_relative() && !workdir.empty()) dir = workdir / dir;
        fs::path candidate = dir / name;
        struct stat st{};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
            return fs::absolute(candidate);  // the child resolves paths after its chdir
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
    }
    return std::nullopt;
}

fs::path in_workdir(const fs::path& workdir, const fs::path& path, const char* fallback) {
    fs::path p = path.empty() ? fs::path(fallback) : path;
    return p.is_absolute() || workdir.empty() ? p : workdir / p;
}

JobOutcome failed_to_start(const Job& job, std::string message) {
    JobOutcome outcome;
    outcome.id = job.id;
    outcome.error = std::move(message);
    return outcome;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LocalExecutor

LocalExecutor::LocalExecutor(int cores) : capacity_(cores) {
    if (cores < 1)
        throw ExecutionError(fmt::format("local executor: the core budget must be at least 1, not {}", cores));
}

LocalExecutor::~LocalExecutor() {
    try {
        cancel_all();
    } catch (...) {
        // Out of memory while recording outcomes: the ChildProcess destructors still kill
        // and reap every job below.
    }
}

void LocalExecutor::submit(const Job& job) {
    if (job.argv.empty() || job.argv.front().empty())
        throw ExecutionError(fmt::format("job '{}': empty command", job.id));
    const int cores = std::clamp(job.cores, 1, capacity_);
    if (cores > free_cores())
        throw ExecutionError(fmt::format("job '{}' needs {} cores but only {} of {} are free",
                                         job.id, cores, free_cores(), capacity_));
    std::error_code ec;
    if (!job.workdir.empty() && !fs::is_directory(job.workdir, ec))
        throw ExecutionError(fmt::format("job '{}': working directory '{}' does not exist",
                                         job.id, job.workdir.string()));

    std::vector<std::string> env = child_environment(job.environment, job.drop_environment_prefixes);

    const std::string& program_name = job.argv.front();
    fs::path program;
    if (program_name.find('/') != std::string::npos) {
        program = program_name;  // relative to the workdir, as the child resolves it there
    } else if (auto found = find_on_path(program_name, lookup(env, "PATH"), job.workdir)) {
        program = *found;
    } else {
        ready_.push_back(
            failed_to_start(job, fmt::format("executable '{}' not found on PATH", program_name)));
        return;
    }

    // Outputs are opened here, not in the child, so a bad path is reported with its name.
    const fs::path out_path = in_workdir(job.workdir, job.stdout_path, "stdout.txt");
    const fs::path err_path = in_workdir(job.workdir, job.stderr_path, "stderr.txt");
    UniqueFd out = open_output(out_path, job.id);
    UniqueFd err;
    if (fs::absolute(err_path) != fs::absolute(out_path)) err = open_output(err_path, job.id);
    const int err_fd = err.get() >= 0 ? err.get() : out.get();  // same file: share the offset

    SpawnFileActions actions;
    // stdin from /dev/null: a job must never read the engine's terminal (mpirun forwards it).
    check_spawn_setup(::posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0),
                      "posix_spawn_file_actions_addopen");
    check_spawn_setup(::posix_spawn_file_actions_adddup2(actions.get(), out.get(), 1),
                      "posix_spawn_file_actions_adddup2");
    check_spawn_setup(::posix_spawn_file_actions_adddup2(actions.get(), err_fd, 2),
                      "posix_spawn_file_actions_adddup2");
    if (!job.workdir.empty())
        check_spawn_setup(::posix_spawn_file_actions_addchdir_np(actions.get(), job.workdir.c_str()),
                          "posix_spawn_file_actions_addchdir_np");

    SpawnAttributes attributes;
    // Own process group (pgid = child pid) so cancellation reaches everything the job starts;
    // empty signal mask and default dispositions so the engine's own signal handling (an
    // ignored SIGPIPE, a blocked SIGTERM) does not leak into the job.
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM})
        sigaddset(&defaults, sig);
    check_spawn_setup(::posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETPGROUP |
                                                                        POSIX_SPAWN_SETSIGMASK |
                                                                        POSIX_SPAWN_SETSIGDEF),
                      "posix_spawnattr_setflags");
    check_spawn_setup(::posix_spawnattr_setpgroup(attributes.get(), 0), "posix_spawnattr_setpgroup");
    check_spawn_setup(::posix_spawnattr_setsigmask(attributes.get(), &empty_mask),
                      "posix_spawnattr_setsigmask");
    check_spawn_setup(::posix_spawnattr_setsigdefault(attributes.get(), &defaults),
                      "posix_spawnattr_setsigdefault");

    std::vector<char*> argv;
    argv.reserve(job.argv.size() + 1);
    for (const auto& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    const auto started = std::chrono::steady_clock::now();
    pid_t pid = -1;
    // glibc's posix_spawn returns only after the exec succeeded or failed, with the exec's
    // errno: no pipe is needed to learn that the program could not run.
    int rc = ::posix_spawn(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(),
                           envp.data());
    switch (rc) {
        case 0: break;
        case ENOENT:
            ready_.push_back(failed_to_start(job, fmt::format("executable '{}' not found", program_name)));
            return;
        case EACCES: case ENOEXEC: case ENOTDIR: case ELOOP: case ENAMETOOLONG: case EPERM:
        case EISDIR: case ETXTBSY:
            ready_.push_back(failed_to_start(job, fmt::format("cannot execute '{}' ({}): {}", program_name,
                                                             program.string(), std::strerror(rc))));
            return;
        default:
            throw ExecutionError(fmt::format("job '{}': cannot start '{}': {}", job.id, program_name,
                                             std::strerror(rc)));
    }
    jobs_.push_back(Running{job.id, cores, ChildProcess(pid), started});
    used_cores_ += cores;
}

JobOutcome LocalExecutor::finish(Running& job) {
    // The leader has ended (or is being killed). Anything left in its group — a background
    // helper, an orphaned MPI rank — would hold cores the budget now gives away, so it goes.
    job.process.signal_group(SIGKILL);
    const pid_t pid = job.process.pid();
    const std::optional<int> status = job.process.reap();
    used_cores_ -= job.cores;

    JobOutcome outcome;
    outcome.id = job.id;
    outcome.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count();
    if (!status) {
        outcome.error = fmt::format("lost track of process {} (is SIGCHLD ignored?)", pid);
    } else if (WIFEXITED(*status)) {
        outcome.exit_code = WEXITSTATUS(*status);
    } else if (WIFSIGNALED(*status)) {
        outcome.signal = WTERMSIG(*status);
    }
    return outcome;
}

std::vector<JobOutcome> LocalExecutor::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Polling with a short, growing pause: simple, needs no signal handler (which would belong
    // to the whole process) and reacts within 20 ms, far below any DFT job's length.
    std::chrono::milliseconds pause = 1ms;
    while (true) {
        for (auto it = jobs_.begin(); it != jobs_.end();) {
            if (it->process.has_exited()) {
                ready_.push_back(finish(*it));
                it = jobs_.erase(it);
            } else {
                ++it;
            }
        }
        const auto now = std::chrono::steady_clock::now();
        if (!ready_.empty() || jobs_.empty() || now >= deadline) break;
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
        pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return std::exchange(ready_, {});
}

void LocalExecutor::cancel_all() {
    if (jobs_.empty()) return;
    for (auto& job : jobs_) job.process.signal_group(SIGTERM);
    // Give the jobs the grace period to write checkpoints and exit; stop waiting as soon as
    // every leader has ended.
    const auto deadline = std::chrono::steady_clock::now() + grace_;
    auto all_exited = [this] {
        return std::all_of(jobs_.begin(), jobs_.end(),
                           [](const Running& j) { return j.process.has_exited(); });
    };
    while (!all_exited() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    // SIGKILL even when every leader exited: group members that ignore SIGTERM remain.
    for (auto& job : jobs_) job.process.signal_group(SIGKILL);
    ready_.reserve(ready_.size() + jobs_.size());
    for (auto& job : jobs_) ready_.push_back(finish(job));
    jobs_.clear();
}

JobOutcome run_to_completion(Executor& executor, const Job& job) {
    if (executor.running() != 0)
        throw ExecutionError(fmt::format("run_to_completion('{}'): the {} executor still runs {} job(s)",
                                         job.id, executor.name(), executor.running()));
    executor.submit(job);
    while (true) {
        for (auto& outcome : executor.wait(std::chrono::seconds(1)))
            if (outcome.id == job.id) return outcome;  // earlier jobs' stale outcomes are dropped
    }
}

std::optional<long> LocalExecutor::process_group(const std::string& job_id) const {
    for (const auto& j : jobs_)
        if (j.id == job_id && j.process.owns_process()) return static_cast<long>(j.process.pid());
    return std::nullopt;
}

}  // namespace interphase::cluster
