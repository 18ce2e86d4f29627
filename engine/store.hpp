// The durable state of a run: one SQLite database (WAL) per run folder, RUN_DIR/state.sqlite.
//
// `tasks` holds each task's state, hash, attempts, timings and error; `results` maps a content
// hash to the task output (JSON), which is what makes a second run — or a resumed one — reuse
// finished work; `executions` logs every time a task really ran (never for a reuse), so tests
// can prove that no finished task was executed twice; `meta` keeps the workflow and provenance.
// Every state change is all or nothing: its own transaction, or a part (savepoint) of a batch
// that groups the changes of in-process tasks finished close together into one commit
// (begin_batch). A crash loses at most the open batch as a whole — those tasks are pending
// again and run again — never a committed one, and never leaves a change half done.
// Each stored output carries the SHA-256 of its text (results.checksum): an output changed
// after it was stored is refused with an error naming the task, never used. A store can be
// opened read-only (status, results, graph, verify), which writes nothing at all.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "engine/graph.hpp"

namespace interphase::engine {

namespace sqlite { class Database; class Transaction; }

/// States a task goes through: pending -> running -> done | failed; blocked when an input failed.
namespace state {
inline constexpr const char* kPending = "pending";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kDone = "done";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kBlocked = "blocked";
}  // namespace state

struct TaskRecord {
    std::string name;
    std::string kind;
    std::string state;
    std::string hash;
    int attempts = 0;
    bool reused = false;      ///< result taken from an earlier identical task
    std::string reused_from;  ///< where a reused result was computed: "this run" or "cache FILE: RUN_DIR task NAME"
    double started = 0;       ///< Unix time
    double finished = 0;
    double wall_seconds = 0;
    std::string error;
};

/// A stored output that is not what was stored: not JSON, or no longer matching its checksum.
/// The message names the store file, the task and the hash.
class DamagedOutputError : public StorageError {
public:
    using StorageError::StorageError;
};

/// Stored outputs (run store and shared cache) are JSON text kept with the SHA-256 of that text.
/// What reading one back finds; an empty checksum is an entry written before checksums existed
/// (the run store trusts it, the shared cache does not).
enum class StoredOutput { Sound, NoChecksum, ChecksumMismatch, NotJson };
std::string output_checksum(const std::string& text);
StoredOutput check_stored_output(const std::string& text, const std::string& checksum);
/// "does not match its checksum: it was changed after it was stored", "is not valid JSON", ...
const char* describe(StoredOutput s);

/// What `interphase verify` found in a store or a cache: one line per problem (each names the
/// file and the task or entry), notes that are not problems, and what was looked at.
struct IntegrityReport {
    std::vector<std::string> problems;
    std::vector<std::string> notes;
    std::size_t tasks = 0;    ///< tasks looked at
    std::size_t outputs = 0;  ///< stored outputs checked
};

class RunStore {
public:
    enum class Access {
        ReadWrite,  ///< creates RUN_DIR and the store if needed, upgrades an older schema
        /// Writes nothing (read-only media, another user's run, an engine running on it): the
        /// store must exist; an older schema is read as it is.
        ReadOnly,
    };
    /// Opens RUN_DIR/state.sqlite.
    explicit RunStore(const std::filesystem::path& run_dir, Access access = Access::ReadWrite);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    static std::filesystem::path database_path(const std::filesystem::path& run_dir);
    static bool exists(const std::filesystem::path& run_dir);
    const std::filesystem::path& file() const noexcept { return file_; }

    void set_meta(const std::string& key, const std::string& value);
    std::optional<std::string> meta(const std::string& key) const;

    /// Inserts the graph's tasks that are new as pending; tasks left "running" by a killed run
    /// become pending again (they will be reconciled by their hash); failed/blocked ones are
    /// retried. Done tasks stay done — a resume killed early still shows every result — and
    /// the runner re-checks them by hash when it reaches them. Returns how many interrupted
    /// tasks were reset.
    int sync(const TaskGraph& graph);

    /// Adds tasks the graph grew at run time, as pending (existing names are left alone).
    void add_tasks(const std::vector<Task>& tasks);

    /// Groups the state changes that follow into one transaction until commit_batch(): one
    /// commit (one append to the WAL) for many tasks instead of one each. A crash before the
    /// commit loses the whole batch and nothing else: those tasks are pending on resume and
    /// run again (no execution of them was recorded as finished). No-op if a batch is open.
    /// Anything that must be durable before an outside effect (submitting a job) needs
    /// commit_batch() first. The destructor commits an open batch.
    void begin_batch();
    void commit_batch();
    bool in_batch() const noexcept { return batch_ != nullptr; }

    /// The stored output for a content hash. Throws DamagedOutputError (naming the store and
    /// the task) if the stored text is not JSON or no longer matches its checksum.
    std::optional<nlohmann::json> cached_output(const std::string& hash) const;
    void mark_running(const std::string& task, const std::string& hash);
    /// Stores the output under `hash` and marks the task done, in one transaction. A reused
    /// result names its origin; one from the shared cache is copied into this run's results.
    /// A reuse of a task that is already done with the same hash changes nothing: its record
    /// keeps the provenance of when it really ran (reused flag, wall time, origin).
    void mark_done(const std::string& task, const std::string& hash, const nlohmann::json& output,
                   double wall_seconds, bool reused, const std::string& reused_from = "");
    void mark_failed(const std::string& task, const std::string& error);
    /// A failed attempt that will be started again: back to pending, the error kept as a note,
    /// the execution closed as "retried".
    void mark_retry(const std::string& task, const std::string& note);
    void mark_blocked(const std::string& task, const std::string& reason);

    std::vector<TaskRecord> tasks() const;
    std::optional<TaskRecord> task(const std::string& name) const;
    /// Output of a done task (via its hash); throws DamagedOutputError as cached_output does.
    std::optional<nlohmann::json> output_of(const std::string& task) const;
    /// How many times the task really executed (not reused), over all runs in this folder.
    int executions(const std::string& task) const;
    /// How many of those executions finished (outcome "done"): never more than 1 for a task,
    /// whatever crashes and resumes happened.
    int completed_executions(const std::string& task) const;

    /// `interphase verify`: PRAGMA integrity_check, then every stored output against its
    /// checksum and as JSON, and every done task against its stored output.
    IntegrityReport verify() const;

private:
    nlohmann::json parse_output(const std::string& text, const std::string& checksum, const std::string& task,
                                const std::string& hash) const;
    std::filesystem::path file_;
    std::string record_columns_;  ///< the TaskRecord columns (an old read-only store lacks some)
    std::string checksum_column_; ///< "checksum", or "''" in an old store read as it is
    std::unique_ptr<sqlite::Database> db_;
    std::unique_ptr<sqlite::Transaction> batch_;  ///< the open batch, if any
};

}  // namespace interphase::engine
