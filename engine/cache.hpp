// A result cache shared across runs: one SQLite file (WAL, safe for several engines at once)
// mapping a task's content hash to its output and to where it was first computed. A run given a
// cache (`cache:` in the workflow, `--cache PATH` or INTERPHASE_CACHE) looks a task's hash up
// there after its own store and reuses the output — a relaxation done last month by another
// screening is not paid for again — and records the origin in the task's provenance. Finished
// tasks are added as they finish. The hash covers the structure, code, settings, protocol and
// plugin version (engine/hash.hpp), so only truly identical calculations are shared.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace interphase::engine {

namespace sqlite { class Database; }

struct CachedResult {
    nlohmann::json output;
    std::string origin;  ///< "RUN_DIR task NAME", where it was computed
};

class ResultCache {
public:
    /// Opens (creating if needed) the cache file and its folder; throws StorageError.
    explicit ResultCache(const std::filesystem::path& file);
    ~ResultCache();
    ResultCache(const ResultCache&) = delete;
    ResultCache& operator=(const ResultCache&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    std::optional<CachedResult> lookup(const std::string& hash) const;
    /// Adds a result; an existing entry for the hash is kept (first computed wins).
    void put(const std::string& hash, const std::string& kind, const nlohmann::json& output,
             const std::string& run_dir, const std::string& task);
    std::size_t size() const;

private:
    std::filesystem::path path_;
    std::unique_ptr<sqlite::Database> db_;
};

/// The cache a run uses: `explicit_path` if given, else $INTERPHASE_CACHE if set and not "off",
/// else none.
std::optional<std::filesystem::path> resolve_cache_path(const std::optional<std::filesystem::path>& explicit_path);

}  // namespace interphase::engine
