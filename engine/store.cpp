#include "engine/store.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "engine/hash.hpp"
#include "engine/sqlite.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

namespace {
constexpr int kSchemaVersion = 3;  // 2: tasks.reused_from; 3: results.checksum

double now_unix() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TaskRecord read_record(const sqlite::Statement& q) {
    TaskRecord r;
    r.name = q.column_text(0);
    r.kind = q.column_text(1);
    r.state = q.column_text(2);
    r.hash = q.column_text(3);
    r.attempts = static_cast<int>(q.column_int64(4));
    r.reused = q.column_int64(5) != 0;
    r.started = q.column_double(6);
    r.finished = q.column_double(7);
    r.wall_seconds = q.column_double(8);
    r.error = q.column_text(9);
    r.reused_from = q.column_text(10);
    return r;
}
// Ends the task's open execution (the one mark_running began) with its outcome.
void close_execution(sqlite::Database& db, const std::string& task, const char* outcome, double when) {
    auto e = db.cached("UPDATE executions SET finished = ?2, outcome = ?3 WHERE task = ?1 AND finished IS NULL");
    e->bind(1, task);
    e->bind(2, when);
    e->bind(3, outcome);
    e->step();
}

// One state change, all or nothing: its own transaction, or a savepoint inside the open batch
// (RunStore::begin_batch), so that a change failing halfway is undone alone either way.
class Change {
public:
    Change(sqlite::Database& db, bool batched) {
        if (batched) savepoint_.emplace(db);
        else transaction_.emplace(db);
    }
    void commit() {
        if (savepoint_) savepoint_->release();
        else transaction_->commit();
    }

private:
    std::optional<sqlite::Transaction> transaction_;
    std::optional<sqlite::Savepoint> savepoint_;
};

constexpr const char* kRecordColumns =
    "name, kind, state, hash, attempts, reused, started, finished, wall, error, reused_from";

}  // namespace

std::string output_checksum(const std::string& text) { return sha256_hex(text); }

StoredOutput check_stored_output(const std::string& text, const std::string& checksum) {
    if (!checksum.empty() && checksum != output_checksum(text)) return StoredOutput::ChecksumMismatch;
    if (!nlohmann::json::accept(text)) return StoredOutput::NotJson;
    return checksum.empty() ? StoredOutput::NoChecksum : StoredOutput::Sound;
}

const char* describe(StoredOutput s) {
    switch (s) {
        case StoredOutput::Sound: return "is sound";
        case StoredOutput::NoChecksum: return "has no checksum (stored before Interphase kept checksums)";
        case StoredOutput::ChecksumMismatch: return "does not match its checksum: it was changed after it was stored";
        case StoredOutput::NotJson: return "is not valid JSON";
    }
    return "?";
}

fs::path RunStore::database_path(const fs::path& run_dir) { return run_dir / "state.sqlite"; }
bool RunStore::exists(const fs::path& run_dir) { return fs::exists(database_path(run_dir)); }

