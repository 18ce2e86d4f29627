// `interphase submit WORKFLOW --executor slurm --nodes N --time T`: the engine inside one Slurm
// allocation. Writes RUN_DIR/pilot/pilot-<n>.sbatch — #SBATCH lines for N nodes × R ranks of C
// cores, the cluster profile's partition/account/qos/constraint/memory/sbatch_options, its
// setup lines and environment — whose only work is the MPI pilot,
//   mpirun --enable-recovery --bind-to none -np N*R interphase worker RUN_DIR [--workflow WF]
//          --cores C --launcher L
// (apps/cmd_worker.cpp: rank 0 runs the engine, ranks 1.. run the calculations), submits it with
// one `sbatch --parsable` and appends the job id to RUN_DIR/pilot/jobs.jsonl.
//
// Submitting a run folder again is how a run continues after its allocation ended: one squeue
// call on the last recorded job refuses while it is still queued or running; otherwise the new
// pilot resumes the run from the store (finished tasks are never redone). When the run folder
// already holds a run, the pilot resumes it from its own workflow copy (`interphase worker
// RUN_DIR`, as `interphase resume` does), so the job runs what was started even if the workflow
// file changes while it waits in the queue; a first submission passes --workflow.
// `--dry-run` writes and prints the script only. docs/cluster.md, "The engine inside one allocation".
// Every value reaches the script through cluster/script_text.hpp: directive values quoted for
// sbatch, command words single-quoted, the run folder refused when it holds a control character.
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "apps/command.hpp"
#include "cluster/batch_executor.hpp"
#include "cluster/mpi_pilot.hpp"
#include "cluster/profile.hpp"
#include "cluster/script_text.hpp"
#include "cluster/slurm_executor.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "engine/executor_setup.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

constexpr const char* kSource = "interphase submit";

// Slurm's --time forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
bool valid_slurm_time(const std::string& t) {
    static const std::regex re(R"(^(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2})$)");
    return std::regex_match(t, re);
}

// The running binary (what the compute nodes run unless the profile names another).
fs::path this_binary() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw ExecutionError("cannot find the interphase binary (/proc/self/exe): " + ec.message());
    return p;
}

struct PilotJob {
    std::string id, script;
};

std::vector<PilotJob> recorded_jobs(const fs::path& jobs_file) {
    std::vector<PilotJob> out;
    std::ifstream in(jobs_file);
    for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.contains("job")) out.push_back({j["job"].get<std::string>(), j.value("script", "")});
    }
    return out;
}

// The Slurm state of `job` ("" when Slurm no longer knows it), with one squeue call.
std::string slurm_state(const std::string& job) {
    const auto r = cluster::run_command({"squeue", "-h", "-t", "all", "-j", job, "-o", "%T"});
    if (r.status != 0) {
        if (r.err.find("Invalid job id") != std::string::npos) return "";  // ended and purged
        throw ExecutionError(fmt::format("cannot ask Slurm about pilot job {}: squeue {}: {}", job,
                                         r.status < 0 ? "could not run" : "exit " + std::to_string(r.status),
                                         text::trim(r.err)));
    }
    const auto words = text::split_ws(r.out);
    return words.empty() ? "" : words.front();
}

// Queued, running, suspended...: every state the Slurm executor keeps polling.
bool still_active(const std::string& state) {
    return !state.empty() && cluster::slurm_fate(state) == cluster::BatchFate::Active;
}

// CPUs of the smallest node of `partition` (the default partition when empty); 0 when unknown.
int cpus_per_node(const std::string& partition) {
    std::vector<std::string> argv{"sinfo", "-h", "-o", "%c"};
    if (!partition.empty()) argv.insert(argv.end(), {"-p", partition});
    const auto r = cluster::run_command(argv);
    if (r.status != 0) return 0;
    int cpus = 0;
    for (const auto& w : text::split_ws(r.out))
        if (const auto n = text::parse_int(text::trim(w.substr(0, w.find('+')))); n && *n > 0)
            cpus = cpus == 0 ? static_cast<int>(*n) : std::min(cpus, static_cast<int>(*n));
    return cpus;
}

}  // namespace

