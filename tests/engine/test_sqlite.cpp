// The SQLite wrappers: round trips of every type, WAL really on, transactions that roll back
// on exceptions, error messages that name the SQL, visibility across connections, statement
// reuse, and lock waits that end in a clear error.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>

#include "common/errors.hpp"
#include "engine/sqlite.hpp"
#include "test_paths.hpp"

using namespace interphase::engine::sqlite;
using namespace std::chrono_literals;

namespace {

std::int64_t count_rows(const Database& db, const std::string& table) {
    Statement count(db, "SELECT COUNT(*) FROM " + table);
    REQUIRE(count.step());
    return count.column_int64(0);
}

std::vector<std::byte> bytes(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

}  // namespace

TEST_CASE("create, insert and query every column type") {
    auto dir = interphase::testing::scratch("sqlite-basic");
    Database db(dir / "store.db");
    CHECK(std::filesystem::exists(dir / "store.db"));
    db.exec("CREATE TABLE tasks(id INTEGER PRIMARY KEY, name TEXT NOT NULL, energy REAL, hash BLOB, note TEXT)");

    Statement insert(db, "INSERT INTO tasks(name, energy, hash, note) VALUES (?1, ?2, ?3, ?4)");
    CHECK(insert.parameter_count() == 4);
    insert.bind(1, "Li_bulk");
    insert.bind(2, -1.9053);
    insert.bind(3, bytes({0x00, 0xff, 0x10, 0x00}));  // embedded zero bytes survive
    insert.bind(4, std::nullopt);
    CHECK_FALSE(insert.step());
    CHECK(db.changes() == 1);
    const std::int64_t first = db.last_insert_rowid();
    CHECK(first == 1);

    insert.reset();
    insert.bind(1, std::string("LiF|Li ΔE (Å)"));  // UTF-8
    insert.bind(2, std::optional<double>{});        // empty optional → NULL
    insert.bind(3, std::vector<std::byte>{});       // empty blob, not NULL
    insert.bind(4, std::optional<std::string>("relaxed"));
    CHECK_FALSE(insert.step());
    CHECK(db.last_insert_rowid() == 2);

    Statement query(db, "SELECT id, name, energy, hash, note FROM tasks ORDER BY id");
    CHECK(query.column_count() == 5);
    CHECK(query.column_name(2) == "energy");
    REQUIRE(query.step());
    CHECK(query.column_int64(0) == 1);
    CHECK(query.column_text(1) == "Li_bulk");
    CHECK(query.column_double(2) == -1.9053);
    CHECK(query.column_blob(3) == bytes({0x00, 0xff, 0x10, 0x00}));
    CHECK(query.column_is_null(4));
    CHECK(query.column_text(4).empty());
    REQUIRE(query.step());
    CHECK(query.column_text(1) == "LiF|Li ΔE (Å)");
    CHECK(query.column_is_null(2));
    CHECK_FALSE(query.column_is_null(3));
    CHECK(query.column_blob(3).empty());
    CHECK(query.column_text(4) == "relaxed");
    CHECK_FALSE(query.step());
    CHECK_THROWS_AS(query.column_int64(5), interphase::StorageError);

    // Extreme integers are exact; the integer template covers every integral type.
    db.exec("CREATE TABLE numbers(v INTEGER)");
    Statement put(db, "INSERT INTO numbers VALUES (?)");
    for (std::int64_t v : {std::numeric_limits<std::int64_t>::min(), std::int64_t{0},
                           std::numeric_limits<std::int64_t>::max()}) {
        put.bind(1, v);
        put.step();
        put.reset();
    }
    put.bind(1, static_cast<unsigned short>(7));
    put.step();
    Statement get(db, "SELECT v FROM numbers ORDER BY rowid");
    std::vector<std::int64_t> got;
    while (get.step()) got.push_back(get.column_int64(0));
    CHECK(got == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0,
                                           std::numeric_limits<std::int64_t>::max(), 7});
}

TEST_CASE("WAL, synchronous=NORMAL and foreign keys are really on") {
    auto dir = interphase::testing::scratch("sqlite-pragmas");
    Database db(dir / "store.db");
    Statement journal(db, "PRAGMA journal_mode");
    REQUIRE(journal.step());
    CHECK(journal.column_text(0) == "wal");
    Statement sync(db, "PRAGMA synchronous");
    REQUIRE(sync.step());
    CHECK(sync.column_int64(0) == 1);  // NORMAL
    Statement fk(db, "PRAGMA foreign_keys");
    REQUIRE(fk.step());
    CHECK(fk.column_int64(0) == 1);
    Statement busy(db, "PRAGMA busy_timeout");
    REQUIRE(busy.step());
    CHECK(busy.column_int64(0) == 10000);

    db.exec("CREATE TABLE runs(id INTEGER PRIMARY KEY); "
            "CREATE TABLE tasks(id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id))");
    CHECK(std::filesystem::exists(dir / "store.db-wal"));
    CHECK_THROWS_WITH_AS(db.exec("INSERT INTO tasks(run) VALUES (42)"),
                         doctest::Contains("FOREIGN KEY constraint failed"), interphase::StorageError);

    // An in-memory database cannot use WAL and is still accepted.
    Database memory(":memory:");
    memory.exec("CREATE TABLE t(x)");
}

