// `mpirun -np N interphase worker RUN_DIR [--workflow WF]`: the engine inside one allocation
// (the MPI pilot, cluster/mpi_pilot.hpp). Rank 0 runs (or resumes) the workflow with the "mpi"
// executor; ranks 1..N-1 run its calculations — builtin ones in-process, external codes through
// the launcher — until rank 0 tells them to stop.
#include <cstdlib>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "cluster/mpi_pilot.hpp"
#include "common/errors.hpp"
#include "engine/builtin_task.hpp"
#include "engine/runner.hpp"
#include "workflows/run.hpp"
#include "engine/store.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {

void add_worker_command(CLI::App& app, Commands& commands) {
    struct Options {
        std::string run_dir, workflow, launcher = "none";
        int cores = 1;
        double heartbeat_timeout = 30, heartbeat_interval = 1;
        bool quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* w = app.add_subcommand("worker", "MPI pilot: run a workflow inside one allocation (mpirun -np N interphase worker RUN_DIR)");
    w->add_option("RUN_DIR", o->run_dir, "Run folder (resumed when --workflow is not given)")->required();
    w->add_option("--workflow", o->workflow, "Workflow YAML to run in RUN_DIR (rank 0 reads it)");
    w->add_option("--cores", o->cores, "Cores of each worker rank; a calculation gets all of them")
        ->check(CLI::Range(1, 100000));
    w->add_option("--launcher", o->launcher,
                  "Prefix of external codes' command lines: none, 'srun --mpi=pmix --exclusive -N 1 -w {host} -n {cores} -c 1', "
                  "'mpirun --host {host} -np {cores}' ({cores}, {host}, {rank} are substituted; docs/cluster.md)");
    w->add_option("--heartbeat-timeout", o->heartbeat_timeout, "Seconds without heartbeat before a worker rank is dead")
        ->check(CLI::Range(0.1, 86400.0));
    w->add_option("--heartbeat-interval", o->heartbeat_interval, "Seconds between a worker's heartbeats")
        ->check(CLI::Range(0.01, 3600.0));
    w->add_flag("--quiet", o->quiet, "No progress lines");
    commands.push_back({w, [o] {
        const auto ms = [](double s) { return std::chrono::milliseconds(static_cast<long>(s * 1000)); };
        cluster::PilotOptions po;
        po.cores_per_rank = o->cores;
        cluster::launcher_prefix(o->launcher, 1, "h", 0);  // an unknown placeholder fails on every rank alike
        po.launcher = o->launcher;
        po.heartbeat_interval = ms(o->heartbeat_interval);
        po.heartbeat_timeout = ms(o->heartbeat_timeout);
        // A builtin calculation (`interphase calc-task DIR`) runs inside the worker, not as a process.
        po.in_process = {[](const cluster::Job& job) { return job.argv.size() == 3 && job.argv[1] == "calc-task"; },
                         [](const cluster::Job& job) { return engine::run_builtin_task(job.argv[2]); }};
        if (const char* delay = std::getenv("INTERPHASE_PILOT_JOB_DELAY_MS"))  // test hook (docs/executors.md)
            po.job_delay = std::chrono::milliseconds(std::atol(delay));
        cluster::Pilot pilot(po);  // MPI_Init_thread ... MPI_Finalize; stops the workers when rank 0 leaves
        if (pilot.rank() != 0) {
            pilot.serve();
            return 0;  // exit status 0 is also what a hung MPI_Finalize leaves with
        }
        engine::RunOptions opt{o->run_dir, o->cores, o->quiet, {}};
        opt.executor = "mpi";
        if (!o->quiet)
            std::cout << fmt::format("MPI pilot: {} rank(s), {} worker rank(s) with {} core(s) each\n", pilot.size(),
                                     pilot.size() - 1, o->cores);
        const auto summary = o->workflow.empty() ? workflows::resume_run(o->run_dir, opt, std::cout)
                                                 : workflows::run_workflow(workflows::load_workflow(o->workflow), opt, std::cout);
        const int status = summary.interrupted ? 130 : summary.ok() ? 0 : 1;
        pilot.set_exit_status(status);
        return status;
    }});
}

}  // namespace interphase::cli