void add_submit_command(CLI::App& app, Commands& commands) {
    struct Options {
        std::string workflow, run_dir, executor = "slurm", cluster_profile, time, launcher = "none", mpirun = "mpirun";
        int nodes = 0, ranks_per_node = 0, cores_per_rank = 0;
        bool dry_run = false;
    };
    auto o = std::make_shared<Options>();
    auto* s = app.add_subcommand("submit", "Submit one batch job that runs the workflow as an MPI pilot (the engine inside one allocation)");
    s->add_option("WORKFLOW", o->workflow, "Workflow YAML, or a run folder to continue")->required();
    s->add_option("--run-dir", o->run_dir, "Run folder (default: runs/<workflow name>)");
    s->add_option("--executor", o->executor, "Batch system of the pilot job: slurm (the default; pbs and lsf: not yet)");
    s->add_option("--cluster-profile", o->cluster_profile, "Cluster profile YAML: partition, account, setup, environment... (docs/cluster.md)");
    s->add_option("--nodes", o->nodes, "Nodes of the allocation")->required();
    s->add_option("--time", o->time, "Time limit of the allocation ([D-]HH:MM:SS, MM, MM:SS)")->required();
    auto* rpn = s->add_option("--ranks-per-node", o->ranks_per_node,
                  "MPI ranks per node (default: as many C-core ranks as fit a node; rank 0 schedules, the others run calculations)");
    auto* cpr = s->add_option("--cores-per-rank", o->cores_per_rank, "Cores of each rank, all of them for its calculation (default: the profile's cores_per_task)");
    s->add_option("--launcher", o->launcher,
                  "Prefix of external codes' command lines on a worker rank: none (default), "
                  "'srun --mpi=pmix --exclusive -N 1 -w {host} -n {cores} -c 1' (Slurm; docs/cluster.md)");
    s->add_option("--mpirun", o->mpirun, "The OpenMPI mpirun command of the job, with extra options if needed (default: mpirun)");
    s->add_flag("--dry-run", o->dry_run, "Write and print the batch script, do not submit it");
    commands.push_back({s, [o, rpn, cpr] {
        // Options first: one line naming the option, exit 2.
        if (o->executor == "pbs" || o->executor == "lsf")
            throw InputError(kSource, "--executor", fmt::format("pilot submission to {} is not implemented (only slurm); "
                                                                "`interphase run --executor {}` runs job arrays", o->executor, o->executor));
        if (o->executor != "slurm")
            throw InputError(kSource, "--executor", text::unknown_name_message("executor", o->executor, {"slurm"}));
        if (o->nodes < 1) throw InputError(kSource, "--nodes", fmt::format("expected at least 1 node, got {}", o->nodes));
        if (!valid_slurm_time(o->time))
            throw InputError(kSource, "--time", fmt::format("expected [D-]HH:MM:SS, MM or MM:SS, got '{}'", o->time));
        if (rpn->count() > 0 && o->ranks_per_node < 1)
            throw InputError(kSource, "--ranks-per-node", fmt::format("expected at least 1, got {}", o->ranks_per_node));
        cluster::ClusterProfile profile;
        if (!o->cluster_profile.empty()) profile = cluster::load_cluster_profile(o->cluster_profile);
        if (profile.scheduler != o->executor)
            throw InputError(o->cluster_profile, "scheduler",
                             fmt::format("the profile is for {}, the pilot is submitted to {}", profile.scheduler, o->executor));
        if (cpr->count() == 0) o->cores_per_rank = std::max(1, profile.cores_per_task);
        if (o->cores_per_rank < 1)
            throw InputError(kSource, "--cores-per-rank", fmt::format("expected at least 1, got {}", o->cores_per_rank));
        cluster::launcher_prefix(o->launcher, o->cores_per_rank, "host", 1);  // "--launcher: ... unknown placeholder"
        const auto mpirun = text::split_ws(o->mpirun);
        if (mpirun.empty()) throw InputError(kSource, "--mpirun", "empty command");

        // The run: a workflow file (new run, or continue the run folder it already has) or a run folder.
        fs::path run_dir;
        std::string workflow_arg;  // --workflow of the worker; empty = resume
        if (fs::is_directory(o->workflow)) {
            if (!engine::RunStore::exists(o->workflow))
                throw InputError(o->workflow, "", "not a workflow file nor an Interphase run folder (no state.sqlite)");
            run_dir = o->workflow;
            if (!o->run_dir.empty() && fs::weakly_canonical(o->run_dir) != fs::weakly_canonical(run_dir))
                throw InputError(kSource, "--run-dir", "a run folder was given as WORKFLOW; --run-dir names another one");
        } else {
            const auto spec = workflows::load_workflow(o->workflow);  // FILE:LINE: field errors
            run_dir = o->run_dir.empty() ? workflows::default_run_dir(spec) : fs::path(o->run_dir);
            if (engine::RunStore::exists(run_dir)) {
                std::ifstream in(run_dir / "workflow.yaml");
                std::stringstream copy;
                copy << in.rdbuf();
                if (copy.str() != spec.yaml_text)
                    std::cout << fmt::format("note: {} differs from the workflow the run in {} started with; the pilot "
                                             "resumes the run as started (a new --run-dir runs the edited workflow)\n",
                                             o->workflow, run_dir.string());
            } else {
                workflow_arg = fs::absolute(o->workflow).lexically_normal().string();
            }
        }
        run_dir = fs::absolute(run_dir).lexically_normal();
        // Its path goes into #SBATCH lines, which bash reads as comments: a line break would
        // turn the rest of it into a command. Refused before anything is written.
        cluster::require_printable(run_dir.string(), kSource, "run folder");
        const std::string cwd = fs::current_path().string();
        cluster::require_printable(cwd, kSource, "working folder");
        const fs::path pilot_dir = run_dir / "pilot";
        const fs::path jobs_file = pilot_dir / "jobs.jsonl";
        const auto jobs = recorded_jobs(jobs_file);

        // Never two pilots on one run folder: one squeue call about the last one.
        if (!o->dry_run && !jobs.empty()) {
            const auto state = slurm_state(jobs.back().id);
            if (still_active(state))
                throw InputError(run_dir.string(), "",
                                 fmt::format("pilot job {} of this run folder is still {}; wait until it ends (squeue -j {}) "
                                             "or cancel it (scancel {}), then submit again",
                                             jobs.back().id, state, jobs.back().id, jobs.back().id));
        }

        // Ranks: as many C-core ranks as a node holds, unless given.
        if (o->ranks_per_node == 0) {
            const int cpus = cpus_per_node(profile.partition);
            if (cpus == 0)
                throw InputError(kSource, "--ranks-per-node", "sinfo does not say how many CPUs a node has: give --ranks-per-node");
            if (o->cores_per_rank > cpus)
                throw InputError(kSource, "--cores-per-rank",
                                 fmt::format("{} cores per rank do not fit a node of {} CPUs", o->cores_per_rank, cpus));
            o->ranks_per_node = cpus / o->cores_per_rank;
        }
        const int ranks = o->nodes * o->ranks_per_node;

        // The batch script.
        std::error_code ec;
        fs::create_directories(pilot_dir, ec);
        if (ec) throw StorageError(fmt::format("cannot create {}: {}", pilot_dir.string(), ec.message()));
        const int seq = static_cast<int>(jobs.size()) + 1;
        const fs::path script = pilot_dir / fmt::format("pilot-{}.sbatch", seq);
        const std::string binary = profile.interphase.empty() ? this_binary().string() : profile.interphase;
        const std::string job_name = cluster::safe_job_name("ip-pilot-" + engine::batch_job_name(run_dir).substr(3));
        const auto directive = [](const std::string& value, const char* field) {
            return cluster::directive_value(cluster::DirectiveSyntax::Slurm, value, kSource, field);
        };
        std::ostringstream sh;
        sh << "#!/bin/bash\n";
        sh << fmt::format("# Written by `interphase submit`: the MPI pilot of the run folder {} (docs/cluster.md).\n",
                          cluster::comment_text(run_dir.string()));
        sh << fmt::format("# Rank 0 runs the engine, ranks 1..{} run the calculations on {} core(s) each.\n", ranks - 1, o->cores_per_rank);
        sh << fmt::format("#SBATCH --job-name={}\n", job_name);
        sh << fmt::format("#SBATCH --nodes={}\n", o->nodes);
        sh << fmt::format("#SBATCH --ntasks-per-node={}\n", o->ranks_per_node);
        sh << fmt::format("#SBATCH --cpus-per-task={}\n", o->cores_per_rank);
        sh << fmt::format("#SBATCH --time={}\n", o->time);
        sh << fmt::format("#SBATCH --output={}\n",
                          directive(cluster::slurm_filename_literal(pilot_dir.string()) + fmt::format("/pilot-{}-%j.out", seq),
                                    "run folder"));
        sh << fmt::format("#SBATCH --chdir={}\n", directive(cwd, "working folder"));
        sh << cluster::slurm_site_directives(profile);
        sh << "\n";
        for (const auto& line : profile.setup) sh << line << "\n";
        for (const auto& [k, v] : profile.environment) {
            cluster::require_variable_name(k, profile.source, "environment");
            sh << fmt::format("export {}={}\n", k, cluster::shell_word(v));
        }
        if (::geteuid() == 0) sh << "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # submitted as root\n";
        sh << "echo \"interphase pilot: job $SLURM_JOB_ID on $SLURM_JOB_NODELIST, $(date)\"\n";
        // --enable-recovery: a dead worker rank does not end the job (docs/executors.md);
        // --bind-to none: OpenMPI would bind each rank to one core, and so every program it starts.
        std::string cmd;
        for (const auto& w : mpirun) cmd += cluster::shell_word(w) + " ";
        cmd += fmt::format("--enable-recovery --bind-to none -np {} {} worker {}", ranks, cluster::shell_word(binary),
                           cluster::shell_word(run_dir.string()));
        if (!workflow_arg.empty()) cmd += " --workflow " + cluster::shell_word(workflow_arg);
        cmd += fmt::format(" --cores {} --launcher {}", o->cores_per_rank, cluster::shell_word(o->launcher));
        sh << cmd << "\n";
        {
            std::ofstream out(script);
            out << sh.str();
            if (!out) throw StorageError("cannot write " + script.string());
        }
        fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add, ec);

        const std::string layout =
            fmt::format("{} node(s) × {} rank(s): rank 0 schedules, {} worker rank(s) × {} core(s)", o->nodes,
                        o->ranks_per_node, ranks - 1, o->cores_per_rank);
        if (o->dry_run) {
            std::cout << sh.str();
            std::cout << fmt::format("# dry run: wrote {} ({}); not submitted (`sbatch {}` submits it)\n",
                                     script.string(), layout, script.string());
            return 0;
        }
        const auto r = cluster::run_command({"sbatch", "--parsable", script.string()});
        const std::string id = text::trim(r.out.substr(0, r.out.find(';')));
        if (r.status != 0 || id.empty())
            throw ExecutionError(fmt::format("sbatch {} failed ({}): {}", script.string(),
                                             r.status < 0 ? "could not run" : "exit " + std::to_string(r.status),
                                             text::trim(r.err.empty() ? r.out : r.err)));
        nlohmann::json rec{{"time", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
                           {"job", id},
                           {"script", script.filename().string()},
                           {"nodes", o->nodes},
                           {"ranks_per_node", o->ranks_per_node},
                           {"cores_per_rank", o->cores_per_rank},
                           {"mode", workflow_arg.empty() ? "resume" : "workflow"}};
        std::ofstream(jobs_file, std::ios::app) << rec.dump() << "\n";
        std::cout << fmt::format("submitted pilot job {} for {} ({}, time {}){}\n", id, run_dir.string(), layout, o->time,
                                 workflow_arg.empty() ? ", resuming the run" : "");
        std::cout << fmt::format("follow it:  squeue -j {}   interphase status {}   tail -f {}\n", id, run_dir.string(),
                                 (pilot_dir / fmt::format("pilot-{}-{}.out", seq, id)).string());
        return 0;
    }});
}

}  // namespace interphase::cli
