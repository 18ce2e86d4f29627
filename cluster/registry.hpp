// Executors by name, as calculators are: each executor registers itself with one line in
// cluster/registry.cpp (name, description, whether it needs a cluster profile, a factory).
// `interphase run --executor NAME` looks it up here; an unknown name gets a "did you mean"
// error listing the known ones.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/executor.hpp"
#include "cluster/profile.hpp"
#include "common/registry.hpp"

namespace interphase::cluster {

struct ExecutorOptions {
    int cores = 1;                          ///< core budget of a local executor
    std::filesystem::path state_dir;        ///< where a batch executor keeps its journal and scripts
    std::string job_name = "interphase";    ///< shared by the run's batch jobs
    std::optional<ClusterProfile> profile;  ///< required by batch executors
};

using ExecutorFactory = std::function<std::unique_ptr<Executor>(const ExecutorOptions&)>;

struct ExecutorInfo {
    std::string name;
    std::string description;
    bool needs_profile = false;  ///< a batch system: `--cluster-profile FILE` is required
    ExecutorFactory create;
};

/// Lookup, names() (registration order) and the duplicate check come from Registry<Info>.
class ExecutorRegistry : public Registry<ExecutorInfo> {
public:
    static ExecutorRegistry& instance();
    /// Throws InputError (source "--executor", field "executor") with a "did you mean" list for
    /// unknown names; create() also when a batch executor gets no profile.
    const ExecutorInfo& info(const std::string& name) const;
    std::unique_ptr<Executor> create(const std::string& name, const ExecutorOptions& options) const;

private:
    ExecutorRegistry();
};

}  // namespace interphase::cluster
