#include "engine/sqlite.hpp"

#include <sqlite3.h>

#include <cctype>
#include <map>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::engine::sqlite {

namespace {

std::string database_name(sqlite3* db) {
    const char* name = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
    return name != nullptr && *name != '\0' ? name : ":memory:";
}

std::string describe(sqlite3* db, int rc, std::string_view action, std::string_view sql) {
    const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (sql.empty()) return fmt::format("SQLite: {} failed on {}: {} (code {})", action, database_name(db), message, rc);
    return fmt::format("SQLite: {} failed on {}: {} (code {}) in SQL \"{}\"", action, database_name(db), message, rc, sql);
}

/// Remembers an error after which SQLite ended the open transaction by itself: every later
/// change of that transaction would otherwise only say "no transaction is active".
void note_rollback(sqlite3* db, Diagnostics* diag, bool was_in_transaction, const std::string& message, int rc) {
    if (diag != nullptr && was_in_transaction && db != nullptr && sqlite3_get_autocommit(db) != 0) {
        diag->rollback_cause = message;
        diag->rollback_code = rc;
    }
}

/// The one place SQLite codes become exceptions: the message says what failed, on which file,
/// and for which SQL, so a log line alone is enough to find the cause.
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view action, std::string_view sql,
                       Diagnostics* diag = nullptr, bool was_in_transaction = false) {
    // The extended code of the connection is more precise (SQLITE_READONLY_DBMOVED...).
    const int code = db != nullptr && sqlite3_extended_errcode(db) != SQLITE_OK ? sqlite3_extended_errcode(db) : rc;
    std::string message = describe(db, rc, action, sql);
    note_rollback(db, diag, was_in_transaction, message, code);
    throw SqliteError(message, code);
}

void exec_on(sqlite3* db, std::string_view sql, Diagnostics* diag = nullptr) {
    const std::string text(sql);  // sqlite3_exec wants NUL-terminated SQL
    char* error = nullptr;
    const bool was_in_transaction = sqlite3_get_autocommit(db) == 0;
    const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string reason = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        const int code = sqlite3_extended_errcode(db) != SQLITE_OK ? sqlite3_extended_errcode(db) : rc;
        std::string message = fmt::format("SQLite: exec failed on {}: {} (code {}) in SQL \"{}\"", database_name(db), reason, rc, sql);
        note_rollback(db, diag, was_in_transaction, message, code);
        throw SqliteError(message, code);
    }
}

/// A change that needs the transaction SQLite already rolled back: the cause is the error that
/// rolled it back (often SQLITE_NOMEM or SQLITE_FULL), not this call.
[[noreturn]] void fail_lost_transaction(sqlite3* db, const Diagnostics* diag, std::string_view what) {
    if (diag != nullptr && !diag->rollback_cause.empty())
        throw SqliteError(fmt::format("SQLite: {} on {}: SQLite rolled the transaction back after an earlier error: {}",
                                      what, database_name(db), diag->rollback_cause),
                          diag->rollback_code);
    throw StorageError(fmt::format("SQLite: {} on {}: no transaction is open", what, database_name(db)));
}

