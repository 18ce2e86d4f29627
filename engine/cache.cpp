#include "engine/cache.hpp"

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "engine/hash.hpp"
#include "engine/sqlite.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

namespace {

double seconds(std::chrono::milliseconds ms) { return std::chrono::duration<double>(ms).count(); }

}  // namespace

ResultCache::ResultCache(const fs::path& file, Notify notify, Options options)
    : path_(fs::absolute(file).lexically_normal()), notify_(std::move(notify)), options_(options) {
    ready();  // opens now, so that a damaged file is reported at the start of the run
}

ResultCache::~ResultCache() {
    notify_ = nullptr;  // whoever listened may be going away too
    try {
        if (!pending_.empty() && !unusable_) {
            paused_until_ = {};
            flush();
        }
    } catch (...) {  // a destructor: the results are in the run's own store anyway
    }
}

void ResultCache::say(const std::string& line) const {
    if (notify_) notify_(line);
}

void ResultCache::open() {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    if (ec) throw StorageError(fmt::format("cannot create its folder: {}", ec.message()));
    auto db = std::make_unique<sqlite::Database>(path_, sqlite::OpenOptions{sqlite::Access::ReadWrite, options_.busy_timeout});
    // Only write when something is missing: an existing cache is opened with reads alone, so a
    // writer holding its lock does not stop this run from reading it.
    if (!db->has_table("results"))
        db->exec(R"sql(
            CREATE TABLE IF NOT EXISTS results(
                hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL,
                run_dir TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL,
                checksum TEXT NOT NULL DEFAULT '');
        )sql");
    else if (!db->has_column("results", "checksum"))  // a cache of an older Interphase: its entries stay, unchecked
        db->exec("ALTER TABLE results ADD COLUMN checksum TEXT NOT NULL DEFAULT ''");
    db_ = std::move(db);
}

bool ResultCache::ready() {
    if (unusable_) return false;
    if (std::chrono::steady_clock::now() < paused_until_) return false;
    if (db_) return true;
    try {
        open();
        return true;
    } catch (const sqlite::SqliteError& e) {
        if (!absorb(e)) turn_off(e.what());
    } catch (const StorageError& e) {
        turn_off(e.what());
    }
    return false;
}

bool ResultCache::absorb(const sqlite::SqliteError& e) {
    if (e.busy()) {
        start_pause();
        return true;
    }
    if (e.corrupt()) {
        turn_off(e.what());
        return true;
    }
    return false;
}

void ResultCache::start_pause() {
    const bool first = paused_until_ == std::chrono::steady_clock::time_point{};
    paused_until_ = std::chrono::steady_clock::now() + options_.retry_after;
    if (first)
        say(fmt::format("cache {} is busy (locked by another process for more than {:.0f} s): not consulted for {:.0f} s; "
                        "finished results wait to be shared",
                        path_.string(), seconds(options_.busy_timeout), seconds(options_.retry_after)));
}

void ResultCache::turn_off(const std::string& reason) {
    unusable_ = true;
    db_.reset();
    say(fmt::format("cache {} is unusable: {}; running without it{}", path_.string(), reason,
                    pending_.empty() ? "" : fmt::format(" ({} results stay in this run's store only)", pending_.size())));
    pending_.clear();
}

