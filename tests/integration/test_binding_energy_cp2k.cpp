// The quickstart's task graph end to end on real CP2K, at a tiny size: the run finishes,
// results.h5 is readable by h5py and holds E_b and ΔE that we recompute independently from
// CP2K's own output files; a second run reuses every task; an engine killed with SIGKILL in
// the middle of a calculation resumes without redoing finished work.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

#include "common/units.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "cp2k_output.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;

using interphase::testing::slurp;
using interphase::testing::have_cp2k;
using interphase::testing::run_cli;
using interphase::testing::cp2k_energy;

namespace {

fs::path task_dir(const fs::path& run, const std::string& task) {
    return run / "tasks" / engine::task_folder_name(task) / "cp2k.out";
}

}  // namespace

TEST_CASE("binding-energy workflow on CP2K: run, results.h5, independent check, reuse") {
    if (!have_cp2k()) {
        MESSAGE("cp2k.psmp not on PATH: skipped (scripts/setup.sh installs it)");
        return;
    }
    const auto dir = testing::scratch("be-cp2k");
    fs::copy_file(testing::source_dir() / "tests/integration/data/tiny_binding_energy.yaml", dir / "wf.yaml");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run --cores 2 --cache cache.sqlite", "run1.log") == 0);
    const std::string log = slurp(dir / "run1.log");
    INFO(log);
    CHECK(log.find("tasks done") != std::string::npos);       // progress
    CHECK(log.find("running: ") != std::string::npos);        // what runs now
    CHECK(log.find("ΔE (eV)") != std::string::npos);          // the table
    REQUIRE(fs::exists(dir / "run/results.h5"));

    // Independent recomputation from CP2K's outputs.
    const fs::path run = dir / "run";
    const double mu = cp2k_energy(task_dir(run, "reference/Li-atom/energy"));
    const double eb_al = cp2k_energy(task_dir(run, "Al(111)/fcc_hollow+Li/relax")) - cp2k_energy(task_dir(run, "Al(111)/slab/relax")) - mu;
    const double eb_li2s = cp2k_energy(task_dir(run, "Li2S(111)/hollow+Li/relax")) - cp2k_energy(task_dir(run, "Li2S(111)/slab/relax")) - mu;

    // results.h5 as a user reads it, with Debian's h5py.
    if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") != 0) {
        MESSAGE("python3-h5py missing: h5py read skipped");
    } else {
        const std::string py = "cd '" + dir.string() + "' && /usr/bin/python3 -c \"import h5py, json\n"
                               "f = h5py.File('run/results.h5', 'r')\n"
                               "be = dict(zip(f['binding_energy/host'].asstr()[:], f['binding_energy/binding_energy'][:]))\n"
                               "json.dump({'be': be, 'de': float(f['delta_e/delta_e'][0]), 'a': f['delta_e/a'].asstr()[0],"
                               " 'units': f['delta_e/delta_e'].attrs['units'], 'code': f.attrs['code_version'],"
                               " 'mu': float(f['binding_energy/Al(111)'].attrs['mu']),"
                               " 'natoms': int(f['binding_energy/Al(111)/relaxed_best_site/positions'].shape[0]),"
                               " 'ntasks': int(f['provenance/task'].shape[0]),"
                               " 'calcs': dict(zip(f['calculations/task'].asstr()[:],"
                               "                   [json.loads(p) for p in f['calculations/physics'].asstr()[:]])),"
                               " 'free': dict(zip(f['calculations/task'].asstr()[:],"
                               "                  [None if v != v else float(v) for v in f['calculations/free_energy'][:]]))},"
                               " open('h5.json', 'w'))\"";
        REQUIRE(std::system(py.c_str()) == 0);
        const auto h5 = nlohmann::json::parse(slurp(dir / "h5.json"));
        CHECK(h5["be"]["Al(111)"].get<double>() == doctest::Approx(eb_al).epsilon(1e-9));
        CHECK(h5["be"]["Li2S(111)"].get<double>() == doctest::Approx(eb_li2s).epsilon(1e-9));
        CHECK(h5["de"].get<double>() == doctest::Approx(eb_al - eb_li2s).epsilon(1e-9));
        CHECK(h5["a"] == "Al(111)");
        CHECK(h5["units"] == "eV");
        CHECK(h5["mu"].get<double>() == doctest::Approx(mu).epsilon(1e-12));
        CHECK(h5["code"].get<std::string>().find("2023") != std::string::npos);
        CHECK(h5["natoms"] == 9);  // 2x2 cell, 2 Al layers + Li
        CHECK(h5["ntasks"] == 15);
        // The physics of every calculation, as the plugin recorded it (docs/protocols.md).
        CHECK(h5["calcs"].size() == 5);
        const auto& slab = h5["calcs"]["Al(111)/slab/relax"];
        CHECK(slab["kinds"]["Al"]["basis_set"] == "SZV-MOLOPT-SR-GTH");  // plumbing
        CHECK(slab["electronic"] == "metal");
        CHECK(h5["calcs"]["Li2S(111)/slab/relax"]["electronic"] == "insulator");
        CHECK(h5["calcs"]["reference/Li-atom/energy"]["spin"] == "unrestricted");
        CHECK(slab["energy"] == "sigma->0 (E0 = F + TS/2)");
        // F from CP2K's own total: the energy used differs from it by −½(−TS).
        CHECK(h5["free"]["Al(111)/slab/relax"].get<double>() < cp2k_energy(task_dir(run, "Al(111)/slab/relax")));
        CHECK(h5["free"]["reference/Li-atom/energy"].is_null());  // integer occupations: no free energy (NaN)
    }
    // Li binds to Al(111) (exothermic against the isolated atom), by a physically sensible amount.
    CHECK(eb_al < -0.5);
    CHECK(eb_al > -4.0);

    // `results --csv` exports the same numbers.
    REQUIRE(run_cli(dir, "results run --csv", "results.csv") == 0);
    CHECK(slurp(dir / "results.csv").find("binding_energy,\"Al(111)\",\"fcc_hollow\"") != std::string::npos);

    // A second run reuses every task: nothing executes again, and each task's record (when and
    // how it really ran) stays as it was (done tasks stay done across runs).
    std::map<std::string, int> before;
    std::map<std::string, double> finished;
    {
        engine::RunStore store(run);
        for (const auto& t : store.tasks()) {
            before[t.name] = store.executions(t.name);
            finished[t.name] = t.finished;
        }
    }
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run2.log") == 0);
    {
        engine::RunStore store(run);
        for (const auto& t : store.tasks()) {
            CAPTURE(t.name);
            CHECK(t.state == engine::state::kDone);
            CHECK(t.finished == finished[t.name]);
            CHECK(store.executions(t.name) == before[t.name]);
            CHECK(store.executions(t.name) == 1);
        }
    }
    CHECK(slurp(dir / "run2.log").find("15 reused") != std::string::npos);

    // Another run folder sharing the cache: every calculation comes from the cache (none runs),
    // provenance names the run that computed it, and the numbers are the same.
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run-b --cache cache.sqlite", "run3.log") == 0);
    {
        engine::RunStore store(dir / "run-b");
        int from_cache = 0;
        for (const auto& t : store.tasks()) {
            CAPTURE(t.name);
            CHECK(t.state == engine::state::kDone);
            if (t.kind != "calculation") continue;
            CHECK(t.reused);
            CHECK(store.executions(t.name) == 0);
            CHECK(t.reused_from.find("cache.sqlite") != std::string::npos);
            CHECK(t.reused_from.find((run).string()) != std::string::npos);
            ++from_cache;
        }
        // Li atom, two clean-slab relaxations, two slab+Li relaxations.
        CHECK(from_cache == 5);
        const auto out_a = engine::RunStore(run).output_of("Al(111)/binding_energy");
        const auto out_b = store.output_of("Al(111)/binding_energy");
        REQUIRE(out_a);
        REQUIRE(out_b);
        CHECK((*out_a)["binding_energy"] == (*out_b)["binding_energy"]);
    }
    CHECK(slurp(dir / "run3.log").find("from the shared cache") != std::string::npos);
    REQUIRE(run_cli(dir, "status run-b", "status-b.txt") == 0);
    CHECK(slurp(dir / "status-b.txt").find("reused from cache") != std::string::npos);
}