TEST_CASE("a transaction rolls back when an exception leaves its scope") {
    auto dir = interphase::testing::scratch("sqlite-transaction");
    Database db(dir / "store.db");
    db.exec("CREATE TABLE t(x INTEGER)");

    try {
        Transaction tx(db);
        CHECK(db.in_transaction());
        db.exec("INSERT INTO t VALUES (1)");
        db.exec("INSERT INTO t VALUES (2)");
        CHECK(count_rows(db, "t") == 2);
        throw std::runtime_error("task failed halfway");
    } catch (const std::runtime_error&) {
    }
    CHECK_FALSE(db.in_transaction());
    CHECK(count_rows(db, "t") == 0);

    {
        Transaction tx(db);
        db.exec("INSERT INTO t VALUES (3)");
        tx.commit();
        CHECK_FALSE(tx.active());
        CHECK_THROWS_AS(tx.commit(), interphase::StorageError);
    }
    CHECK(count_rows(db, "t") == 1);

    {
        Transaction tx(db);
        db.exec("INSERT INTO t VALUES (4)");
        tx.rollback();
        CHECK_FALSE(db.in_transaction());
    }
    CHECK(count_rows(db, "t") == 1);

    // A failing statement inside the transaction: the destructor still cleans up.
    CHECK_THROWS_AS(([&] {
                        Transaction tx(db);
                        db.exec("INSERT INTO t VALUES (5)");
                        db.exec("INSERT INTO no_such_table VALUES (6)");
                        tx.commit();
                    }()),
                    interphase::StorageError);
    CHECK_FALSE(db.in_transaction());
    CHECK(count_rows(db, "t") == 1);

    // Nested BEGIN is an error, not a silent no-op.
    Transaction outer(db);
    CHECK_THROWS_AS(Transaction{db}, interphase::StorageError);
}