void ResultCache::insert(const Pending& p) {
    // An entry that failed its checksum is replaced by the fresh result; a good one is kept.
    sqlite::Statement q(*db_, fmt::format("INSERT INTO results(hash, kind, output, run_dir, task, created, checksum) "
                                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(hash) DO {}",
                                          untrusted_.count(p.hash)
                                              ? "UPDATE SET kind = excluded.kind, output = excluded.output, "
                                                "run_dir = excluded.run_dir, task = excluded.task, "
                                                "created = excluded.created, checksum = excluded.checksum"
                                              : "NOTHING"));
    q.bind(1, p.hash);
    q.bind(2, p.kind);
    q.bind(3, p.text);
    q.bind(4, p.run_dir);
    q.bind(5, p.task);
    q.bind(6, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    q.bind(7, output_checksum(p.text));
    q.step();
    untrusted_.erase(p.hash);
}

std::size_t ResultCache::flush() {
    if (pending_.empty() || sharing_off_ || !ready()) return pending_.size();
    const bool was_paused = paused_until_ != std::chrono::steady_clock::time_point{};
    std::size_t shared = 0;
    try {
        while (!pending_.empty()) {
            insert(pending_.front());
            pending_.erase(pending_.begin());
            ++shared;
        }
    } catch (const sqlite::SqliteError& e) {
        if (!absorb(e)) {
            sharing_off_ = true;
            say(fmt::format("cache {} cannot take new results ({}): results of this run stay in its own store",
                            path_.string(), e.what()));
            pending_.clear();
        }
        return pending_.size();
    }
    if (was_paused) end_pause(shared);
    return 0;
}

void ResultCache::end_pause(std::size_t shared) {
    if (paused_until_ == std::chrono::steady_clock::time_point{}) return;
    say(fmt::format("cache {} answers again: {} waiting result(s) shared, {} lookup(s) were skipped", path_.string(),
                    shared, skipped_lookups_));
    paused_until_ = {};
    skipped_lookups_ = 0;
}

std::optional<CachedResult> ResultCache::lookup(const std::string& hash) {
    flush();  // also ends a pause that is over
    if (!ready()) {
        if (!unusable_) ++skipped_lookups_;
        return std::nullopt;
    }
    std::string text, run_dir, task, checksum;
    try {
        sqlite::Statement q(*db_, "SELECT output, run_dir, task, checksum FROM results WHERE hash = ?1");
        q.bind(1, hash);
        if (!q.step()) return std::nullopt;
        text = q.column_text(0);
        run_dir = q.column_text(1);
        task = q.column_text(2);
        checksum = q.column_text(3);
    } catch (const sqlite::SqliteError& e) {
        if (!absorb(e)) say(fmt::format("cache {}: lookup of {} failed ({}): computing it instead", path_.string(), hash, e.what()));
        if (e.busy()) ++skipped_lookups_;
        return std::nullopt;
    }
    end_pause(0);  // it answered
    if (checksum.empty()) {
        untrusted_.insert(hash);
        if (!told_unchecked_)
            say(fmt::format("cache {} holds entries without a checksum (written by an older Interphase): they are not "
                            "trusted; their tasks run again and replace them",
                            path_.string()));
        told_unchecked_ = true;
        return std::nullopt;
    }
    if (checksum != output_checksum(text)) {
        untrusted_.insert(hash);
        say(fmt::format("warning: cache entry {} in {} {}: not reused; the task runs again", hash, path_.string(),
                        describe(StoredOutput::ChecksumMismatch)));
        return std::nullopt;
    }
    auto output = nlohmann::json::parse(text, nullptr, false);
    if (output.is_discarded()) {  // checksummed garbage: stored that way, equally unusable
        untrusted_.insert(hash);
        say(fmt::format("warning: cache entry {} in {} is not valid JSON: not reused; the task runs again", hash,
                        path_.string()));
        return std::nullopt;
    }
    return CachedResult{std::move(output), fmt::format("{} task {}", run_dir, task)};
}

void ResultCache::put(const std::string& hash, const std::string& kind, const nlohmann::json& output,
                      const std::string& run_dir, const std::string& task) {
    if (unusable_ || sharing_off_) return;
    pending_.push_back({hash, kind, output.dump(), run_dir, task});
    flush();
}

std::size_t ResultCache::size() {
    if (!db_) open();
    sqlite::Statement q(*db_, "SELECT COUNT(*) FROM results");
    q.step();
    return static_cast<std::size_t>(q.column_int64(0));
}

IntegrityReport ResultCache::verify(const fs::path& file) {
    IntegrityReport report;
    const std::string name = file.string();
    if (!fs::exists(file)) {
        report.notes.push_back(fmt::format("cache {} does not exist (nothing to check)", name));
        return report;
    }
    try {
        sqlite::Database db(file, {sqlite::Access::ReadOnly, std::chrono::milliseconds(3000)});
        for (const auto& line : db.integrity_problems())
            report.problems.push_back(fmt::format("cache {}: integrity check: {}", name, line));
        if (!db.has_table("results")) {
            report.problems.push_back(fmt::format("cache {} has no results table: not an Interphase cache", name));
            return report;
        }
        const bool checksums = db.has_column("results", "checksum");
        sqlite::Statement q(db, fmt::format("SELECT hash, run_dir, task, output, {} FROM results ORDER BY hash",
                                            checksums ? "checksum" : "''"));
        std::size_t unchecked = 0;
        while (q.step()) {
            ++report.outputs;
            const std::string hash = q.column_text(0), text = q.column_text(3), checksum = q.column_text(4);
            const std::string origin = fmt::format("{} task {}", q.column_text(1), q.column_text(2));
            const auto found = check_stored_output(text, checksum);
            if (found == StoredOutput::NoChecksum) ++unchecked;
            else if (found != StoredOutput::Sound)
                report.problems.push_back(fmt::format("cache {}: entry {} (from {}) {}", name, hash, origin, describe(found)));
        }
        if (unchecked > 0)
            report.notes.push_back(fmt::format("cache {}: {} entr{} without a checksum (written by an older Interphase): "
                                               "runs do not reuse them",
                                               name, unchecked, unchecked == 1 ? "y" : "ies"));
    } catch (const sqlite::SqliteError& e) {
        if (e.busy()) report.notes.push_back(fmt::format("cache {} is locked by another process: not checked", name));
        else report.problems.push_back(fmt::format("cache {} is unusable: {}", name, e.what()));
    } catch (const StorageError& e) {
        report.problems.push_back(fmt::format("cache {} is unusable: {}", name, e.what()));
    }
    return report;
}

std::optional<fs::path> resolve_cache_path(const std::optional<fs::path>& explicit_path) {
    if (explicit_path && !explicit_path->empty()) return explicit_path;
    if (const char* env = std::getenv("INTERPHASE_CACHE"); env && *env && std::string(env) != "off") return fs::path(env);
    return std::nullopt;
}

}  // namespace interphase::engine
