// The durable store: states survive reopening, interrupted tasks are reset, done ones stay done
// across a resume, results are found by hash and checked against their checksum, every real
// execution is logged (so "no finished task ran twice" can be checked), a read-only opening
// writes nothing, and an error that made SQLite drop a batch is the error reported.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <string>

#include "engine/sqlite.hpp"
#include "engine/store.hpp"
#include "test_paths.hpp"

using namespace interphase::engine;
namespace fs = std::filesystem;

namespace {
TaskGraph two_tasks() {
    TaskGraph g;
    g.add({"bulk/Al", "build_bulk", {{"phase", "Al"}}, {}});
    g.add({"Al(111)/slab", "build_slab", {}, {{"bulk", "bulk/Al"}}});
    return g;
}
}  // namespace

TEST_CASE("task states and results persist across reopening the store") {
    const auto dir = interphase::testing::scratch("store");
    {
        RunStore store(dir);
        CHECK(store.sync(two_tasks()) == 0);
        store.set_meta("workflow_name", "demo");
        store.mark_running("bulk/Al", "h1");
        store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0.5, false);
        store.mark_running("Al(111)/slab", "h2");  // then the process "dies"
    }
    RunStore store(dir);
    CHECK(store.meta("workflow_name") == "demo");
    CHECK(store.task("bulk/Al")->state == state::kDone);
    CHECK(store.task("Al(111)/slab")->state == state::kRunning);
    CHECK(store.output_of("bulk/Al")->at("x") == 1);
    CHECK(store.cached_output("h1")->at("x") == 1);
    CHECK_FALSE(store.cached_output("h2").has_value());
    // Resync after the crash: the interrupted task is pending again, its execution is closed;
    // the done one stays done.
    CHECK(store.sync(two_tasks()) == 1);
    CHECK(store.task("Al(111)/slab")->state == state::kPending);
    CHECK(store.task("bulk/Al")->state == state::kDone);
    CHECK(store.executions("bulk/Al") == 1);
    CHECK(store.executions("Al(111)/slab") == 1);
    // A reuse is not an execution.
    store.mark_done("Al(111)/slab", "h1", {{"x", 1}}, 0, true);
    CHECK(store.executions("Al(111)/slab") == 1);
    CHECK(store.task("Al(111)/slab")->reused);
    CHECK(store.task("Al(111)/slab")->reused_from == "this run");
}

TEST_CASE("a resume keeps done tasks done, with the provenance of when they really ran") {
    const auto dir = interphase::testing::scratch("store-resume");
    RunStore store(dir);
    store.sync(two_tasks());
    store.mark_running("bulk/Al", "h1");
    store.mark_done("bulk/Al", "h1", {{"x", 1}}, 2.5, false);
    store.mark_running("Al(111)/slab", "h2");
    store.mark_done("Al(111)/slab", "h2", {{"y", 2}}, 0, true, "cache /c.sqlite: /old task s");
    const auto before = store.tasks();

    // What a resume does first; a resume killed right after it must still show every result.
    store.sync(two_tasks());
    {
        RunStore reader(dir, RunStore::Access::ReadOnly);
        for (const auto& t : reader.tasks()) {
            CAPTURE(t.name);
            CHECK(t.state == state::kDone);
            CHECK(reader.output_of(t.name).has_value());
        }
    }
    // The runner reaches them with unchanged hashes and reuses them: nothing about them changes.
    store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0, true);
    store.mark_done("Al(111)/slab", "h2", {{"y", 2}}, 0, true);
    const auto after = store.tasks();
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        CAPTURE(after[i].name);
        CHECK(after[i].reused == before[i].reused);
        CHECK(after[i].reused_from == before[i].reused_from);
        CHECK(after[i].wall_seconds == before[i].wall_seconds);
        CHECK(after[i].finished == before[i].finished);
    }
    CHECK_FALSE(after[0].reused);
    CHECK(after[0].wall_seconds == 2.5);
    CHECK(store.executions("bulk/Al") == 1);
    // A task whose hash changed runs again and records the new run.
    store.mark_running("bulk/Al", "h3");
    store.mark_done("bulk/Al", "h3", {{"x", 3}}, 1.0, false);
    CHECK(store.task("bulk/Al")->hash == "h3");
    CHECK(store.executions("bulk/Al") == 2);
}

