// A result cache shared across runs: one SQLite file (WAL, safe for several engines at once)
// mapping a task's content hash to its output and to where it was first computed. A run given a
// cache (`cache:` in the workflow, `--cache PATH` or INTERPHASE_CACHE) looks a task's hash up
// there after its own store and reuses the output — a relaxation done last month by another
// screening is not paid for again — and records the origin in the task's provenance. Finished
// tasks are added as they finish. The hash covers the structure, code, settings, protocol and
// plugin version (engine/hash.hpp), so only truly identical calculations are shared.
//
// The cache is an accelerator, never a dependency: nothing that happens to it fails a task.
// A cache locked by another process for longer than a short timeout is left alone for a while
// (lookups are misses, results wait in memory to be shared); a damaged file is reported once and
// bypassed for the rest of the run. Every entry carries the SHA-256 of its output text, checked
// on each reuse: an entry that fails it (or has none, written by an older Interphase) is a miss
// with a warning and is replaced by the fresh result. A checksum catches accidental damage and
// naive edits, not someone who recomputes it: the cache is as trustworthy as the people who can
// write it (docs/engine-storage.md). Every reuse is copied into the run's own store, which is
// what results.h5 is written from.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/store.hpp"

namespace interphase::engine {

namespace sqlite { class Database; class SqliteError; }

struct CachedResult {
    nlohmann::json output;
    std::string origin;  ///< "RUN_DIR task NAME", where it was computed
};

struct CacheOptions {
    /// How long one lookup or put waits for another process's lock before giving up.
    std::chrono::milliseconds busy_timeout{3000};
    /// After a busy episode, how long the cache is left alone before it is tried again.
    std::chrono::milliseconds retry_after{30000};
};

class ResultCache {
public:
    using Options = CacheOptions;
    /// Where notices go (one line each, e.g. the run log); may be empty.
    using Notify = std::function<void(const std::string&)>;

    /// Never throws for the cache's sake: a file that cannot be created or opened is reported
    /// through `notify` and the cache stays off for this object's life.
    explicit ResultCache(const std::filesystem::path& file, Notify notify = {}, Options options = {});
    /// Tries once more to share the results still waiting (silently: the run has ended).
    ~ResultCache();
    ResultCache(const ResultCache&) = delete;
    ResultCache& operator=(const ResultCache&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    /// The verified entry for `hash`; nullopt for a miss, and also when the cache is busy,
    /// unusable, or the entry fails its checksum (each said through `notify`).
    std::optional<CachedResult> lookup(const std::string& hash);
    /// Adds a result; an existing verified entry for the hash is kept (first computed wins), an
    /// entry that failed its checksum is replaced. Never throws: when the cache is busy the
    /// result waits to be shared on a later call; when it is unusable the result stays in the
    /// run's own store only.
    void put(const std::string& hash, const std::string& kind, const nlohmann::json& output,
             const std::string& run_dir, const std::string& task);
    /// Shares the results that waited for a busy cache; returns how many still wait.
    std::size_t flush();
    /// False once the file was found damaged or could not be opened.
    bool usable() const noexcept { return !unusable_; }
    /// Entries in the file; throws StorageError (for tests and tools, not for runs).
    std::size_t size();

    /// `interphase verify --cache`: opens `file` read-only and checks the database and every
    /// entry's checksum. A missing file is a note, a damaged one a problem.
    static IntegrityReport verify(const std::filesystem::path& file);

private:
    struct Pending {
        std::string hash, kind, text, run_dir, task;
    };
    bool ready();  ///< opened and not in a busy pause; opens on first use
    void open();
    /// Classifies a failure: busy starts a pause, damage turns the cache off; false otherwise.
    bool absorb(const sqlite::SqliteError& e);
    void start_pause();
    void end_pause(std::size_t shared);  ///< says so if a pause was on
    void turn_off(const std::string& reason);
    void say(const std::string& line) const;
    void insert(const Pending& p);

    std::filesystem::path path_;
    Notify notify_;
    Options options_;
    std::unique_ptr<sqlite::Database> db_;
    bool unusable_ = false;
    bool sharing_off_ = false;  ///< puts failed for a lasting reason (read-only file, disk full)
    std::chrono::steady_clock::time_point paused_until_{};
    std::size_t skipped_lookups_ = 0;     ///< lookups not made during the current pause
    std::vector<Pending> pending_;        ///< results waiting for a busy cache
    std::set<std::string> untrusted_;     ///< hashes whose entry failed its checksum: replace them
    bool told_unchecked_ = false;
};

/// The cache a run uses: `explicit_path` if given, else $INTERPHASE_CACHE if set and not "off",
/// else none.
std::optional<std::filesystem::path> resolve_cache_path(const std::optional<std::filesystem::path>& explicit_path);

}  // namespace interphase::engine