TEST_CASE("a calculation killed by a signal is retried; cancel stops the engine; resume finishes") {
    if (!have_cp2k()) {
        MESSAGE("cp2k.psmp not on PATH: skipped");
        return;
    }
    const auto dir = testing::scratch("be-retry");
    fs::copy_file(testing::source_dir() / "tests/integration/data/tiny_li2s.yaml", dir / "wf.yaml");
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (chdir(dir.c_str()) != 0) _exit(99);
        const int fd = ::open("run.log", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(testing::cli().c_str(), "interphase", "run", "wf.yaml", "--run-dir", "run", "--cores", "2", nullptr);
        _exit(98);
    }
    const fs::path run = dir / "run";
    // The process group of a calculation running now (the engine writes it into the task folder)
    // that `ready` accepts.
    auto running_group = [&](std::string& task, const std::function<bool(const engine::TaskRecord&, const fs::path&)>& ready) -> long {
        for (int i = 0; i < 2400; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!engine::RunStore::exists(run)) continue;
            try {
                engine::RunStore store(run);
                for (const auto& t : store.tasks()) {
                    if (t.kind != "calculation" || t.state != engine::state::kRunning) continue;
                    const fs::path folder = run / "tasks" / engine::task_folder_name(t.name);
                    std::ifstream in(folder / "process_group");
                    long pgid = 0;
                    if (in >> pgid && pgid > 1 && ::kill(static_cast<pid_t>(-pgid), 0) == 0 && ready(t, folder)) {
                        task = t.name;
                        return pgid;
                    }
                }
            } catch (const std::exception&) {
            }
        }
        return 0;
    };
    // 1. Kill a calculation's processes behind the engine's back (as an OOM killer would). Not
    // after a guessed delay: the Li atom can finish in 1.5 s, and then nothing is killed. The
    // victim is the slab relaxation (tens of SCF steps), killed once CP2K's own output shows it
    // inside its SCF loop.
    std::string killed;
    const long pgid = running_group(killed, [](const engine::TaskRecord& t, const fs::path& folder) {
        return t.name.find("/relax") != std::string::npos &&
               slurp(folder / "cp2k.out").find("SCF WAVEFUNCTION OPTIMIZATION") != std::string::npos;
    });
    REQUIRE(pgid > 1);
    ::kill(static_cast<pid_t>(-pgid), SIGKILL);
    // 2. Wait for the retry to run and another calculation to start, then cancel the run.
    std::string second;
    long pg2 = 0;
    for (int i = 0; i < 50 && (pg2 == 0 || pg2 == pgid); ++i)
        pg2 = running_group(second, [](const engine::TaskRecord&, const fs::path&) { return true; });
    REQUIRE(pg2 > 1);
    REQUIRE(run_cli(dir, "cancel run", "cancel.log") == 0);
    CHECK(slurp(dir / "cancel.log").find("stopped the engine") != std::string::npos);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);  // interrupted, not failed
    CHECK(::kill(static_cast<pid_t>(-pg2), 0) != 0);  // the cancelled calculation's processes are gone
    {
        const std::string log = slurp(dir / "run.log");
        INFO(log);
        CHECK(log.find("RETRY " + killed) != std::string::npos);
        CHECK(log.find("killed") != std::string::npos);
    }
    REQUIRE(run_cli(dir, "cancel run", "cancel2.log") == 0);  // nothing runs now
    CHECK(slurp(dir / "cancel2.log").find("nothing runs") != std::string::npos);

    // 3. Resume finishes; the killed task ran exactly twice (the killed attempt + the retry).
    REQUIRE(run_cli(dir, "resume run", "resume.log") == 0);
    engine::RunStore store(run);
    for (const auto& t : store.tasks()) CHECK(t.state == engine::state::kDone);
    CHECK(store.executions(killed) >= 2);
    CHECK(fs::exists(run / "results.h5"));
}

