#include "cluster/mpi_pilot.hpp"

#include <fmt/format.h>
#include <sstream>

#include "common/errors.hpp"

#ifdef INTERPHASE_HAVE_MPI
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <deque>
#include <fstream>
#include <list>
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unistd.h>

#include "cluster/local_executor.hpp"
#endif

namespace interphase::cluster {

namespace fs = std::filesystem;

std::vector<std::string> launcher_prefix(const std::string& launcher, int cores, const std::string& host, int rank) {
    std::vector<std::string> out;
    std::istringstream words(launcher);
    for (std::string w; words >> w;) {
        std::string expanded;
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (w[i] != '{') {
                expanded += w[i];
                continue;
            }
            const auto end = w.find('}', i);
            const std::string key = end == std::string::npos ? w.substr(i) : w.substr(i + 1, end - i - 1);
            if (key == "cores") expanded += std::to_string(cores);
            else if (key == "host") expanded += host;
            else if (key == "rank") expanded += std::to_string(rank);
            else
                throw InputError("--launcher", "launcher",
                                 fmt::format("unknown placeholder '{{{}}}' in '{}' (known: {{cores}}, {{host}}, {{rank}})", key,
                                             launcher));
            i = end;
        }
        out.push_back(expanded);
    }
    if (out.size() == 1 && out[0] == "none") out.clear();
    return out;
}

#ifndef INTERPHASE_HAVE_MPI

bool mpi_available() noexcept { return false; }

struct Pilot::Impl {};
namespace {
[[noreturn]] void no_mpi() {
    throw ExecutionError("this interphase was built without MPI (CMake's find_package(MPI) found none): the MPI pilot "
                         "is unavailable; install an MPI (e.g. Debian's libopenmpi-dev) and rebuild");
}
}  // namespace
Pilot::Pilot(PilotOptions) { no_mpi(); }
Pilot::~Pilot() = default;
int Pilot::rank() const { return 0; }
int Pilot::size() const { return 1; }
void Pilot::serve() { no_mpi(); }
std::unique_ptr<Executor> Pilot::executor(int, const fs::path&) { no_mpi(); }
Pilot* Pilot::current() noexcept { return nullptr; }

#else

bool mpi_available() noexcept { return true; }

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Every MPI call goes through here once: an error code becomes an ExecutionError.
void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw ExecutionError(fmt::format("{} failed: {}", what, std::string(text, static_cast<std::size_t>(len))));
}

// Message tags of the pilot protocol (docs/executors.md).
enum Tag : int { kJob = 101, kDone, kHeartbeat, kHello, kCancel, kStop };

// The longest sleep of an idle polling loop: the latency a job or an outcome can wait for.
constexpr std::chrono::milliseconds kMaxPause{4};

// How long MPI_Finalize may take before the process leaves without it (Pilot::set_exit_status).
constexpr std::chrono::seconds kFinalizeTimeout{20};