namespace {
// Changes a stored output behind the store's back, as someone with sqlite3 would.
void edit_output(const fs::path& dir, const std::string& hash, const std::string& text, bool keep_checksum = true) {
    sqlite::Database db(RunStore::database_path(dir));
    sqlite::Statement u(db, keep_checksum ? "UPDATE results SET output = ?1 WHERE hash = ?2"
                                          : "UPDATE results SET output = ?1, checksum = '' WHERE hash = ?2");
    u.bind(1, text);
    u.bind(2, hash);
    u.step();
    REQUIRE(db.changes() == 1);
}
}  // namespace

TEST_CASE("a stored output changed after it was stored is refused with the task and the store named") {
    const auto dir = interphase::testing::scratch("store-checksum");
    {
        RunStore store(dir);
        store.sync(two_tasks());
        store.mark_running("bulk/Al", "h1");
        store.mark_done("bulk/Al", "h1", {{"energy_eV", -3.5}}, 0.5, false);
        store.mark_running("Al(111)/slab", "h2");
        store.mark_done("Al(111)/slab", "h2", {{"energy_eV", -7.25}}, 0.5, false);
        CHECK(store.verify().problems.empty());
    }
    edit_output(dir, "h1", R"({"energy_eV":-3.6})");  // valid JSON, one number changed
    edit_output(dir, "h2", "{not json", false);  // as in a store from before checksums
    RunStore store(dir, RunStore::Access::ReadOnly);
    CHECK_THROWS_AS(store.output_of("bulk/Al"), DamagedOutputError);
    CHECK_THROWS_WITH_AS(store.cached_output("h1"), doctest::Contains("'bulk/Al'"), DamagedOutputError);
    CHECK_THROWS_WITH_AS(store.output_of("bulk/Al"), doctest::Contains(RunStore::database_path(dir).string().c_str()),
                         DamagedOutputError);
    CHECK_THROWS_WITH_AS(store.output_of("Al(111)/slab"), doctest::Contains("not valid JSON"), interphase::StorageError);
    const auto report = store.verify();
    REQUIRE(report.problems.size() >= 2);
    std::string all;
    for (const auto& p : report.problems) all += p + "\n";
    CHECK(all.find("'bulk/Al'") != std::string::npos);
    CHECK(all.find("checksum") != std::string::npos);
    CHECK(all.find("'Al(111)/slab'") != std::string::npos);
    CHECK(report.tasks == 2);
    CHECK(report.outputs == 2);
}

TEST_CASE("a store of schema 2 (no checksums) is read as it is and upgraded by a writer") {
    const auto dir = interphase::testing::scratch("store-v2");
    {
        sqlite::Database db(RunStore::database_path(dir));
        db.exec(R"sql(
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE tasks(
                name TEXT PRIMARY KEY, kind TEXT NOT NULL, position INTEGER NOT NULL,
                state TEXT NOT NULL, hash TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
                reused INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0,
                wall REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', reused_from TEXT NOT NULL DEFAULT '');
            CREATE TABLE results(
                hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL);
            CREATE TABLE executions(
                id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, hash TEXT NOT NULL,
                started REAL NOT NULL, finished REAL, outcome TEXT);
            INSERT INTO meta VALUES('schema_version', '2');
            INSERT INTO tasks(name, kind, position, state, hash) VALUES('bulk/Al', 'build_bulk', 0, 'done', 'h1');
            INSERT INTO results VALUES('h1', 'build_bulk', '{"x":1}', 'bulk/Al', 0);
        )sql");
    }
    {
        RunStore reader(dir, RunStore::Access::ReadOnly);
        CHECK(reader.output_of("bulk/Al")->at("x") == 1);  // trusted: the run's own, from before checksums
        const auto report = reader.verify();
        CHECK(report.problems.empty());
        REQUIRE(report.notes.size() == 1);
        CHECK(report.notes[0].find("no checksum") != std::string::npos);
        CHECK(reader.meta("schema_version") == "2");  // read-only: not upgraded
    }
    RunStore store(dir);
    CHECK(store.meta("schema_version") == "3");
    CHECK(store.output_of("bulk/Al")->at("x") == 1);
}

TEST_CASE("a read-only store writes nothing: no upgrade, no -wal/-shm when it cannot create them") {
    const auto dir = interphase::testing::scratch("store-ro");
    {
        RunStore store(dir);
        store.sync(two_tasks());
        store.mark_running("bulk/Al", "h1");
        store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0.5, false);
    }
    REQUIRE_FALSE(fs::exists(dir / "state.sqlite-wal"));  // the last writer checkpointed and removed it
    RunStore reader(dir, RunStore::Access::ReadOnly);
    CHECK(reader.output_of("bulk/Al")->at("x") == 1);
    CHECK_THROWS_AS(reader.set_meta("k", "v"), interphase::StorageError);
    CHECK_THROWS_AS(RunStore(dir / "nothing-here", RunStore::Access::ReadOnly), interphase::StorageError);
    CHECK_FALSE(fs::exists(dir / "nothing-here"));
}

