// Inspecting and checking runs with the real CLI on a builtin (EMT) workflow: `status`,
// `results`, `graph` and `verify` on a run folder nobody may write (a read-only mount; another
// user, via setpriv, since root ignores permissions), with and without the -wal/-shm files a
// killed engine leaves; `verify` finding an edited result and a garbage cache; a damaged store
// giving exit 4 and a resume that computes the damaged task again; a resume killed right after
// it starts still showing every result; and a run whose shared cache another process keeps
// locked, or that is garbage, finishing with every task done.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "engine/store.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace std::chrono_literals;
using testing::run_command;
using testing::slurp;

namespace {

const fs::path kWorkflow = testing::source_dir() / "tests/integration/data/emt_crash.yaml";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

/// Runs the CLI with `args`; exit code and standard output (standard error into `dir/err.txt`).
std::pair<int, std::string> cli(const fs::path& dir, const std::string& args, const std::string& prefix = "") {
    return run_command("cd " + q(dir) + " && " + prefix + q(testing::cli()) + " " + args + " 2> " + q(dir / "err.txt"));
}

/// A finished EMT run (about 530 tasks, seconds) in dir/run, optionally sharing `cache`.
void finished_run(const fs::path& dir, const std::string& extra = "") {
    fs::copy_file(kWorkflow, dir / "wf.yaml", fs::copy_options::overwrite_existing);
    REQUIRE(testing::run_cli(dir, "run wf.yaml --run-dir run --quiet " + extra, "run.log") == 0);
}

/// A copy of the run whose store has -wal and -shm files, as a killed engine leaves them: a
/// child process commits a change and exits without closing the store.
void copy_with_wal(const fs::path& from, const fs::path& to) {
    fs::copy(from, to, fs::copy_options::recursive);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto* store = new engine::RunStore(to);  // never closed: the process "dies" with it open
        store->set_meta("killed", "yes");
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(fs::exists(to / "state.sqlite-wal"));
    REQUIRE(fs::exists(to / "state.sqlite-shm"));
}

/// A read-only bind mount of `source` at `target` while it lives (needs CAP_SYS_ADMIN).
class ReadOnlyMount {
public:
    ReadOnlyMount(const fs::path& source, const fs::path& target) : target_(target) {
        fs::create_directories(target);
        if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) return;
        mounted_ = true;
        ok_ = ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0;
    }
    ~ReadOnlyMount() {
        if (mounted_) ::umount2(target_.c_str(), MNT_DETACH);
    }
    bool ok() const { return ok_; }

private:
    fs::path target_;
    bool mounted_ = false, ok_ = false;
};

/// status, results (as JSON), graph and verify on `run` all succeed and agree with `expected`.
void inspect_read_only(const fs::path& dir, const fs::path& run, const std::string& expected, const std::string& prefix) {
    CAPTURE(run.string());
    CAPTURE(prefix);
    const auto [status_rc, status] = cli(dir, "status " + q(run), prefix);
    INFO(slurp(dir / "err.txt"));
    CHECK(status_rc == 0);
    CHECK(status.find("done") != std::string::npos);
    const auto [results_rc, results] = cli(dir, "results --json " + q(run), prefix);
    CHECK(results_rc == 0);
    CHECK(nlohmann::json::parse(results, nullptr, false)["binding_energies"] ==
          nlohmann::json::parse(expected)["binding_energies"]);
    const auto [graph_rc, graph] = cli(dir, "graph " + q(run), prefix);
    CHECK(graph_rc == 0);
    CHECK(graph.find("digraph") != std::string::npos);
    const auto [verify_rc, verify] = cli(dir, "verify " + q(run), prefix);
    CHECK(verify_rc == 0);
    CHECK(verify.find(": OK (") != std::string::npos);
}

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("status, results, graph and verify work on a run folder nobody may write") {
    const auto dir = testing::scratch("verify-readonly");
    finished_run(dir);
    fs::create_directories(dir / "src");
    fs::copy(dir / "run", dir / "src/clean", fs::copy_options::recursive);
    REQUIRE_FALSE(fs::exists(dir / "src/clean/state.sqlite-wal"));  // the engine closed it cleanly
    copy_with_wal(dir / "run", dir / "src/killed");
    const auto [rc, expected] = cli(dir, "results --json run");
    REQUIRE(rc == 0);

    SUBCASE("on a read-only mount") {
        ReadOnlyMount mount(dir / "src", dir / "ro");
        if (!mount.ok()) {
            MESSAGE("cannot bind-mount read-only here (no CAP_SYS_ADMIN): the read-only mount case is skipped");
            return;
        }
        REQUIRE(run_command("touch " + q(dir / "ro/clean/x") + " 2>/dev/null").first != 0);  // really read-only
        inspect_read_only(dir, dir / "ro/clean", expected, "");
        inspect_read_only(dir, dir / "ro/killed", expected, "");
    }
    SUBCASE("as another user (files and folders not writable by them)") {
        if (run_command("command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups true")
                .first != 0) {
            MESSAGE("setpriv cannot switch to nobody here: the other-user case is skipped");
            return;
        }
        REQUIRE(run_command("chmod -R a+rX,a-w " + q(dir / "src")).first == 0);
        const std::string as_nobody = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
        // nobody cannot write them even where root could.
        REQUIRE(run_command(as_nobody + "touch " + q(dir / "src/clean/x") + " 2>/dev/null").first != 0);
        inspect_read_only(dir, dir / "src/clean", expected, as_nobody);
        inspect_read_only(dir, dir / "src/killed", expected, as_nobody);
        run_command("chmod -R u+w " + q(dir / "src"));
    }
}

