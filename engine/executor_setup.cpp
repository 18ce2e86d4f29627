#include "engine/executor_setup.hpp"

#include <fmt/format.h>

#include "cluster/mpi_pilot.hpp"
#include "cluster/registry.hpp"
#include "common/errors.hpp"
#include "engine/store.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

ExecutorSetup resolve_executor(const std::string& executor, const fs::path& profile, const fs::path& run_dir) {
    ExecutorSetup s;
    std::string name = executor;
    fs::path profile_path = profile;
    if ((name.empty() || profile_path.empty()) && RunStore::exists(run_dir)) {
        RunStore store(run_dir);
        const auto recorded = store.meta("executor").value_or("");
        if (name.empty()) name = recorded;
        if (profile_path.empty() && name == recorded) profile_path = store.meta("cluster_profile").value_or("");
    }
    s.name = name.empty() ? "local" : name;
    const auto& info = cluster::ExecutorRegistry::instance().info(s.name);  // "did you mean" for typos
    if (s.name == "mpi") cluster::require_mpi_pilot();  // only inside `mpirun ... interphase worker`
    if (info.needs_profile) {
        if (profile_path.empty())
            throw InputError("--cluster-profile", "cluster_profile",
                             fmt::format("executor '{}' needs a cluster profile (docs/cluster.md)", s.name));
        s.profile_path = fs::absolute(profile_path).lexically_normal();
        s.profile = cluster::load_cluster_profile(s.profile_path);
        if (s.profile->scheduler != s.name)
            throw InputError(s.profile_path.string(), "scheduler",
                             fmt::format("the profile is for '{}', not for executor '{}'", s.profile->scheduler, s.name));
    }
    return s;
}

std::string batch_job_name(const fs::path& run_dir) {
    const auto abs = fs::absolute(run_dir).lexically_normal().string();
    std::uint32_t h = 2166136261u;  // FNV-1a: short and stable across runs
    for (unsigned char c : abs) h = (h ^ c) * 16777619u;
    std::string base;
    for (char c : fs::path(abs).filename().string())
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') base += c;
    if (base.size() > 40) base.resize(40);
    return fmt::format("ip-{}-{:08x}", base, h);
}

std::unique_ptr<cluster::Executor> make_executor(const ExecutorSetup& setup, int cores, const fs::path& run_dir) {
    cluster::ExecutorOptions o;
    o.cores = cores;
    o.state_dir = run_dir / setup.name;
    o.job_name = batch_job_name(run_dir);
    o.profile = setup.profile;
    return cluster::ExecutorRegistry::instance().create(setup.name, o);
}

}  // namespace interphase::engine