TEST_CASE("a batch SQLite rolled back after running out of memory reports out of memory, not a lost savepoint") {
    const auto dir = interphase::testing::scratch("store-nomem");
    RunStore store(dir);
    store.sync(two_tasks());
    store.begin_batch();
    store.mark_running("Al(111)/slab", "h0");
    // An 8 MB value: binding copies it once (allowed), building the row needs a second copy,
    // which the hard heap limit refuses: SQLITE_NOMEM in a one-row write, after which SQLite
    // rolls the whole batch back by itself.
    const std::string big(8 << 20, 'x');
    const auto old_limit = sqlite3_hard_heap_limit64(-1);
    sqlite3_hard_heap_limit64(sqlite3_memory_used() + (12 << 20));
    std::string first;
    try {
        store.mark_running("bulk/Al", big);
    } catch (const interphase::StorageError& e) {
        first = e.what();
    }
    sqlite3_hard_heap_limit64(old_limit);
    MESSAGE("first error: " << first);
    REQUIRE(first.find("out of memory") != std::string::npos);
    // What the runner does next: record the failure. The batch is gone; the error says why.
    std::string second;
    try {
        store.mark_failed("bulk/Al", first);
    } catch (const interphase::StorageError& e) {
        second = e.what();
    }
    MESSAGE("second error: " << second);
    CHECK(second.find("out of memory") != std::string::npos);
    CHECK_THROWS_WITH_AS(store.commit_batch(), doctest::Contains("out of memory"), interphase::StorageError);
}

TEST_CASE("failures and blocked dependents are recorded with their reason") {
    const auto dir = interphase::testing::scratch("store-fail");
    RunStore store(dir);
    store.sync(two_tasks());
    store.mark_running("bulk/Al", "h1");
    store.mark_failed("bulk/Al", "SCF not converged");
    store.mark_blocked("Al(111)/slab", "input 'bulk/Al' failed");
    const auto tasks = store.tasks();
    REQUIRE(tasks.size() == 2);
    CHECK(tasks[0].name == "bulk/Al");  // graph order
    CHECK(tasks[0].state == state::kFailed);
    CHECK(tasks[0].error == "SCF not converged");
    CHECK(tasks[0].attempts == 1);
    CHECK(tasks[1].state == state::kBlocked);
    CHECK_FALSE(store.output_of("bulk/Al").has_value());
}

TEST_CASE("a batch commits its state changes together; until then another reader sees none") {
    const auto dir = interphase::testing::scratch("store-batch");
    RunStore store(dir);
    store.sync(two_tasks());
    store.begin_batch();
    CHECK(store.in_batch());
    store.mark_running("bulk/Al", "h1");
    store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0.5, false);
    store.add_tasks({{"Al(111)/sites", "find_sites", {}, {{"slab", "Al(111)/slab"}}}});
    {
        RunStore reader(dir);  // another connection, as after a crash: the batch is invisible
        CHECK(reader.task("bulk/Al")->state == state::kPending);
        CHECK(reader.executions("bulk/Al") == 0);
        CHECK_FALSE(reader.task("Al(111)/sites").has_value());
    }
    store.commit_batch();
    CHECK_FALSE(store.in_batch());
    RunStore reader(dir);
    CHECK(reader.task("bulk/Al")->state == state::kDone);
    CHECK(reader.completed_executions("bulk/Al") == 1);
    CHECK(reader.task("Al(111)/sites").has_value());
}
