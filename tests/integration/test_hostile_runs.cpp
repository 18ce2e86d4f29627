// Hostile and unlucky runs through the real CLI (issue 10): names that once shared a task folder
// give the science of names that do not; a run folder never escapes, is never silently taken
// over by another workflow, and a resume computes what the run started with even if an input
// file was edited; `cancel` signals only the engine that holds the run's lock; a failed run says
// why even with --quiet; an unwritable run folder is one clear line. All with the builtin EMT.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "engine/store.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using testing::cli_in;
using testing::slurp;

namespace {

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// Two hosts whose names map to one folder under a lossy slug ("α-" and "γ-" both to "_-"); the
// two slabs differ (3 and 4 layers), so their E_b and hence ΔE cannot be zero.
std::string colliding_workflow(const std::string& a, const std::string& b) {
    return fmt::format(R"(name: collide
calculator: {{code: emt}}
protocol: {{name: fast, fmax: 0.05, max_relax_steps: 300}}
adsorbate: Cu
hosts:
  - {{name: "{}", phase: Al, miller: [1, 1, 1], layers: 3, vacuum: 8, fix_bottom_layers: 1, sites: [fcc_hollow]}}
  - {{name: "{}", phase: Al, miller: [1, 1, 1], layers: 4, vacuum: 8, fix_bottom_layers: 1, sites: [fcc_hollow]}}
pairs:
  - ["{}", "{}"]
)",
                       a, b, a, b);
}

double delta_e_of(const fs::path& dir, const std::string& run) {
    const auto r = cli_in(dir, {"results", run, "--json"});
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.at("pairs").size() == 1);
    return j.at("pairs")[0].at("delta_e_eV").get<double>();
}

