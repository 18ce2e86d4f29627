#include "engine/cache.hpp"

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "engine/sqlite.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

ResultCache::ResultCache(const fs::path& file) : path_(fs::absolute(file).lexically_normal()) {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    if (ec) throw StorageError(fmt::format("cache {}: cannot create its folder: {}", path_.string(), ec.message()));
    db_ = std::make_unique<sqlite::Database>(path_);
    db_->set_busy_timeout(std::chrono::milliseconds(30000));  // other engines may be writing
    db_->exec(R"sql(
        CREATE TABLE IF NOT EXISTS results(
            hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL,
            run_dir TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL);
    )sql");
}

ResultCache::~ResultCache() = default;

std::optional<CachedResult> ResultCache::lookup(const std::string& hash) const {
    sqlite::Statement q(*db_, "SELECT output, run_dir, task FROM results WHERE hash = ?1");
    q.bind(1, hash);
    if (!q.step()) return std::nullopt;
    return CachedResult{nlohmann::json::parse(q.column_text(0)),
                        fmt::format("{} task {}", q.column_text(1), q.column_text(2))};
}

void ResultCache::put(const std::string& hash, const std::string& kind, const nlohmann::json& output,
                      const std::string& run_dir, const std::string& task) {
    sqlite::Statement q(*db_,
                        "INSERT INTO results(hash, kind, output, run_dir, task, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
                        "ON CONFLICT(hash) DO NOTHING");
    q.bind(1, hash);
    q.bind(2, kind);
    q.bind(3, output.dump());
    q.bind(4, run_dir);
    q.bind(5, task);
    q.bind(6, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    q.step();
}

std::size_t ResultCache::size() const {
    sqlite::Statement q(*db_, "SELECT COUNT(*) FROM results");
    q.step();
    return static_cast<std::size_t>(q.column_int64(0));
}

std::optional<fs::path> resolve_cache_path(const std::optional<fs::path>& explicit_path) {
    if (explicit_path && !explicit_path->empty()) return explicit_path;
    if (const char* env = std::getenv("INTERPHASE_CACHE"); env && *env && std::string(env) != "off") return fs::path(env);
    return std::nullopt;
}

}  // namespace interphase::engine