TEST_CASE("verify: a clean run is OK; an edited result names its task; a damaged store is exit 4; a garbage cache is reported") {
    const auto dir = testing::scratch("verify-problems");
    finished_run(dir, "--cache cache.sqlite");
    auto [rc, out] = cli(dir, "verify run");
    CHECK(rc == 0);
    CHECK(out.find("verify run: OK") != std::string::npos);
    CHECK(out.find("cache.sqlite") != std::string::npos);  // the cache the run recorded was checked

    // One number of a stored result changed with sqlite3, as someone with write access could.
    const std::string task = "Cu(111)-3L/slab/relax";
    REQUIRE(run_command("cd " + q(dir) + " && sqlite3 run/state.sqlite \"UPDATE results SET output = json_set(output, "
                        "'$.energy_eV', json_extract(output, '$.energy_eV') + 0.1) WHERE hash = (SELECT hash FROM tasks "
                        "WHERE name = '" + task + "')\"")
                .first == 0);
    std::tie(rc, out) = cli(dir, "verify run");
    CHECK(rc == 1);
    CHECK(count(out, "PROBLEM") == 1);
    CHECK(out.find("'" + task + "'") != std::string::npos);
    CHECK(out.find("checksum") != std::string::npos);
    // results refuses it: exit 4, one line naming the store and the task.
    std::tie(rc, out) = cli(dir, "results run");
    CHECK(rc == 4);
    const std::string err = slurp(dir / "err.txt");
    CHECK(testing::count_lines(err) == 1);
    CHECK(err.find((dir / "run/state.sqlite").string()) != std::string::npos);
    CHECK(err.find("'" + task + "'") != std::string::npos);

    // A stored output that is not JSON at all (no checksum, as in an older store): exit 4, not 70.
    REQUIRE(run_command("cd " + q(dir) + " && sqlite3 run/state.sqlite \"UPDATE results SET output = '{truncated', "
                        "checksum = '' WHERE hash = (SELECT hash FROM tasks WHERE name = '" + task + "')\"")
                .first == 0);
    std::tie(rc, out) = cli(dir, "results run");
    CHECK(rc == 4);
    CHECK(slurp(dir / "err.txt").find("not valid JSON") != std::string::npos);

    // A resume computes the damaged task again (with a warning) and the run is clean again.
    REQUIRE(testing::run_cli(dir, "resume run", "resume.log") == 0);
    CHECK(slurp(dir / "resume.log").find("runs again") != std::string::npos);
    std::tie(rc, out) = cli(dir, "verify run");
    CHECK(rc == 0);

    // The shared cache overwritten with garbage.
    {
        std::ofstream garbage(dir / "cache.sqlite", std::ios::binary | std::ios::trunc);
        garbage << "not a database, only bytes\n" << std::string(8192, '\x5a');
    }
    fs::remove(dir / "cache.sqlite-wal");
    fs::remove(dir / "cache.sqlite-shm");
    std::tie(rc, out) = cli(dir, "verify run");
    CHECK(rc == 1);
    CHECK(out.find("cache.sqlite is unusable") != std::string::npos);
    // Not a run folder: bad input.
    std::tie(rc, out) = cli(dir, "verify nowhere");
    CHECK(rc == 2);
}