TEST_CASE("an engine killed with SIGKILL during a calculation resumes without redoing finished work") {
    if (!have_cp2k()) {
        MESSAGE("cp2k.psmp not on PATH: skipped");
        return;
    }
    const auto dir = testing::scratch("be-kill");
    fs::copy_file(testing::source_dir() / "tests/integration/data/tiny_binding_energy.yaml", dir / "wf.yaml");
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (chdir(dir.c_str()) != 0) _exit(99);
        const int fd = ::open("killed.log", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(testing::cli().c_str(), "interphase", "run", "wf.yaml", "--run-dir", "run", "--cores", "2", nullptr);
        _exit(98);
    }
    // Wait until the first calculation finished and a later one is running, then kill -9.
    const fs::path run = dir / "run";
    bool ready = false;
    for (int i = 0; i < 1200 && !ready; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        if (!engine::RunStore::exists(run)) continue;
        try {
            engine::RunStore store(run);
            int done_calcs = 0, running = 0;
            for (const auto& t : store.tasks()) {
                if (t.kind == "calculation" && t.state == engine::state::kDone) ++done_calcs;
                if (t.kind == "calculation" && t.state == engine::state::kRunning) ++running;
            }
            ready = done_calcs >= 1 && running == 1;
        } catch (const std::exception&) {
        }
    }
    REQUIRE(ready);
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);

    std::map<std::string, int> finished_before;
    std::string interrupted;
    {
        engine::RunStore store(run);
        for (const auto& t : store.tasks()) {
            if (t.state == engine::state::kDone) finished_before[t.name] = store.executions(t.name);
            if (t.state == engine::state::kRunning) interrupted = t.name;
        }
    }
    REQUIRE_FALSE(interrupted.empty());
    REQUIRE(run_cli(dir, "resume run", "resume.log") == 0);
    INFO(slurp(dir / "resume.log"));
    CHECK(slurp(dir / "resume.log").find("resuming: 1 interrupted task") != std::string::npos);
    engine::RunStore store(run);
    for (const auto& [name, n] : finished_before) {
        CAPTURE(name);
        CHECK(store.executions(name) == n);  // finished work never ran again
        CHECK(n == 1);
    }
    CHECK(store.executions(interrupted) == 2);  // the interrupted calculation ran again, once
    for (const auto& t : store.tasks()) CHECK(t.state == engine::state::kDone);
    CHECK(fs::exists(run / "results.h5"));
}
