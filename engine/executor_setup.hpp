// Which executor a run uses, from `--executor NAME --cluster-profile FILE` or, when resuming
// without them, from what the run folder's store recorded (meta "executor", "cluster_profile"),
// so `interphase resume RUN_DIR` goes back to the same batch system and re-attaches to its jobs.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cluster/executor.hpp"
#include "cluster/profile.hpp"

namespace interphase::engine {

struct ExecutorSetup {
    std::string name = "local";
    std::filesystem::path profile_path;             ///< absolute; empty for local
    std::optional<cluster::ClusterProfile> profile;
    bool batch() const { return name != "local"; }
};

/// `executor` and `profile` as given on the command line (empty = not given); the run folder's
/// recorded choice fills what is missing. Throws InputError for unknown executors, a batch
/// executor without a profile, or a bad profile (FILE:LINE: field).
ExecutorSetup resolve_executor(const std::string& executor, const std::filesystem::path& profile,
                               const std::filesystem::path& run_dir);

/// The executor for a run: the local pool under `cores`, or a batch executor keeping its
/// journal in RUN_DIR/<name>/ and naming its jobs after the run folder.
std::unique_ptr<cluster::Executor> make_executor(const ExecutorSetup& setup, int cores,
                                                 const std::filesystem::path& run_dir);

/// The batch job name of a run: "ip-<folder name>-<8 hex digits of its absolute path>".
std::string batch_job_name(const std::filesystem::path& run_dir);

}  // namespace interphase::engine
