// RAII over the SQLite C API for the engine's durable store (task states, the result cache).
//
// Every connection runs in WAL mode with synchronous=NORMAL, foreign keys on and a 10 s busy
// timeout: readers (`interphase status` in another terminal) never block the writer, a commit
// costs no fsync of the database file, and a crash loses at most the last transactions, never
// consistency (see docs/engine-storage.md). Each C call is checked once here; failures become
// interphase::engine::sqlite::SqliteError (a StorageError) naming the SQLite message, the SQL and
// the database file, and keeping SQLite's result code so callers can tell a busy database from a
// damaged one. A connection may also be opened read-only (`interphase status` on read-only media
// or another user's run): it never writes, not even the -wal/-shm files when it cannot.
// Objects are not thread-safe: use one Database per thread.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <vector>

#include "common/errors.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace interphase::engine::sqlite {

class Statement;
class CachedStatement;

/// A failed SQLite call. code() is SQLite's extended result code.
class SqliteError : public StorageError {
public:
    SqliteError(const std::string& message, int code) : StorageError(message), code_(code) {}
    int code() const noexcept { return code_; }
    /// Another connection holds the lock (SQLITE_BUSY, SQLITE_LOCKED): trying later may work.
    bool busy() const noexcept;
    /// The file is damaged or not a database at all (SQLITE_CORRUPT, SQLITE_NOTADB).
    bool corrupt() const noexcept;
    bool out_of_memory() const noexcept;  ///< SQLITE_NOMEM

private:
    int code_;
};

enum class Access {
    ReadWrite,  ///< creates the file if missing, switches it to WAL
    /// Never writes. A WAL database whose -wal/-shm files are absent and cannot be created (a
    /// read-only mount, a folder of another user) is opened as immutable instead: that is
    /// safe exactly then, since without a -wal file every commit is in the database file.
    ReadOnly,
};

struct OpenOptions {
    Access access = Access::ReadWrite;
    /// How long a statement waits for another connection's lock before SQLITE_BUSY.
    std::chrono::milliseconds busy_timeout{10000};
};

/// What a connection remembers about its last failure (shared with its statements, which may
/// outlive the Database object): an error after which SQLite rolled back the open transaction
/// by itself (SQLITE_NOMEM, SQLITE_FULL, SQLITE_IOERR...) is the real cause of every later
/// "no transaction is active", so it is reported instead.
struct Diagnostics {
    std::string rollback_cause;  ///< message of the error that ended the transaction, if any
    int rollback_code = 0;
};

/// One connection. The file is created if missing (":memory:" gives a private in-memory
/// database, which cannot use WAL and keeps its "memory" journal). Read-only: the file must
/// exist, and nothing is ever written.
class Database {
public:
    explicit Database(const std::filesystem::path& path, OpenOptions options = {});
    ~Database();  ///< closes; statements still alive keep the connection until they finish
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Runs one or more SQL statements that return no rows needed by the caller.
    void exec(std::string_view sql);
    std::int64_t last_insert_rowid() const noexcept;
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    int changes() const noexcept;
    /// How long a statement waits for another connection's lock before failing (default 10 s).
    void set_busy_timeout(std::chrono::milliseconds timeout);
    /// True inside BEGIN ... COMMIT.
    bool in_transaction() const noexcept;
    /// Whether the schema has table `table` / column `column` of `table` (for schema upgrades and
    /// for files written by older versions).
    bool has_table(const std::string& table) const;
    bool has_column(const std::string& table, const std::string& column) const;
    /// What `PRAGMA integrity_check` reports, without its "ok": empty for a sound file.
    std::vector<std::string> integrity_problems() const;
    bool read_only() const noexcept { return read_only_; }
    /// Opened with immutable=1 (read-only, no -wal file, no way to create the -shm file).
    bool immutable() const noexcept { return immutable_; }
    const std::shared_ptr<Diagnostics>& diagnostics() const noexcept { return diag_; }

    /// The statement for `sql` from this connection's cache: prepared on first use, then
    /// reused (sqlite3_prepare costs more than most of the engine's statements themselves).
    /// The lease resets it and clears its bindings when it ends, so a cached SELECT never
    /// keeps a read transaction open between two calls. Asking for a statement whose lease is
    /// still alive (recursion) gives a private one, finalized with its lease.
    CachedStatement cached(std::string_view sql);

    const std::filesystem::path& path() const noexcept { return path_; }
    sqlite3* handle() const noexcept { return db_; }

private:
    struct StatementCache;
    void drop_cache() noexcept;  // finalizes the cached statements (before the close)
    void open(const std::string& filename, int flags);
    void probe_read_only();  // a read-only open is lazy: read once, fall back to immutable
    sqlite3* db_ = nullptr;
    std::filesystem::path path_;
    std::unique_ptr<StatementCache> cache_;
    std::shared_ptr<Diagnostics> diag_ = std::make_shared<Diagnostics>();
    bool read_only_ = false;
    bool immutable_ = false;
};