// A child process running argv; killed and reaped by the destructor.
class Child {
public:
    explicit Child(std::vector<std::string> argv, const fs::path& dir = ".", const fs::path& log = "/dev/null") {
        pid_ = ::fork();
        if (pid_ == 0) {
            if (::chdir(dir.c_str()) != 0) ::_exit(127);
            FILE* out = std::freopen(log.c_str(), "w", stdout);
            if (out) ::dup2(::fileno(stdout), 2);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    bool alive() const { return ::kill(pid_, 0) == 0 && !exited(); }
    int wait() {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    bool exited() const {
        int status = 0;
        return ::waitpid(pid_, &status, WNOHANG) == pid_;
    }
    pid_t pid_ = -1;
    bool reaped_ = false;
};

const fs::path kShims = testing::source_dir() / "tests/cluster/pbs_lsf/shims";

}  // namespace

TEST_CASE("hosts whose names once shared a task folder give the same ΔE through a batch executor as locally") {
    const auto dir = testing::scratch("collide");
    for (const auto& [a, b] : {std::pair<std::string, std::string>{"α-Al(111)", "γ-Al(111)"}, {"A B", "A_B"}}) {
        CAPTURE(a);
        write(dir / "wf.yaml", colliding_workflow(a, b));
        fs::remove_all(dir / "local");
        fs::remove_all(dir / "pbs");
        REQUIRE(cli_in(dir, {"run", "wf.yaml", "--run-dir", "local", "--quiet"}).exit_code == 0);
        const double local = delta_e_of(dir, "local");
        CHECK(std::abs(local) > 1e-3);
        // Through the PBS shims (tests/cluster/pbs_lsf): each calculation is a batch job in its
        // own task folder, where the lossy folder names made both hosts' jobs write one folder.
        const fs::path state = dir / "shim-state";
        fs::remove_all(state);
        fs::create_directories(state);
        write(dir / "pbs.yaml", "scheduler: pbs\npoll: {interval: 0.05, max_interval: 0.2, backoff: 1.5}\n"
                                "max_queued_jobs: 100\n");
        const std::string env = fmt::format("PATH='{}':\"$PATH\" SHIM_STATE='{}'", kShims.string(), state.string());
        const auto [rc, out] = testing::run_command(fmt::format(
            "cd '{}' && {} '{}' run wf.yaml --run-dir pbs --executor pbs --cluster-profile pbs.yaml --quiet 2>&1",
            dir.string(), env, testing::cli().string()));
        INFO(out);
        REQUIRE(rc == 0);
        CHECK(delta_e_of(dir, "pbs") == doctest::Approx(local).epsilon(1e-9));
        // Two hosts, two folders each for the slab and the site relaxation.
        std::set<fs::path> folders;
        for (const auto& e : fs::directory_iterator(dir / "pbs" / "tasks")) folders.insert(e.path().filename());
        CHECK(folders.size() >= 5);  // the Cu atom, 2 slabs, 2 sites
    }
}

TEST_CASE("a run folder is not silently taken over by another workflow; name '..' is refused") {
    const auto dir = testing::scratch("takeover");
    write(dir / "a.yaml", colliding_workflow("A", "B"));
    auto b = colliding_workflow("A", "B");
    b.replace(b.find("name: collide"), 13, "name: other");
    write(dir / "b.yaml", b);
    REQUIRE(cli_in(dir, {"run", "a.yaml", "--run-dir", "r", "--quiet"}).exit_code == 0);
    const auto before = slurp(dir / "r" / "workflow.yaml");
    const auto refused = cli_in(dir, {"run", "b.yaml", "--run-dir", "r", "--quiet"});
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("holds the run of workflow 'collide'") != std::string::npos);
    CHECK(testing::count_lines(refused.err) == 1);
    CHECK(slurp(dir / "r" / "workflow.yaml") == before);  // untouched
    // The same workflow again (e.g. edited) continues its own run; --force adopts another's.
    CHECK(cli_in(dir, {"run", "a.yaml", "--run-dir", "r", "--quiet"}).exit_code == 0);
    CHECK(cli_in(dir, {"run", "b.yaml", "--run-dir", "r", "--quiet", "--force"}).exit_code == 0);

    // name: ".." would have made runs/.. — the current folder — the run folder.
    auto dots = colliding_workflow("A", "B");
    dots.replace(dots.find("name: collide"), 13, "name: \"..\"");
    write(dir / "dots.yaml", dots);
    fs::create_directories(dir / "cwd");
    write(dir / "cwd" / "dots.yaml", dots);
    const auto r = cli_in(dir / "cwd", {"run", "dots.yaml", "--quiet"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("dots.yaml:1: field 'name'") != std::string::npos);
    CHECK(!fs::exists(dir / "cwd" / "state.sqlite"));
    CHECK(!fs::exists(dir / "cwd" / "runs"));
}

TEST_CASE("resume computes what the run started with, even after the structure file was edited") {
    const auto dir = testing::scratch("resume-inputs");
    REQUIRE(cli_in(dir, {"build", "bulk", "Cu", "-o", "host.vasp"}).exit_code == 0);
    write(dir / "wf.yaml", R"(name: inputs
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 300}
adsorbate: Au
hosts:
  - {name: X(100), structure: host.vasp, miller: [1, 0, 0], layers: 3, vacuum: 8, sites: [4fold_hollow]}
)");
    REQUIRE(cli_in(dir, {"run", "wf.yaml", "--run-dir", "r", "--quiet"}).exit_code == 0);
    const auto results = cli_in(dir, {"results", "r", "--csv"}).out;
    REQUIRE(!results.empty());
    // The run keeps its own copy of the input.
    bool copied = false;
    for (const auto& e : fs::recursive_directory_iterator(dir / "r" / "inputs"))
        copied = copied || (e.path().filename() == "host.vasp" && slurp(e.path()) == slurp(dir / "host.vasp"));
    CHECK(copied);
    // Edit the original: Cu becomes Ni (same fcc POSCAR, another element and lattice).
    REQUIRE(cli_in(dir, {"build", "bulk", "Ni", "-o", "host.vasp"}).exit_code == 0);
    const auto resumed = cli_in(dir, {"resume", "r"});
    const std::string resume_log = resumed.out + resumed.err;
    INFO(resume_log);
    CHECK(resumed.exit_code == 0);
    CHECK(cli_in(dir, {"results", "r", "--csv"}).out == results);
    engine::RunStore store(dir / "r");
    for (const auto& t : store.tasks()) {
        CAPTURE(t.name);
        CHECK(store.executions(t.name) <= 1);  // nothing computed again
    }
    // Deleting the original does not stop a resume either.
    fs::remove(dir / "host.vasp");
    CHECK(cli_in(dir, {"resume", "r", "--quiet"}).exit_code == 0);
}

TEST_CASE("cancel signals only an interphase engine that holds the run's lock") {
    const auto dir = testing::scratch("cancel");
    write(dir / "a.yaml", colliding_workflow("A", "B"));
    REQUIRE(cli_in(dir, {"run", "a.yaml", "--run-dir", "r", "--quiet"}).exit_code == 0);

    // An unrelated process, and a lock file that names it while another process holds the lock.
    Child victim({"sleep", "300"});
    Child holder({"flock", "--exclusive", (dir / "r" / ".lock").string(), "sleep", "300"});
    for (int i = 0; i < 100 && testing::run_command("flock -n '" + (dir / "r" / ".lock").string() + "' true").first == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    write(dir / "r" / ".lock", std::to_string(victim.pid()) + "\n");
    auto r = cli_in(dir, {"cancel", "r"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("not stopping process " + std::to_string(victim.pid())) != std::string::npos);
    CHECK(r.err.find("does not hold the run's lock") != std::string::npos);
    CHECK(victim.alive());
    // The lock's real holder is not an interphase engine either (it is flock(1)).
    // /proc/locks names the process that took the lock: flock, which execs sleep in a child or
    // itself; either way not interphase.
    const auto holder_pid = holder.pid();
    write(dir / "r" / ".lock", std::to_string(holder_pid) + "\n");
    r = cli_in(dir, {"cancel", "r"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("not stopping process") != std::string::npos);
    CHECK(holder.alive());
}

TEST_CASE("cancel stops a real engine; resume finishes; --quiet still reports a failed run") {
    const auto dir = testing::scratch("cancel-real");
    fs::copy_file(testing::source_dir() / "workflows/examples/emt_adatoms.yaml", dir / "wf.yaml");
    Child engine({testing::cli().string(), "run", "wf.yaml", "--run-dir", "r", "--cores", "1"}, dir, dir / "run.log");
    // Cancel once the engine has finished a calculation (its own progress record), not after a guess.
    bool started = false;
    for (int i = 0; i < 600 && !started && engine.alive(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        started = slurp(dir / "run.log").find("done ") != std::string::npos;
    }
    REQUIRE(started);
    const auto c = cli_in(dir, {"cancel", "r"});
    const std::string cancel_log = c.out + c.err;
    INFO(cancel_log);
    CHECK(c.exit_code == 0);
    CHECK(c.out.find("stopped the engine") != std::string::npos);
    CHECK(engine.wait() == 130);
    CHECK(cli_in(dir, {"resume", "r", "--quiet"}).exit_code == 0);

    // EMT has no Li: the reference atom fails, everything after it is blocked; --quiet says so.
    write(dir / "li.yaml", R"(name: li-emt
calculator: {code: emt}
adsorbate: Li
hosts:
  - {name: Al(111), phase: Al, miller: [1, 1, 1], layers: 3, vacuum: 8}
)");
    const auto failed = cli_in(dir, {"run", "li.yaml", "--run-dir", "li", "--quiet"});
    CHECK(failed.exit_code == 1);
    CHECK(failed.out.find("FAILED") != std::string::npos);
    CHECK(failed.out.find("run incomplete") != std::string::npos);
}

TEST_CASE("a run folder that cannot be created is one clear line with exit 4") {
    const auto dir = testing::scratch("unwritable");
    write(dir / "a.yaml", colliding_workflow("A", "B"));
    write(dir / "plainfile", "x");
    const auto r = cli_in(dir, {"run", "a.yaml", "--run-dir", "plainfile/run", "--quiet"});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("cannot create the run folder") != std::string::npos);
    CHECK(testing::count_lines(r.err) == 1);
}