TEST_CASE("a resume killed right after it starts still shows every result") {
    const auto dir = testing::scratch("resume-killed");
    finished_run(dir);
    const auto [rc, before] = cli(dir, "results --json run");
    REQUIRE(rc == 0);
    REQUIRE(nlohmann::json::parse(before)["binding_energies"].size() > 10);

    // What a resume does first, then stops (deterministic): every task keeps its state.
    {
        engine::RunStore store(dir / "run");
        store.sync(workflows::expand_workflow(workflows::load_workflow(dir / "wf.yaml")));
    }
    auto [rc2, after_sync] = cli(dir, "results --json run");
    CHECK(rc2 == 0);
    CHECK(after_sync == before);

    // The real thing: SIGKILL once the resume has synced its store (it says so in the log).
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (chdir(dir.c_str()) != 0) _exit(99);
        const int fd = ::open("resume.log", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(testing::cli().c_str(), "interphase", "resume", "run", nullptr);
        _exit(98);
    }
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (slurp(dir / "resume.log").find("workflow 'emt-crash'") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto [rc3, after_kill] = cli(dir, "results --json run");
    CHECK(rc3 == 0);
    CHECK(nlohmann::json::parse(after_kill)["binding_energies"] == nlohmann::json::parse(before)["binding_energies"]);
    const auto [status_rc, status_out] = cli(dir, "status run");
    CHECK(status_rc == 0);
    CHECK(status_out.find("pending") == std::string::npos);
}

TEST_CASE("a shared cache locked by another process, or garbage, never fails a task") {
    const auto dir = testing::scratch("cache-busy-run");
    finished_run(dir);  // the reference, without a cache
    const auto [rc, expected] = cli(dir, "results --json run");
    REQUIRE(rc == 0);
    // An empty cache in WAL mode, then another process takes its write lock for the whole run.
    REQUIRE(run_command("cd " + q(dir) + " && sqlite3 cache.sqlite \"PRAGMA journal_mode=WAL; CREATE TABLE results("
                        "hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL, run_dir TEXT NOT NULL, "
                        "task TEXT NOT NULL, created REAL NOT NULL, checksum TEXT NOT NULL DEFAULT '')\" > /dev/null")
                .first == 0);
    {
        interphase::testing::CacheWriteLock lock(dir / "cache.sqlite");
        CHECK(testing::run_cli(dir, "run wf.yaml --run-dir busy --cache cache.sqlite", "busy.log") == 0);
    }
    const std::string log = slurp(dir / "busy.log");
    INFO(log.substr(0, 3000));
    CHECK(count(log, "cache.sqlite is busy") >= 1);
    CHECK(log.find("FAILED") == std::string::npos);
    CHECK(log.find("all ") != std::string::npos);
    const auto [busy_rc, busy_results] = cli(dir, "results --json busy");
    CHECK(busy_rc == 0);
    CHECK(nlohmann::json::parse(busy_results)["binding_energies"] == nlohmann::json::parse(expected)["binding_energies"]);

    // The same cache file overwritten with garbage: reported once, the run goes on without it.
    {
        std::ofstream garbage(dir / "cache.sqlite", std::ios::binary | std::ios::trunc);
        garbage << "garbage\n" << std::string(8192, '\x17');
    }
    fs::remove(dir / "cache.sqlite-wal");
    fs::remove(dir / "cache.sqlite-shm");
    CHECK(testing::run_cli(dir, "run wf.yaml --run-dir garbage --cache cache.sqlite", "garbage.log") == 0);
    const std::string glog = slurp(dir / "garbage.log");
    CHECK(count(glog, "is unusable") == 1);
    CHECK(glog.find("running without it") != std::string::npos);
    CHECK(glog.find("FAILED") == std::string::npos);
}