/// A prepared statement. Parameters are numbered from 1 (SQLite's convention); columns from 0.
/// After step() returned false, reset() makes it runnable again; bindings stay until rebound
/// or clear_bindings().
class Statement {
public:
    Statement(const Database& db, std::string_view sql);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    void bind_int64(int index, std::int64_t value);
    void bind_double(int index, double value);
    void bind_text(int index, std::string_view value);  ///< UTF-8, copied by SQLite
    void bind_blob(int index, std::span<const std::byte> value);
    void bind_null(int index);

    /// bind(index, value) for any integer, floating-point, string, byte-vector, std::nullopt
    /// or std::optional of those (empty binds NULL).
    template <std::integral T>
    void bind(int index, T value) { bind_int64(index, static_cast<std::int64_t>(value)); }
    template <std::floating_point T>
    void bind(int index, T value) { bind_double(index, static_cast<double>(value)); }
    void bind(int index, std::string_view value) { bind_text(index, value); }
    void bind(int index, const std::string& value) { bind_text(index, value); }
    void bind(int index, const char* value) { bind_text(index, value); }
    void bind(int index, std::span<const std::byte> value) { bind_blob(index, value); }
    void bind(int index, const std::vector<std::byte>& value) { bind_blob(index, value); }
    void bind(int index, std::nullopt_t) { bind_null(index); }
    template <typename T>
    void bind(int index, const std::optional<T>& value) {
        if (value) bind(index, *value);
        else bind_null(index);
    }
    /// By name, with its prefix (":id", "@id", "$id") or without it (":" is assumed).
    template <typename T>
    void bind(std::string_view name, T&& value) { bind(parameter_index(name), std::forward<T>(value)); }
    /// The 1-based index of a named parameter; throws StorageError if the SQL has no such name.
    int parameter_index(std::string_view name) const;
    int parameter_count() const noexcept;

    /// Runs to the next row: true if a row is available, false when done.
    bool step();
    /// Makes the statement runnable again from the start; keeps the bindings.
    void reset();
    void clear_bindings();

    int column_count() const noexcept;
    std::string column_name(int column) const;
    bool column_is_null(int column) const;
    std::int64_t column_int64(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;  ///< "" for NULL
    std::vector<std::byte> column_blob(int column) const;  ///< empty for NULL

    const std::string& sql() const noexcept { return sql_; }
    sqlite3_stmt* handle() const noexcept { return stmt_; }

private:
    void check_bind(int rc, int index) const;
    void check_column(int column) const;
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_;
    std::shared_ptr<Diagnostics> diag_;
};

/// A statement lent by Database::cached; use it as a Statement (`->`, `*`). Reset (bindings
/// cleared) when the lease ends; never outlive the Database it came from.
class CachedStatement {
public:
    ~CachedStatement();
    CachedStatement(CachedStatement&& other) noexcept;
    CachedStatement& operator=(CachedStatement&&) = delete;
    CachedStatement(const CachedStatement&) = delete;
    CachedStatement& operator=(const CachedStatement&) = delete;

    Statement& operator*() const noexcept { return *stmt_; }
    Statement* operator->() const noexcept { return stmt_; }

private:
    friend class Database;
    CachedStatement(Statement* stmt, bool* in_use, std::unique_ptr<Statement> owned) noexcept;
    Statement* stmt_;
    bool* in_use_;                      // the cache entry's flag; null for a private statement
    std::unique_ptr<Statement> owned_;  // a private statement (the cached one was in use)
};

/// A nested unit of work inside a transaction the caller already holds (SAVEPOINT ...
/// RELEASE): if it does not reach release(), its changes alone are rolled back and the
/// enclosing transaction goes on. Throws StorageError when no transaction is open — naming
/// the earlier error if SQLite rolled the transaction back by itself. Holds the
/// Database by reference: do not move the Database while a Savepoint is alive.
class Savepoint {
public:
    explicit Savepoint(Database& db);
    ~Savepoint();
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;

    void release();

private:
    Database& db_;
    bool active_ = false;
};

/// BEGIN IMMEDIATE in the constructor: the write lock is taken up front, so two writers
/// queue on the busy timeout instead of one failing with SQLITE_BUSY halfway through.
/// The destructor rolls back unless commit() succeeded, and never throws.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();
    /// Rolls back now (the destructor would anyway); after it, the object is inert.
    void rollback();
    bool active() const noexcept { return active_; }

private:
    sqlite3* db_;  // the connection, not the Database object, so moving the Database is safe
    std::shared_ptr<Diagnostics> diag_;
    bool active_ = false;
};

}  // namespace interphase::engine::sqlite