RunStore::RunStore(const fs::path& run_dir, Access access)
    : file_(fs::absolute(database_path(run_dir)).lexically_normal()), record_columns_(kRecordColumns), checksum_column_("checksum") {
    if (access == Access::ReadOnly) {
        if (!fs::exists(file_)) throw StorageError(fmt::format("{}: no such run store", file_.string()));
        db_ = std::make_unique<sqlite::Database>(file_, sqlite::OpenOptions{sqlite::Access::ReadOnly});
        // Read an older schema as it is: the columns it lacks read as empty.
        if (!db_->has_column("tasks", "reused_from"))
            record_columns_ = "name, kind, state, hash, attempts, reused, started, finished, wall, error, '' AS reused_from";
        if (!db_->has_column("results", "checksum")) checksum_column_ = "''";
        const auto v = meta("schema_version");
        if (v && (*v != "1" && *v != "2" && *v != std::to_string(kSchemaVersion)))
            throw StorageError(fmt::format("{}: store schema version {} is not supported (expected {} or older)",
                                           file_.string(), *v, kSchemaVersion));
        return;
    }
    fs::create_directories(run_dir);
    db_ = std::make_unique<sqlite::Database>(file_);
    db_->exec(R"sql(
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tasks(
            name TEXT PRIMARY KEY, kind TEXT NOT NULL, position INTEGER NOT NULL,
            state TEXT NOT NULL, hash TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
            reused INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0,
            wall REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', reused_from TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS results(
            hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL,
            checksum TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS executions(
            id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, hash TEXT NOT NULL,
            started REAL NOT NULL, finished REAL, outcome TEXT);
        -- Every state change looks up the task's executions: without it, a scan of all of them.
        CREATE INDEX IF NOT EXISTS executions_by_task ON executions(task);
    )sql");
    auto v = meta("schema_version");
    if (v && *v == "1") {
        // Version 1 had no provenance of reused results: add the column, keep every task.
        db_->exec("ALTER TABLE tasks ADD COLUMN reused_from TEXT NOT NULL DEFAULT ''");
        set_meta("schema_version", "2");
        v = "2";
    }
    if (v && *v == "2") {
        // Version 2 stored outputs without a checksum: they keep an empty one (trusted as this
        // run's own, reported as unverifiable by `interphase verify`); new ones get theirs.
        db_->exec("ALTER TABLE results ADD COLUMN checksum TEXT NOT NULL DEFAULT ''");
        set_meta("schema_version", "3");
        v = "3";
    }
    if (!v) set_meta("schema_version", std::to_string(kSchemaVersion));
    else if (*v != std::to_string(kSchemaVersion))
        throw StorageError(fmt::format("{}: store schema version {} is not supported (expected {})",
                                       file_.string(), *v, kSchemaVersion));
}

RunStore::~RunStore() {
    // An open batch holds finished tasks, each change complete (savepoints): keep them.
    if (batch_) {
        try {
            commit_batch();
        } catch (...) {
        }
    }
}

void RunStore::begin_batch() {
    if (!batch_) batch_ = std::make_unique<sqlite::Transaction>(*db_);
}

void RunStore::commit_batch() {
    if (!batch_) return;
    auto batch = std::move(batch_);  // even if COMMIT fails, later changes go in their own transactions
    batch->commit();
}

void RunStore::set_meta(const std::string& key, const std::string& value) {
    auto q = db_->cached("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    q->bind(1, key);
    q->bind(2, value);
    q->step();
}

std::optional<std::string> RunStore::meta(const std::string& key) const {
    auto q = db_->cached("SELECT value FROM meta WHERE key = ?1");
    q->bind(1, key);
    if (!q->step()) return std::nullopt;
    return q->column_text(0);
}

int RunStore::sync(const TaskGraph& graph) {
    Change tx(*db_, batch_ != nullptr);
    int position = 0;
    auto ins = db_->cached("INSERT INTO tasks(name, kind, position, state) VALUES(?1, ?2, ?3, 'pending') "
                          "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, position = excluded.position");
    for (const auto& t : graph.tasks()) {
        ins->reset();
        ins->bind(1, t.name);
        ins->bind(2, t.kind);
        ins->bind(3, position++);
        ins->step();
    }
    // A task the previous engine left running was interrupted: its execution never finished.
    db_->exec("UPDATE executions SET finished = 0, outcome = 'interrupted' WHERE finished IS NULL");
    db_->exec("UPDATE tasks SET state = 'pending' WHERE state = 'running'");
    const int reset = db_->changes();
    // Failed and blocked tasks are tried again on a new run. Done ones stay done until the
    // runner re-checks them by hash: a resume killed before then still shows every result.
    db_->exec("UPDATE tasks SET state = 'pending', error = '' WHERE state IN ('failed', 'blocked')");
    tx.commit();
    return reset;
}

void RunStore::add_tasks(const std::vector<Task>& tasks) {
    Change tx(*db_, batch_ != nullptr);
    auto ins = db_->cached("INSERT INTO tasks(name, kind, position, state) "
                          "VALUES(?1, ?2, (SELECT COALESCE(MAX(position), -1) + 1 FROM tasks), 'pending') "
                          "ON CONFLICT(name) DO NOTHING");
    for (const auto& t : tasks) {
        ins->reset();
        ins->bind(1, t.name);
        ins->bind(2, t.kind);
        ins->step();
    }
    tx.commit();
}

nlohmann::json RunStore::parse_output(const std::string& text, const std::string& checksum, const std::string& task,
                                      const std::string& hash) const {
    if (check_stored_output(text, checksum) == StoredOutput::ChecksumMismatch)
        throw DamagedOutputError(fmt::format("{}: the stored output of task '{}' (hash {}) {}; `interphase verify {}` checks "
                                             "every entry",
                                             file_.string(), task, hash, describe(StoredOutput::ChecksumMismatch),
                                             file_.parent_path().string()));
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw DamagedOutputError(fmt::format("{}: the stored output of task '{}' (hash {}) is not valid JSON ({}); "
                                       "`interphase verify {}` checks every entry",
                                       file_.string(), task, hash, e.what(), file_.parent_path().string()));
    }
}

std::optional<nlohmann::json> RunStore::cached_output(const std::string& hash) const {
    auto q = db_->cached(fmt::format("SELECT output, {}, task FROM results WHERE hash = ?1", checksum_column_));
    q->bind(1, hash);
    if (!q->step()) return std::nullopt;
    return parse_output(q->column_text(0), q->column_text(1), q->column_text(2), hash);
}

void RunStore::mark_running(const std::string& task, const std::string& hash) {
    Change tx(*db_, batch_ != nullptr);
    auto u = db_->cached("UPDATE tasks SET state = 'running', hash = ?2, attempts = attempts + 1, started = ?3, error = '' "
                        "WHERE name = ?1");
    u->bind(1, task);
    u->bind(2, hash);
    u->bind(3, now_unix());
    u->step();
    auto e = db_->cached("INSERT INTO executions(task, hash, started) VALUES(?1, ?2, ?3)");
    e->bind(1, task);
    e->bind(2, hash);
    e->bind(3, now_unix());
    e->step();
    tx.commit();
}

void RunStore::mark_done(const std::string& task, const std::string& hash, const nlohmann::json& output,
                         double wall_seconds, bool reused, const std::string& reused_from) {
    Change tx(*db_, batch_ != nullptr);
    const double now = now_unix();
    if (!reused || reused_from.rfind("cache", 0) == 0) {
        const std::string text = output.dump();
        auto r = db_->cached("INSERT OR REPLACE INTO results(hash, kind, output, task, created, checksum) "
                            "SELECT ?1, kind, ?2, name, ?3, ?5 FROM tasks WHERE name = ?4");
        r->bind(1, hash);
        r->bind(2, text);
        r->bind(3, now);
        r->bind(4, task);
        r->bind(5, output_checksum(text));
        r->step();
        if (!reused) close_execution(*db_, task, "done", now);
    }
    // A reuse of what the task itself already computed (a resume reaching a done task with an
    // unchanged hash) keeps the record of when it really ran.
    auto u = db_->cached("UPDATE tasks SET state = 'done', hash = ?2, reused = ?3, finished = ?4, wall = ?5, error = '', "
                        "reused_from = ?6 WHERE name = ?1 AND NOT (?3 = 1 AND state = 'done' AND hash = ?2)");
    u->bind(1, task);
    u->bind(2, hash);
    u->bind(3, reused ? 1 : 0);
    u->bind(4, now);
    u->bind(5, wall_seconds);
    u->bind(6, reused ? (reused_from.empty() ? std::string("this run") : reused_from) : std::string());
    u->step();
    tx.commit();
}

void RunStore::mark_failed(const std::string& task, const std::string& error) {
    Change tx(*db_, batch_ != nullptr);
    const double now = now_unix();
    auto u = db_->cached("UPDATE tasks SET state = 'failed', error = ?2, finished = ?3 WHERE name = ?1");
    u->bind(1, task);
    u->bind(2, error);
    u->bind(3, now);
    u->step();
    close_execution(*db_, task, "failed", now);
    tx.commit();
}

void RunStore::mark_retry(const std::string& task, const std::string& note) {
    Change tx(*db_, batch_ != nullptr);
    const double now = now_unix();
    auto u = db_->cached("UPDATE tasks SET state = 'pending', error = ?2 WHERE name = ?1");
    u->bind(1, task);
    u->bind(2, note);
    u->step();
    close_execution(*db_, task, "retried", now);
    tx.commit();
}

void RunStore::mark_blocked(const std::string& task, const std::string& reason) {
    auto u = db_->cached("UPDATE tasks SET state = 'blocked', error = ?2 WHERE name = ?1");
    u->bind(1, task);
    u->bind(2, reason);
    u->step();
}

std::vector<TaskRecord> RunStore::tasks() const {
    auto q = db_->cached(fmt::format("SELECT {} FROM tasks ORDER BY position", record_columns_));
    std::vector<TaskRecord> out;
    while (q->step()) out.push_back(read_record(*q));
    return out;
}

std::optional<TaskRecord> RunStore::task(const std::string& name) const {
    auto q = db_->cached(fmt::format("SELECT {} FROM tasks WHERE name = ?1", record_columns_));
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return read_record(*q);
}

std::optional<nlohmann::json> RunStore::output_of(const std::string& task) const {
    auto q = db_->cached(fmt::format("SELECT r.output, {}, r.hash FROM tasks t JOIN results r ON r.hash = t.hash "
                                     "WHERE t.name = ?1 AND t.state = 'done'",
                                     checksum_column_ == "checksum" ? "r.checksum" : "''"));
    q->bind(1, task);
    if (!q->step()) return std::nullopt;
    return parse_output(q->column_text(0), q->column_text(1), task, q->column_text(2));
}

int RunStore::executions(const std::string& task) const {
    auto q = db_->cached("SELECT COUNT(*) FROM executions WHERE task = ?1");
    q->bind(1, task);
    q->step();
    return static_cast<int>(q->column_int64(0));
}

int RunStore::completed_executions(const std::string& task) const {
    auto q = db_->cached("SELECT COUNT(*) FROM executions WHERE task = ?1 AND outcome = 'done'");
    q->bind(1, task);
    q->step();
    return static_cast<int>(q->column_int64(0));
}

IntegrityReport RunStore::verify() const {
    IntegrityReport report;
    const std::string file = file_.string();
    try {
        for (const auto& line : db_->integrity_problems())
            report.problems.push_back(fmt::format("{}: integrity check: {}", file, line));
        // Which done tasks each stored output serves (several tasks may share one hash).
        std::map<std::string, std::vector<std::string>> users;
        std::vector<TaskRecord> done;
        for (const auto& t : tasks()) {
            ++report.tasks;
            if (t.state != state::kDone) continue;
            users[t.hash].push_back(t.name);
            done.push_back(t);
        }
        std::set<std::string> stored;
        std::size_t unchecked = 0;
        sqlite::Statement q(*db_, fmt::format("SELECT hash, task, output, {} FROM results ORDER BY task", checksum_column_));
        while (q.step()) {
            ++report.outputs;
            const std::string hash = q.column_text(0), text = q.column_text(2), checksum = q.column_text(3);
            stored.insert(hash);
            const auto it = users.find(hash);
            const std::string who = it == users.end() ? fmt::format("task '{}'", q.column_text(1))
                                                      : fmt::format("task '{}'", fmt::join(it->second, "', '"));
            const auto found = check_stored_output(text, checksum);
            if (found == StoredOutput::NoChecksum) ++unchecked;
            else if (found != StoredOutput::Sound)
                report.problems.push_back(fmt::format("{}: {}: the stored output (hash {}) {}", file, who, hash, describe(found)));
        }
        for (const auto& t : done) {
            if (t.hash.empty()) report.problems.push_back(fmt::format("{}: task '{}' is done but has no hash", file, t.name));
            else if (!stored.count(t.hash))
                report.problems.push_back(
                    fmt::format("{}: task '{}' is done but its stored output (hash {}) is missing", file, t.name, t.hash));
        }
        if (unchecked > 0)
            report.notes.push_back(fmt::format("{}: {} stored output(s) have no checksum (stored before Interphase kept "
                                               "checksums): only checked to be JSON",
                                               file, unchecked));
    } catch (const StorageError& e) {
        report.problems.push_back(e.what());  // a damaged file: what could be read was checked
    }
    return report;
}

}  // namespace interphase::engine
