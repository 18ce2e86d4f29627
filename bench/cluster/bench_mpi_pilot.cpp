// bench/cluster: MPI pilot throughput. A builtin (EMT) workflow of HOSTS small hosts (Cu(100),
// two layers, the hollow site; each host's vacuum differs by 0.001 Å so nothing is reused):
// 5 tasks per host, 2 of them relaxations, plus the isolated atom. It runs once with the local
// executor (one core, the reference) and then under `mpirun -np N interphase worker` for each N
// of --ranks; printed per run: wall time, calculations run by the pilot (RUN_DIR/mpi/journal.tsv)
// and tasks/s. With N = 1 rank 0 runs the jobs itself; with N > 1 ranks 1..N-1 run them and
// rank 0 only schedules (and builds the slabs, in-process, as always).
//
// Usage: bench_mpi_pilot [HOSTS=100] [--ranks 1,2,3] [--work DIR]
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "bench/bench_workflows.hpp"

namespace fs = std::filesystem;

namespace {

std::string workflow_yaml(int hosts) { return interphase::bench::emt_hosts_workflow("bench-mpi-pilot", hosts); }

double run(const std::string& command) {
    const auto t0 = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("failed (see the log beside the run folder): " + command);
    return wall;
}

int journal_count(const fs::path& run_dir, const std::string& event) {
    std::ifstream in(run_dir / "mpi" / "journal.tsv");
    int n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.find("\t" + event + "\t") != std::string::npos) ++n;
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    int hosts = 100;
    std::vector<int> ranks{1, 2, 3};
    fs::path work = fs::temp_directory_path() / fmt::format("bench-mpi-pilot-{}", ::getpid());
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--ranks" && i + 1 < argc) {
            ranks.clear();
            std::stringstream ss(argv[++i]);
            for (std::string n; std::getline(ss, n, ',');) ranks.push_back(std::stoi(n));
        } else if (a == "--work" && i + 1 < argc) {
            work = argv[++i];
        } else {
            hosts = std::stoi(a);
        }
    }
    fs::remove_all(work);
    fs::create_directories(work);
    std::ofstream(work / "wf.yaml") << workflow_yaml(hosts);
    const int tasks = 5 * hosts + 1, calculations = 2 * hosts + 1;
    const std::string exe = INTERPHASE_BINARY;
    try {
        fmt::print("MPI pilot throughput: {} hosts, {} tasks ({} calculations), work folder {}\n", hosts, tasks,
                   calculations, work.string());
        fmt::print("{:<26} {:>9} {:>13} {:>9} {:>13}\n", "run", "wall [s]", "pilot calcs", "tasks/s", "calcs/s");
        const double local = run(fmt::format("cd '{}' && '{}' run wf.yaml --run-dir local --cores 1 --quiet > local.log 2>&1",
                                             work.string(), exe));
        fmt::print("{:<26} {:>9.2f} {:>13} {:>9.1f} {:>13.1f}\n", "local executor, 1 core", local, "-", tasks / local,
                   calculations / local);
        for (int np : ranks) {
            const std::string dir = fmt::format("np{}", np);
            const double wall = run(fmt::format(
                "cd '{}' && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 '{}' --oversubscribe --enable-recovery "
                "-np {} '{}' worker {} --workflow wf.yaml --quiet > {}.log 2>&1",
                work.string(), INTERPHASE_MPIEXEC, np, exe, dir, dir));
            fmt::print("{:<26} {:>9.2f} {:>13} {:>9.1f} {:>13.1f}\n",
                       fmt::format("mpirun -np {} ({} worker{})", np, np - 1, np == 2 ? "" : "s"), wall,
                       journal_count(work / dir, "done"), tasks / wall, calculations / wall);
        }
    } catch (const std::exception& e) {
        std::cerr << "bench_mpi_pilot: " << e.what() << "\n";
        return 1;
    }
    fs::remove_all(work);
    return 0;
}