TEST_CASE("errors name the SQL, the file and SQLite's message") {
    auto dir = interphase::testing::scratch("sqlite-errors");
    Database db(dir / "store.db");
    const std::string db_path = (dir / "store.db").string();

    try {
        Statement bad(db, "SELEC name FROM tasks");
        FAIL("prepare should have failed");
    } catch (const interphase::StorageError& e) {
        const std::string what = e.what();
        CHECK(what.find("SELEC name FROM tasks") != std::string::npos);
        CHECK(what.find("syntax error") != std::string::npos);
        CHECK(what.find(db_path) != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(db.exec("DROP TABLE nothing_here"),
                         doctest::Contains("no such table: nothing_here"), interphase::StorageError);
    CHECK_THROWS_WITH_AS(db.exec("DROP TABLE nothing_here"), doctest::Contains("DROP TABLE nothing_here"),
                         interphase::StorageError);

    db.exec("CREATE TABLE t(x INTEGER UNIQUE)");
    Statement insert(db, "INSERT INTO t VALUES (:x)");
    insert.bind(":x", 1);
    insert.step();
    insert.reset();
    CHECK_THROWS_WITH_AS(insert.step(), doctest::Contains("UNIQUE constraint failed: t.x"),
                         interphase::StorageError);
    insert.reset();  // usable again after the failure
    insert.bind("x", 2);
    CHECK_FALSE(insert.step());

    CHECK_THROWS_WITH_AS(insert.bind(":nope", 1), doctest::Contains("no parameter named ':nope'"),
                         interphase::StorageError);
    CHECK_THROWS_AS(insert.bind(7, 1), interphase::StorageError);  // index out of range
    CHECK_THROWS_WITH_AS(Statement(db, "SELECT 1; SELECT 2"), doctest::Contains("more than one statement"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(Database(dir / "no-such-folder" / "x.db"), doctest::Contains("no-such-folder"),
                         interphase::StorageError);
}

TEST_CASE("a second connection sees committed data, not uncommitted") {
    auto dir = interphase::testing::scratch("sqlite-two");
    Database writer(dir / "store.db");
    writer.exec("CREATE TABLE t(x INTEGER)");
    Database reader(dir / "store.db");

    Transaction tx(writer);
    writer.exec("INSERT INTO t VALUES (1)");
    CHECK(count_rows(reader, "t") == 0);  // WAL: the reader is not blocked and sees the old state
    tx.commit();
    CHECK(count_rows(reader, "t") == 1);

    // A second writer waits for the lock up to its busy timeout, then fails clearly.
    Database other(dir / "store.db");
    other.set_busy_timeout(100ms);
    Transaction holding(writer);
    CHECK_THROWS_WITH_AS(Transaction{other}, doctest::Contains("database is locked"), interphase::StorageError);
    holding.commit();
    Transaction now(other);
    now.commit();

    // Moving a Database keeps its statements and transactions working.
    Database moved(std::move(other));
    moved.exec("INSERT INTO t VALUES (2)");
    CHECK(count_rows(reader, "t") == 2);
}

TEST_CASE("statements survive reset and rebinding") {
    auto dir = interphase::testing::scratch("sqlite-reuse");
    Database db(dir / "store.db");
    db.exec("CREATE TABLE energies(task TEXT PRIMARY KEY, e REAL)");
    Statement insert(db, "INSERT INTO energies VALUES (:task, :e)");
    for (int i = 0; i < 100; ++i) {
        insert.bind(":task", "task-" + std::to_string(i));
        insert.bind("e", 0.5 * i);  // prefix optional: ":" is assumed
        CHECK_FALSE(insert.step());
        insert.reset();
    }
    CHECK(count_rows(db, "energies") == 100);

    Statement lookup(db, "SELECT e FROM energies WHERE task = ?");
    for (int i : {3, 42, 99}) {
        lookup.bind(1, "task-" + std::to_string(i));
        REQUIRE(lookup.step());
        CHECK(lookup.column_double(0) == 0.5 * i);
        lookup.reset();
    }
    // Bindings persist across reset() until rebound or cleared.
    lookup.bind(1, "task-7");
    REQUIRE(lookup.step());
    lookup.reset();
    REQUIRE(lookup.step());
    CHECK(lookup.column_double(0) == 3.5);
    lookup.reset();
    lookup.clear_bindings();
    CHECK_FALSE(lookup.step());  // NULL matches nothing

    // Reset in the middle of a result set starts over.
    Statement all(db, "SELECT task FROM energies ORDER BY e");
    REQUIRE(all.step());
    REQUIRE(all.step());
    all.reset();
    REQUIRE(all.step());
    CHECK(all.column_text(0) == "task-0");

    Statement moved(std::move(all));
    REQUIRE(moved.step());
    CHECK(moved.column_text(0) == "task-1");
}

TEST_CASE("cached statements: prepared once, reset and unbound after each use, re-entrant") {
    auto dir = interphase::testing::scratch("sqlite-cached");
    Database db(dir / "store.db");
    db.exec("CREATE TABLE energies(task TEXT PRIMARY KEY, e REAL)");
    sqlite3_stmt* first = nullptr;
    for (int i = 0; i < 10; ++i) {
        auto insert = db.cached("INSERT INTO energies VALUES (?1, ?2)");
        if (i == 0) first = insert->handle();
        CHECK(insert->handle() == first);  // the same prepared statement every time
        insert->bind(1, "task-" + std::to_string(i));
        insert->bind(2, 0.5 * i);
        CHECK_FALSE(insert->step());
    }
    CHECK(count_rows(db, "energies") == 10);
    {
        // A SELECT left mid-result: the lease resets it, so a writer on another connection
        // can checkpoint, and the next lease starts from the first row with no old bindings.
        auto q = db.cached("SELECT task FROM energies WHERE e >= ?1 ORDER BY e");
        q->bind(1, 2.0);
        REQUIRE(q->step());
        CHECK(q->column_text(0) == "task-4");
        // Asking for it again while the lease is alive gives a private statement.
        auto again = db.cached("SELECT task FROM energies WHERE e >= ?1 ORDER BY e");
        CHECK(again->handle() != q->handle());
        again->bind(1, 4.0);
        REQUIRE(again->step());
        CHECK(again->column_text(0) == "task-8");
    }
    auto q = db.cached("SELECT task FROM energies WHERE e >= ?1 ORDER BY e");
    CHECK_FALSE(q->step());  // bindings were cleared: NULL matches nothing
    CHECK_THROWS_AS(db.cached("SELEC 1"), interphase::StorageError);
}

TEST_CASE("a savepoint undoes only its own part of the enclosing transaction") {
    auto dir = interphase::testing::scratch("sqlite-savepoint");
    Database db(dir / "store.db");
    db.exec("CREATE TABLE t(x INTEGER)");
    CHECK_THROWS_AS(Savepoint{db}, interphase::StorageError);  // needs an open transaction
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
    {
        Savepoint kept(db);
        db.exec("INSERT INTO t VALUES (2)");
        kept.release();
    }
    try {
        Savepoint sp(db);
        db.exec("INSERT INTO t VALUES (3)");
        throw std::runtime_error("halfway");
    } catch (const std::runtime_error&) {
    }
    CHECK(db.in_transaction());
    tx.commit();
    CHECK(count_rows(db, "t") == 2);
}