/// "file:" URI of a path, with the characters URIs reserve percent-encoded.
std::string file_uri(const std::filesystem::path& path, std::string_view query) {
    std::string out = "file:";
    for (unsigned char c : std::filesystem::absolute(path).string()) {
        if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out + "?" + std::string(query);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SqliteError

bool SqliteError::busy() const noexcept {
    const int primary = code_ & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}
bool SqliteError::corrupt() const noexcept {
    const int primary = code_ & 0xff;
    return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}
bool SqliteError::out_of_memory() const noexcept { return (code_ & 0xff) == SQLITE_NOMEM; }

// ---------------------------------------------------------------------------------------------
// Database

/// Prepared statements by SQL text. Map nodes never move, so a lease can point at its entry.
struct Database::StatementCache {
    struct Entry {
        std::unique_ptr<Statement> statement;
        bool in_use = false;
    };
    std::map<std::string, Entry, std::less<>> entries;
};

Database::Database(const std::filesystem::path& path, OpenOptions options)
    : path_(path), cache_(std::make_unique<StatementCache>()), read_only_(options.access == Access::ReadOnly) {
    const std::string name = path.string();
    if (read_only_) {
        // mode=ro as well as the flag: a URI is needed anyway for the immutable fallback.
        open(file_uri(path, "mode=ro"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    } else {
        open(name, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    }
    try {
        sqlite3_extended_result_codes(db_, 1);
        // The busy timeout first: switching to WAL itself needs a lock another process may hold.
        set_busy_timeout(options.busy_timeout);
        if (read_only_) {
            probe_read_only();
            return;  // the journal mode is the writer's business; foreign keys only matter to writes
        }
        Statement journal(*this, "PRAGMA journal_mode=WAL");
        const std::string mode = journal.step() ? journal.column_text(0) : std::string();
        if (mode != "wal" && !(mode == "memory" && name == ":memory:"))
            throw StorageError(fmt::format(
                "SQLite: cannot switch '{}' to WAL mode (journal mode stays '{}'); WAL needs a "
                "local file system with shared memory, not e.g. NFS",
                name, mode));
        // NORMAL is safe in WAL mode: a crash may lose the last commits but never corrupts.
        exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    } catch (...) {
        drop_cache();
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw;
    }
}

void Database::open(const std::string& filename, int flags) {
    const int rc = sqlite3_open_v2(filename.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // sqlite3_open_v2 hands back a handle even on failure; it must still be closed.
        std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw SqliteError(fmt::format("SQLite: cannot open database '{}': {}", path_.string(), message), rc);
    }
}

void Database::probe_read_only() {
    // Opening is lazy: the first read is what finds the -wal/-shm files (or fails to).
    const auto read_schema = [this] {
        Statement probe(*this, "SELECT COUNT(*) FROM sqlite_schema");
        probe.step();
    };
    try {
        read_schema();
        return;
    } catch (const SqliteError& e) {
        if (e.corrupt() || e.busy()) throw;
        // A WAL database needs its -shm file, which SQLite creates if it can. When it cannot
        // (read-only mount, a folder of another user) and no -wal file exists (or an empty one,
        // left by a read-only reader), every commit is in the database file and nobody can be
        // writing: reading it as immutable is exact.
        // With a -wal file present, immutable would silently ignore its commits: refuse.
        std::error_code ec;
        const std::filesystem::path wal = path_.string() + "-wal";
        const bool wal_has_commits = std::filesystem::exists(wal, ec) && std::filesystem::file_size(wal, ec) > 0;
        if (wal_has_commits || ec)
            throw SqliteError(fmt::format("{}; {}-wal exists (an engine is running or was killed) but cannot be "
                                          "read without creating {}-shm: copy the run folder to a writable place",
                                          e.what(), path_.string(), path_.string()),
                              e.code());
        drop_cache();
        sqlite3_close_v2(db_);
        db_ = nullptr;
        open(file_uri(path_, "mode=ro&immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
        sqlite3_extended_result_codes(db_, 1);
        immutable_ = true;
        read_schema();
    }
}

Database::~Database() {
    drop_cache();
    // close_v2 defers the close until the last statement is finalized instead of failing.
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)), cache_(std::move(other.cache_)),
      diag_(other.diag_), read_only_(other.read_only_), immutable_(other.immutable_) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        drop_cache();
        if (db_ != nullptr) sqlite3_close_v2(db_);
        db_ = std::exchange(other.db_, nullptr);
        path_ = std::move(other.path_);
        cache_ = std::move(other.cache_);
        diag_ = other.diag_;
        read_only_ = other.read_only_;
        immutable_ = other.immutable_;
    }
    return *this;
}

void Database::drop_cache() noexcept {
    // Entries whose lease is still alive stay: the lease finalizes nothing it does not own,
    // and close_v2 waits for them. In practice leases never outlive the connection.
    if (!cache_) return;
    for (auto it = cache_->entries.begin(); it != cache_->entries.end();)
        it = it->second.in_use ? std::next(it) : cache_->entries.erase(it);
}

CachedStatement Database::cached(std::string_view sql) {
    if (!cache_) cache_ = std::make_unique<StatementCache>();  // after a move from this object
    auto it = cache_->entries.find(sql);
    if (it == cache_->entries.end()) {
        auto statement = std::make_unique<Statement>(*this, sql);  // throws before anything is cached
        it = cache_->entries.emplace(std::string(sql), StatementCache::Entry{std::move(statement), false}).first;
    }
    auto& entry = it->second;
    if (entry.in_use) {
        auto own = std::make_unique<Statement>(*this, sql);
        Statement* raw = own.get();
        return CachedStatement(raw, nullptr, std::move(own));
    }
    entry.in_use = true;
    return CachedStatement(entry.statement.get(), &entry.in_use, nullptr);
}

void Database::exec(std::string_view sql) { exec_on(db_, sql, diag_.get()); }

std::int64_t Database::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const noexcept { return sqlite3_changes(db_); }

bool Database::has_table(const std::string& table) const {
    Statement q(*this, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    q.bind(1, table);
    return q.step();
}

bool Database::has_column(const std::string& table, const std::string& column) const {
    Statement q(*this, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
    q.bind(1, table);
    q.bind(2, column);
    return q.step();
}

std::vector<std::string> Database::integrity_problems() const {
    std::vector<std::string> problems;
    Statement check(*this, "PRAGMA integrity_check");
    while (check.step())
        if (auto line = check.column_text(0); line != "ok") problems.push_back(std::move(line));
    return problems;
}

void Database::set_busy_timeout(std::chrono::milliseconds timeout) {
    if (int rc = sqlite3_busy_timeout(db_, static_cast<int>(timeout.count())); rc != SQLITE_OK)
        fail(db_, rc, "busy_timeout", {});
}

bool Database::in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(const Database& db, std::string_view sql) : sql_(sql), diag_(db.diagnostics()) {
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db.handle(), sql_.data(), static_cast<int>(sql_.size()), &stmt_, &tail);
    if (rc != SQLITE_OK) fail(db.handle(), rc, "prepare", sql_);
    if (stmt_ == nullptr)
        throw StorageError(fmt::format("SQLite: no statement in SQL \"{}\" on {}", sql_, database_name(db.handle())));
    // A second statement after ';' would be silently ignored by prepare: refuse it instead.
    if (tail != nullptr && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
        throw StorageError(fmt::format("SQLite: more than one statement in SQL \"{}\" on {} (use exec)",
                                       sql_, database_name(db.handle())));
    }
}

Statement::~Statement() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), sql_(std::move(other.sql_)), diag_(std::move(other.diag_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        if (stmt_ != nullptr) sqlite3_finalize(stmt_);
        stmt_ = std::exchange(other.stmt_, nullptr);
        sql_ = std::move(other.sql_);
        diag_ = std::move(other.diag_);
    }
    return *this;
}

void Statement::check_bind(int rc, int index) const {
    if (rc != SQLITE_OK) fail(sqlite3_db_handle(stmt_), rc, fmt::format("bind of parameter {}", index), sql_);
}

void Statement::bind_int64(int index, std::int64_t value) {
    check_bind(sqlite3_bind_int64(stmt_, index, value), index);
}

void Statement::bind_double(int index, double value) {
    check_bind(sqlite3_bind_double(stmt_, index, value), index);
}

void Statement::bind_text(int index, std::string_view value) {
    check_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
               index);
}

void Statement::bind_blob(int index, std::span<const std::byte> value) {
    // A null pointer would bind NULL, so an empty blob gets a valid (unused) address.
    static const std::byte empty{};
    const void* data = value.empty() ? &empty : value.data();
    check_bind(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT), index);
}

void Statement::bind_null(int index) { check_bind(sqlite3_bind_null(stmt_, index), index); }

int Statement::parameter_index(std::string_view name) const {
    std::string key(name);
    if (key.empty() || (key[0] != ':' && key[0] != '@' && key[0] != '$' && key[0] != '?')) key.insert(0, ":");
    const int index = sqlite3_bind_parameter_index(stmt_, key.c_str());
    if (index == 0)
        throw StorageError(fmt::format("SQLite: no parameter named '{}' in SQL \"{}\" on {}", key, sql_,
                                       database_name(sqlite3_db_handle(stmt_))));
    return index;
}

int Statement::parameter_count() const noexcept { return sqlite3_bind_parameter_count(stmt_); }

bool Statement::step() {
    sqlite3* db = sqlite3_db_handle(stmt_);
    const bool was_in_transaction = sqlite3_get_autocommit(db) == 0;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db, rc, "step", sql_, diag_.get(), was_in_transaction);
}

void Statement::reset() {
    // sqlite3_reset repeats the last step's error; that error was already thrown by step(),
    // and the statement is reset regardless, so the code is not checked here.
    sqlite3_reset(stmt_);
}

void Statement::clear_bindings() { sqlite3_clear_bindings(stmt_); }

int Statement::column_count() const noexcept { return sqlite3_column_count(stmt_); }

void Statement::check_column(int column) const {
    if (column < 0 || column >= column_count())
        throw StorageError(fmt::format("SQLite: column {} out of range (the statement has {}) in SQL \"{}\"",
                                       column, column_count(), sql_));
}

std::string Statement::column_name(int column) const {
    check_column(column);
    const char* name = sqlite3_column_name(stmt_, column);
    return name != nullptr ? name : "";
}

bool Statement::column_is_null(int column) const {
    check_column(column);
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
    check_column(column);
    return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
    check_column(column);
    return sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
    check_column(column);
    // text before bytes: the byte count refers to the representation last asked for.
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return text != nullptr ? std::string(text, static_cast<std::size_t>(size)) : std::string();
}

std::vector<std::byte> Statement::column_blob(int column) const {
    check_column(column);
    const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data != nullptr ? std::vector<std::byte>(data, data + size) : std::vector<std::byte>();
}

// ---------------------------------------------------------------------------------------------
// CachedStatement

CachedStatement::CachedStatement(Statement* stmt, bool* in_use, std::unique_ptr<Statement> owned) noexcept
    : stmt_(stmt), in_use_(in_use), owned_(std::move(owned)) {}

CachedStatement::CachedStatement(CachedStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), in_use_(std::exchange(other.in_use_, nullptr)),
      owned_(std::move(other.owned_)) {}

CachedStatement::~CachedStatement() {
    if (stmt_ == nullptr) return;
    // Ends any read transaction the statement holds and forgets the caller's values.
    sqlite3_reset(stmt_->handle());
    sqlite3_clear_bindings(stmt_->handle());
    if (in_use_ != nullptr) *in_use_ = false;
}

// ---------------------------------------------------------------------------------------------
// Savepoint

Savepoint::Savepoint(Database& db) : db_(db) {
    if (!db.in_transaction()) fail_lost_transaction(db.handle(), db.diagnostics().get(), "a savepoint needs an open transaction");
    db_.cached("SAVEPOINT interphase_change")->step();
    active_ = true;
}

Savepoint::~Savepoint() {
    if (!active_ || db_.handle() == nullptr || sqlite3_get_autocommit(db_.handle()) != 0) return;
    // Undo this part only, then leave the savepoint; the enclosing transaction stays open.
    sqlite3_exec(db_.handle(), "ROLLBACK TO interphase_change; RELEASE interphase_change", nullptr, nullptr, nullptr);
}

void Savepoint::release() {
    if (!active_) throw StorageError(fmt::format("SQLite: release of a finished savepoint on {}", database_name(db_.handle())));
    db_.cached("RELEASE interphase_change")->step();
    active_ = false;
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db) : db_(db.handle()), diag_(db.diagnostics()) {
    diag_->rollback_cause.clear();  // a new transaction: older failures are not its cause
    diag_->rollback_code = 0;
    exec_on(db_, "BEGIN IMMEDIATE", diag_.get());
    active_ = true;
}

Transaction::~Transaction() {
    // Some errors (SQLITE_FULL, SQLITE_IOERR...) already rolled back: check before ROLLBACK.
    if (active_ && db_ != nullptr && sqlite3_get_autocommit(db_) == 0)
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    if (!active_) throw StorageError(fmt::format("SQLite: commit of a finished transaction on {}", database_name(db_)));
    if (sqlite3_get_autocommit(db_) != 0) {  // SQLite rolled it back after an error
        active_ = false;
        fail_lost_transaction(db_, diag_.get(), "commit");
    }
    exec_on(db_, "COMMIT", diag_.get());  // on failure the transaction stays open; the destructor rolls back
    active_ = false;
}

void Transaction::rollback() {
    if (!active_) return;
    active_ = false;
    if (sqlite3_get_autocommit(db_) == 0) exec_on(db_, "ROLLBACK");
}

}  // namespace interphase::engine::sqlite
