// The one place where executors are registered: one line per executor.
#include "cluster/registry.hpp"

#include <fmt/format.h>

#include "cluster/local_executor.hpp"
#include "cluster/lsf_executor.hpp"
#include "cluster/mpi_pilot.hpp"
#include "cluster/pbs_executor.hpp"
#include "cluster/slurm_executor.hpp"
#include "common/errors.hpp"

namespace interphase::cluster {

ExecutorRegistry::ExecutorRegistry() : Registry("executor") {
    add({"local", "process pool on this machine under a core budget", false,
         [](const ExecutorOptions& o) -> std::unique_ptr<Executor> { return std::make_unique<LocalExecutor>(o.cores); }});
    add({"slurm", "Slurm job arrays (sbatch, squeue, scancel) from a cluster profile", true,
         [](const ExecutorOptions& o) -> std::unique_ptr<Executor> {
             return std::make_unique<SlurmExecutor>(*o.profile, o.state_dir, o.job_name);
         }});
    add({"pbs", "PBS Pro/OpenPBS or Torque job arrays (qsub, qstat, qdel) from a cluster profile", true,
         [](const ExecutorOptions& o) -> std::unique_ptr<Executor> {
             return std::make_unique<PbsExecutor>(*o.profile, o.state_dir, o.job_name);
         }});
    add({"lsf", "LSF job arrays (bsub, bjobs, bkill) from a cluster profile", true,
         [](const ExecutorOptions& o) -> std::unique_ptr<Executor> {
             return std::make_unique<LsfExecutor>(*o.profile, o.state_dir, o.job_name);
         }});
    add({"mpi", "MPI pilot: the worker ranks of `mpirun -np N interphase worker RUN_DIR` run the jobs", false,
         [](const ExecutorOptions& o) { return make_mpi_pilot_executor(o.cores, o.state_dir); }});
}

ExecutorRegistry& ExecutorRegistry::instance() {
    static ExecutorRegistry registry;
    return registry;
}

const ExecutorInfo& ExecutorRegistry::info(const std::string& name) const { return at(name, "--executor", "executor"); }

std::unique_ptr<Executor> ExecutorRegistry::create(const std::string& name, const ExecutorOptions& options) const {
    const auto& e = info(name);
    if (e.needs_profile && !options.profile)
        throw InputError("--executor", "executor",
                         fmt::format("executor '{}' needs a cluster profile (--cluster-profile FILE, docs/cluster.md)", name));
    return e.create(options);
}

}  // namespace interphase::cluster
