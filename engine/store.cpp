#include "engine/store.hpp"

#include <chrono>
#include <optional>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "engine/sqlite.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

namespace {
constexpr int kSchemaVersion = 2;  // 2: tasks.reused_from

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

fs::path RunStore::database_path(const fs::path& run_dir) { return run_dir / "state.sqlite"; }
bool RunStore::exists(const fs::path& run_dir) { return fs::exists(database_path(run_dir)); }

RunStore::RunStore(const fs::path& run_dir) {
    fs::create_directories(run_dir);
    db_ = std::make_unique<sqlite::Database>(database_path(run_dir));
    db_->exec(R"sql(
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tasks(
            name TEXT PRIMARY KEY, kind TEXT NOT NULL, position INTEGER NOT NULL,
            state TEXT NOT NULL, hash TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
            reused INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0,
            wall REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', reused_from TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS results(
            hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL);
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
    if (!v) set_meta("schema_version", std::to_string(kSchemaVersion));
    else if (*v != std::to_string(kSchemaVersion))
        throw StorageError(fmt::format("{}: store schema version {} is not supported (expected {})",
                                       database_path(run_dir).string(), *v, kSchemaVersion));
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
    // Failed and blocked tasks are tried again on a new run; done ones are re-checked by hash.
    db_->exec("UPDATE tasks SET state = 'pending', error = '' WHERE state IN ('failed', 'blocked', 'done')");
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

std::optional<nlohmann::json> RunStore::cached_output(const std::string& hash) const {
    auto q = db_->cached("SELECT output FROM results WHERE hash = ?1");
    q->bind(1, hash);
    if (!q->step()) return std::nullopt;
    return nlohmann::json::parse(q->column_text(0));
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
        auto r = db_->cached("INSERT OR REPLACE INTO results(hash, kind, output, task, created) "
                            "SELECT ?1, kind, ?2, name, ?3 FROM tasks WHERE name = ?4");
        r->bind(1, hash);
        r->bind(2, output.dump());
        r->bind(3, now);
        r->bind(4, task);
        r->step();
        if (!reused) close_execution(*db_, task, "done", now);
    }
    auto u = db_->cached("UPDATE tasks SET state = 'done', hash = ?2, reused = ?3, finished = ?4, wall = ?5, error = '', "
                        "reused_from = ?6 WHERE name = ?1");
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
    auto q = db_->cached(fmt::format("SELECT {} FROM tasks ORDER BY position", kRecordColumns));
    std::vector<TaskRecord> out;
    while (q->step()) out.push_back(read_record(*q));
    return out;
}

std::optional<TaskRecord> RunStore::task(const std::string& name) const {
    auto q = db_->cached(fmt::format("SELECT {} FROM tasks WHERE name = ?1", kRecordColumns));
    q->bind(1, name);
    if (!q->step()) return std::nullopt;
    return read_record(*q);
}

std::optional<nlohmann::json> RunStore::output_of(const std::string& task) const {
    auto q = db_->cached("SELECT r.output FROM tasks t JOIN results r ON r.hash = t.hash WHERE t.name = ?1 AND t.state = 'done'");
    q->bind(1, task);
    if (!q->step()) return std::nullopt;
    return nlohmann::json::parse(q->column_text(0));
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

}  // namespace interphase::engine