// Owns MPI_Init_thread/MPI_Finalize. FUNNELED: only the thread that built it calls MPI; builtin
// calculations run on another thread of a worker, which never touches MPI.
class Environment {
public:
    Environment() {
        int initialized = 0;
        check(MPI_Initialized(&initialized), "MPI_Initialized");
        if (!initialized) {
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
            owns_ = true;
        }
        // A dead peer must not abort us: errors come back as codes (and then exceptions).
        check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
        check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
        check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    }
    ~Environment() {
        int finalized = 0;
        if (!owns_ || MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
        // MPI_Finalize with a dead peer can block for ever in OpenMPI 4.1: a watchdog ends the
        // process with its status once the timeout has passed (everything durable is written).
        std::atomic<bool> returned{false};
        const int status = exit_status.load();
        std::thread watchdog([&returned, status, rank = rank_] {
            const auto deadline = std::chrono::steady_clock::now() + kFinalizeTimeout;
            while (!returned.load() && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (returned.load()) return;
            std::fprintf(stderr, "interphase worker rank %d: MPI_Finalize did not return within %lld s; exiting without it\n",
                         rank, static_cast<long long>(kFinalizeTimeout.count()));
            std::fflush(nullptr);
            std::_Exit(status);
        });
        MPI_Finalize();
        returned = true;
        watchdog.join();
    }
    std::atomic<int> exit_status{0};
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;
    int rank() const { return rank_; }
    int size() const { return size_; }

private:
    bool owns_ = false;
    int rank_ = 0, size_ = 1;
};

// A message being sent: owns its buffer and its MPI_Request until the send completes. A send
// that never completes (its destination died) is freed by the destructor.
class Outgoing {
public:
    Outgoing(std::string text, int dest, int tag) : text_(std::move(text)) {
        check(MPI_Isend(text_.data(), static_cast<int>(text_.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD, &request_),
              "MPI_Isend");
    }
    ~Outgoing() {
        if (request_ != MPI_REQUEST_NULL) MPI_Request_free(&request_);
    }
    Outgoing(const Outgoing&) = delete;
    Outgoing& operator=(const Outgoing&) = delete;
    bool done() {
        if (request_ == MPI_REQUEST_NULL) return true;
        int flag = 0;
        if (MPI_Test(&request_, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) return true;  // peer gone
        return flag != 0;
    }

private:
    std::string text_;
    MPI_Request request_ = MPI_REQUEST_NULL;
};

struct Message {
    int source = -1;
    int tag = 0;
    std::string text;
};

std::optional<Message> receive(int source) {
    int flag = 0;
    MPI_Status status;
    check(MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status), "MPI_Iprobe");
    if (!flag) return std::nullopt;
    int count = 0;
    check(MPI_Get_count(&status, MPI_CHAR, &count), "MPI_Get_count");
    Message m{status.MPI_SOURCE, status.MPI_TAG, std::string(static_cast<std::size_t>(count), '\0')};
    check(MPI_Recv(m.text.data(), count, MPI_CHAR, m.source, m.tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    return m;
}

json job_to_json(const Job& j) {
    return {{"id", j.id},       {"argv", j.argv},       {"workdir", j.workdir.string()}, {"cores", j.cores},
            {"stdout", j.stdout_path.string()}, {"stderr", j.stderr_path.string()}, {"environment", j.environment}};
}

Job job_from_json(const json& j) {
    Job job;
    job.id = j.at("id").get<std::string>();
    job.argv = j.at("argv").get<std::vector<std::string>>();
    job.workdir = j.at("workdir").get<std::string>();
    job.cores = j.at("cores").get<int>();
    job.stdout_path = j.at("stdout").get<std::string>();
    job.stderr_path = j.at("stderr").get<std::string>();
    job.environment = j.at("environment").get<std::map<std::string, std::string>>();
    return job;
}

json outcome_to_json(const JobOutcome& o) {
    return {{"id", o.id}, {"exit_code", o.exit_code}, {"signal", o.signal}, {"wall", o.wall_seconds}, {"error", o.error}};
}

JobOutcome outcome_from_json(const json& j) {
    JobOutcome o;
    o.id = j.at("id").get<std::string>();
    o.exit_code = j.at("exit_code").get<int>();
    o.signal = j.at("signal").get<int>();
    o.wall_seconds = j.at("wall").get<double>();
    o.error = j.at("error").get<std::string>();
    return o;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Runs one job at a time in this process: an in-process job on a thread, anything else as a
// child process (through the launcher) in a LocalExecutor owning the rank's cores.
class JobSlot {
public:
    JobSlot(const PilotOptions& options, int rank, std::string host)
        : opt_(options), rank_(rank), host_(std::move(host)), local_(std::max(1, options.cores_per_rank)) {
        local_.set_grace_period(std::chrono::milliseconds(2000));
    }
    ~JobSlot() {
        if (thread_.joinable()) thread_.join();  // a builtin calculation cannot be interrupted
    }
    JobSlot(const JobSlot&) = delete;
    JobSlot& operator=(const JobSlot&) = delete;

    bool busy() const { return !id_.empty(); }
    const std::string& job_id() const { return id_; }

    void start(const Job& job) {
        id_ = job.id;
        started_ = Clock::now();
        cancelled_ = false;
        if (opt_.in_process.handles && opt_.in_process.handles(job)) {
            in_process_ = true;
            finished_ = false;
            thread_ = std::thread([this, job] {
                int code = 70;
                try {
                    code = opt_.in_process.run(job);
                } catch (const std::exception& e) {
                    const fs::path err = job.stderr_path.is_absolute() ? job.stderr_path : job.workdir / job.stderr_path;
                    std::ofstream(err, std::ios::app) << "interphase worker: " << e.what() << "\n";
                }
                exit_code_ = code;
                finished_ = true;
            });
            return;
        }
        in_process_ = false;
        Job j = job;
        j.cores = std::min(std::max(1, job.cores), std::max(1, opt_.cores_per_rank));
        auto prefix = launcher_prefix(opt_.launcher, j.cores, host_, rank_);
        // The code's own `mpirun` (CP2K on several cores) or the launcher's must not see the
        // pilot's MPI runtime: OpenMPI would refuse it as a recursive call.
        j.drop_environment_prefixes = {"OMPI_", "PMIX_", "OPAL_", "PRTE_", "ORTE_"};
        // ... but running as root stays allowed.
        for (const char* keep : {"OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"})
            if (const char* v = std::getenv(keep); v && !j.environment.contains(keep)) j.environment[keep] = v;
        j.argv.insert(j.argv.begin(), prefix.begin(), prefix.end());
        try {
            local_.submit(j);
        } catch (const Error& e) {
            failed_start_ = JobOutcome{job.id, -1, 0, 0.0, e.what()};
        }
    }

    std::optional<JobOutcome> poll() {
        if (!busy()) return std::nullopt;
        std::optional<JobOutcome> out;
        if (failed_start_) {
            out = std::move(failed_start_);
            failed_start_.reset();
        } else if (in_process_) {
            if (!finished_) return std::nullopt;
            thread_.join();
            out = JobOutcome{id_, exit_code_, cancelled_ ? SIGTERM : 0, seconds_since(started_), ""};
        } else {
            auto done = local_.wait(std::chrono::milliseconds(0));
            if (done.empty()) return std::nullopt;
            out = std::move(done.front());
        }
        id_.clear();
        return out;
    }

    /// External jobs get SIGTERM then SIGKILL; an in-process one finishes and reports SIGTERM.
    void cancel() {
        if (!busy()) return;
        cancelled_ = true;
        if (!in_process_) local_.cancel_all();
    }

private:
    const PilotOptions& opt_;
    int rank_;
    std::string host_;
    LocalExecutor local_;
    std::string id_;
    bool in_process_ = false;
    bool cancelled_ = false;
    std::thread thread_;
    std::atomic<bool> finished_{false};
    std::atomic<int> exit_code_{0};
    std::optional<JobOutcome> failed_start_;
    Clock::time_point started_;
};

Pilot* g_current = nullptr;

}  // namespace

struct Pilot::Impl {
    PilotOptions opt;
    Environment env;  // destroyed after everything below: MPI_Finalize comes last
    std::string host = host_name();
    std::list<Outgoing> outgoing;

    // Rank 0: the workers and their jobs.
    struct Worker {
        int rank = 0;
        bool alive = true;
        std::optional<Job> job;
        Clock::time_point last_seen = Clock::now();
        std::string host;
        long pid = 0;
    };
    std::vector<Worker> workers;
    std::unique_ptr<JobSlot> self;  // a single rank runs its jobs itself
    std::deque<Job> queue;          // jobs of dead workers waiting for another rank
    std::vector<JobOutcome> ready;
    int cores = 1;
    fs::path journal;

    explicit Impl(PilotOptions o) : opt(std::move(o)) {}

    void send(int dest, int tag, const std::string& text) { outgoing.emplace_back(text, dest, tag); }
    void sweep() {
        for (auto it = outgoing.begin(); it != outgoing.end();) it = it->done() ? outgoing.erase(it) : std::next(it);
    }

    void log(const std::string& event, const std::string& task, int rank, const std::string& detail) {
        if (journal.empty()) return;
        std::error_code ec;
        fs::create_directories(journal.parent_path(), ec);
        const double unix_time =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        std::string h = host;
        long pid = ::getpid();
        for (const auto& w : workers)
            if (w.rank == rank) h = w.host, pid = w.pid;
        std::ofstream(journal, std::ios::app) << fmt::format("{:.3f}\t{}\t{}\t{}\t{}\t{}\t{}\n", unix_time, event, task, rank,
                                                             h, pid, detail);
    }

    Worker* idle_worker() {
        for (auto& w : workers)
            if (w.alive && !w.job) return &w;
        return nullptr;
    }
    std::size_t live_workers() const {
        return static_cast<std::size_t>(std::count_if(workers.begin(), workers.end(), [](const Worker& w) { return w.alive; }));
    }

    void dispatch(Worker& w, const Job& job) {
        send(w.rank, kJob, job_to_json(job).dump());
        w.job = job;
        log("start", job.id, w.rank, job.workdir.string());
    }

    // Receives what the workers sent, notices dead ones, gives their jobs to others.
    void pump() {
        while (auto m = receive(MPI_ANY_SOURCE)) {
            auto it = std::find_if(workers.begin(), workers.end(), [&](const Worker& w) { return w.rank == m->source; });
            if (it == workers.end() || !it->alive) continue;  // declared dead: its word no longer counts
            it->last_seen = Clock::now();
            if (m->tag == kHello) {
                const auto j = json::parse(m->text);
                it->host = j.at("host").get<std::string>();
                it->pid = j.at("pid").get<long>();
                log("hello", "-", it->rank, fmt::format("{} cores", j.at("cores").get<int>()));
            } else if (m->tag == kDone) {
                auto o = outcome_from_json(json::parse(m->text));
                if (!it->job || it->job->id != o.id) continue;  // stale (cancelled and reassigned)
                it->job.reset();
                log("done", o.id, it->rank, o.succeeded() ? "ok" : o.describe());
                ready.push_back(std::move(o));
            }
        }
        const auto now = Clock::now();
        for (auto& w : workers) {
            if (!w.alive || now - w.last_seen < opt.heartbeat_timeout) continue;
            w.alive = false;
            log("lost", w.job ? w.job->id : "-", w.rank,
                fmt::format("no heartbeat for {:.1f} s", std::chrono::duration<double>(now - w.last_seen).count()));
            if (w.job) queue.push_front(std::move(*w.job));
            w.job.reset();
        }
        while (!queue.empty()) {
            Worker* w = idle_worker();
            if (!w) break;
            log("reassign", queue.front().id, w->rank, "");
            dispatch(*w, queue.front());
            queue.pop_front();
        }
        if (!self && live_workers() == 0)
            for (; !queue.empty(); queue.pop_front())
                ready.push_back(JobOutcome{queue.front().id, -1, 0, 0.0,
                                           fmt::format("no MPI worker rank left to run it (all {} died)", workers.size())});
        if (self)
            if (auto o = self->poll()) {
                log("done", o->id, 0, o->succeeded() ? "ok" : o->describe());
                ready.push_back(std::move(*o));
            }
        sweep();
    }
};

Pilot::Pilot(PilotOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    auto& d = *impl_;
    if (d.env.rank() != 0) return;
    d.cores = std::max(1, d.opt.cores_per_rank);
    for (int r = 1; r < d.env.size(); ++r) {
        d.workers.emplace_back();
        d.workers.back().rank = r;
    }
    if (d.env.size() == 1) d.self = std::make_unique<JobSlot>(d.opt, 0, d.host);
    // Tell the workers who the engine is, so they can stop if it dies (same host only).
    const std::string hello = json{{"host", d.host}, {"pid", static_cast<long>(::getpid())}}.dump();
    for (const auto& w : d.workers) d.send(w.rank, kHello, hello);
    g_current = this;
}

Pilot::~Pilot() {
    auto& d = *impl_;
    if (d.env.rank() != 0) return;
    if (g_current == this) g_current = nullptr;
    try {
        for (const auto& w : d.workers)
            if (w.alive) d.send(w.rank, kStop, "");
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        while (!d.outgoing.empty() && Clock::now() < deadline) {
            d.sweep();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    } catch (...) {  // never throw from a destructor; workers of a dead engine notice it themselves
    }
}

int Pilot::rank() const { return impl_->env.rank(); }
int Pilot::size() const { return impl_->env.size(); }
Pilot* Pilot::current() noexcept { return g_current; }
void Pilot::set_exit_status(int status) noexcept { impl_->env.exit_status = status; }

void Pilot::serve() {
    auto& d = *impl_;
    if (d.env.rank() == 0) throw ExecutionError("rank 0 runs the engine, not the worker loop");
    JobSlot slot(d.opt, d.env.rank(), d.host);
    d.send(0, kHello, json{{"host", d.host}, {"pid", static_cast<long>(::getpid())}, {"cores", d.opt.cores_per_rank}}.dump());
    std::string engine_host;
    long engine_pid = 0;
    auto last_beat = Clock::now();
    auto pause = std::chrono::milliseconds(1);
    bool stopping = false;
    while (true) {
        bool active = false;
        while (auto m = receive(0)) {
            active = true;
            if (m->tag == kStop) {
                stopping = true;
                slot.cancel();
            } else if (m->tag == kCancel) {
                if (slot.busy() && slot.job_id() == m->text) slot.cancel();
            } else if (m->tag == kHello) {
                const auto j = json::parse(m->text);
                engine_host = j.at("host").get<std::string>();
                engine_pid = j.at("pid").get<long>();
            } else if (m->tag == kJob) {
                const Job job = job_from_json(json::parse(m->text));
                if (d.opt.job_delay.count() > 0) std::this_thread::sleep_for(d.opt.job_delay);
                slot.start(job);
            }
        }
        if (auto o = slot.poll()) {
            active = true;
            if (!stopping) d.send(0, kDone, outcome_to_json(*o).dump());
        }
        if (stopping && !slot.busy()) break;
        if (Clock::now() - last_beat >= d.opt.heartbeat_interval) {
            d.send(0, kHeartbeat, "");
            last_beat = Clock::now();
            // An engine killed without OpenMPI ending the job would leave us waiting forever.
            if (engine_pid > 0 && engine_host == d.host && ::kill(static_cast<pid_t>(engine_pid), 0) != 0 && errno == ESRCH) {
                slot.cancel();
                while (slot.busy() && !slot.poll()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                break;
            }
        }
        d.sweep();
        pause = active ? std::chrono::milliseconds(1) : std::min(pause * 2, kMaxPause);
        std::this_thread::sleep_for(pause);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (!d.outgoing.empty() && Clock::now() < deadline) {
        d.sweep();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

namespace {

// The engine's view of the pilot: everything forwards to rank 0's Pilot::Impl.
class MpiPilotExecutor : public Executor {
public:
    explicit MpiPilotExecutor(Pilot::Impl& d) : d_(d) {}
    std::string name() const override { return "mpi"; }
    int capacity() const override { return d_.self ? d_.cores : static_cast<int>(d_.live_workers()) * d_.cores; }
    int free_cores() const override {
        if (d_.self) return d_.self->busy() ? 0 : d_.cores;
        long idle = 0;
        for (const auto& w : d_.workers) idle += (w.alive && !w.job) ? 1 : 0;
        return static_cast<int>(std::max(0L, idle - static_cast<long>(d_.queue.size()))) * d_.cores;
    }
    int default_job_cores() const override { return d_.cores; }
    void submit(const Job& job) override {
        if (d_.self && !d_.self->busy()) {
            d_.self->start(job);
            d_.log("start", job.id, 0, job.workdir.string());
            return;
        }
        auto* w = d_.idle_worker();
        if (!w || !d_.queue.empty())
            throw ExecutionError(fmt::format("no idle MPI worker rank for job {} ({} of {} alive)", job.id,
                                             d_.live_workers(), d_.workers.size()));
        d_.dispatch(*w, job);
    }
    std::vector<JobOutcome> wait(std::chrono::milliseconds timeout) override {
        const auto deadline = Clock::now() + timeout;
        auto pause = std::chrono::milliseconds(1);
        while (true) {
            d_.pump();
            if (!d_.ready.empty() || running() == 0 || Clock::now() >= deadline) break;
            std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
            pause = std::min(pause * 2, kMaxPause);
        }
        return std::exchange(d_.ready, {});
    }
    std::size_t running() const override {
        std::size_t n = d_.queue.size() + (d_.self && d_.self->busy() ? 1 : 0);
        for (const auto& w : d_.workers) n += (w.alive && w.job) ? 1 : 0;
        return n;
    }
    void cancel_all() override {
        for (const auto& w : d_.workers)
            if (w.alive && w.job) d_.send(w.rank, kCancel, w.job->id);
        if (d_.self) d_.self->cancel();
        for (; !d_.queue.empty(); d_.queue.pop_front()) d_.ready.push_back(JobOutcome{d_.queue.front().id, -1, SIGTERM, 0.0, ""});
        const auto deadline = Clock::now() + std::chrono::seconds(10);
        while (running() > 0 && Clock::now() < deadline) {
            d_.pump();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        for (auto& w : d_.workers)  // did not answer in time: reported killed, ignored if it answers later
            if (w.job) {
                d_.ready.push_back(JobOutcome{w.job->id, -1, SIGKILL, 0.0, ""});
                w.job.reset();
            }
    }

private:
    Pilot::Impl& d_;
};

}  // namespace

std::unique_ptr<Executor> Pilot::executor(int cores, const fs::path& journal_dir) {
    auto& d = *impl_;
    if (d.env.rank() != 0) throw ExecutionError("only rank 0 of the MPI pilot runs the engine");
    if (cores > 0) d.cores = cores;
    d.journal = journal_dir.empty() ? fs::path() : journal_dir / "journal.tsv";
    return std::make_unique<MpiPilotExecutor>(d);
}

#endif  // INTERPHASE_HAVE_MPI

void require_mpi_pilot() {
    if (!Pilot::current())
        throw InputError("--executor", "executor",
                         mpi_available() ? "executor 'mpi' runs inside the MPI pilot: `mpirun -np N interphase worker RUN_DIR "
                                           "--workflow WF` (docs/executors.md, \"The MPI pilot\"); without MPI, continue such a run with "
                                           "`interphase resume RUN_DIR --executor local`"
                                         : "executor 'mpi' needs an interphase built with MPI (find_package(MPI) found "
                                           "none; install libopenmpi-dev and rebuild)");
}

std::unique_ptr<Executor> make_mpi_pilot_executor(int cores, const fs::path& journal_dir) {
    require_mpi_pilot();
    return Pilot::current()->executor(cores, journal_dir);
}

}  // namespace interphase::cluster
