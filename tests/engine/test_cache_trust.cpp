// The shared cache as a trust and availability boundary: entries carry a checksum checked on
// every reuse (an edited entry is a warned miss, then replaced), an old cache without checksums
// opens and is not trusted, a garbage file is reported once and bypassed, and a cache locked by
// another process (the sqlite3 program holding BEGIN EXCLUSIVE) only delays sharing — nothing
// throws. verify() reports what a run would refuse.
#include <doctest/doctest.h>


#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/cache.hpp"
#include "engine/hash.hpp"
#include "engine/sqlite.hpp"
#include "test_paths.hpp"

using namespace interphase::engine;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Notices {
    std::vector<std::string> lines;
    ResultCache::Notify sink() {
        return [this](const std::string& line) { lines.push_back(line); };
    }
    int count(const std::string& part) const {
        int n = 0;
        for (const auto& l : lines) n += l.find(part) != std::string::npos;
        return n;
    }
};

const nlohmann::json kOutput = {{"energy_eV", -12.5}, {"structure", {{"formula", "Cu4"}}}};

void sql(const fs::path& file, const std::string& text) {
    sqlite::Database db(file);
    db.exec(text);
}

}  // namespace

TEST_CASE("a cache entry changed after it was stored is not reused, is named, and is replaced") {
    const auto dir = interphase::testing::scratch("cache-checksum");
    const fs::path file = dir / "cache.sqlite";
    Notices notices;
    {
        ResultCache cache(file, notices.sink());
        cache.put("h1", "calculation", kOutput, "/runs/a", "Cu/relax");
        const auto hit = cache.lookup("h1");
        REQUIRE(hit);
        CHECK(hit->output == kOutput);
        CHECK(hit->origin == "/runs/a task Cu/relax");
    }
    CHECK(ResultCache::verify(file).problems.empty());
    // Someone with write access changes a number (and not the checksum).
    sql(file, R"(UPDATE results SET output = replace(output, '-12.5', '-13.5') WHERE hash = 'h1')");
    const auto report = ResultCache::verify(file);
    REQUIRE(report.problems.size() == 1);
    CHECK(report.problems[0].find("h1") != std::string::npos);
    CHECK(report.problems[0].find(file.string()) != std::string::npos);

    ResultCache cache(file, notices.sink());
    CHECK_FALSE(cache.lookup("h1").has_value());
    REQUIRE(notices.count("does not match its checksum") == 1);
    CHECK(notices.count("h1") == 1);
    CHECK(notices.count(file.string()) == 1);
    // The task ran again; its result replaces the damaged entry (a good entry is never replaced).
    cache.put("h1", "calculation", kOutput, "/runs/b", "Cu/relax");
    const auto again = cache.lookup("h1");
    REQUIRE(again);
    CHECK(again->output == kOutput);
    CHECK(again->origin == "/runs/b task Cu/relax");
    cache.put("h1", "calculation", {{"energy_eV", 0}}, "/runs/c", "Cu/relax");
    CHECK(cache.lookup("h1")->origin == "/runs/b task Cu/relax");
    CHECK(ResultCache::verify(file).problems.empty());
}

TEST_CASE("a cache of an older Interphase (no checksum column) opens; its entries are untrusted misses") {
    const auto dir = interphase::testing::scratch("cache-old");
    const fs::path file = dir / "cache.sqlite";
    sql(file, R"sql(
        CREATE TABLE results(hash TEXT PRIMARY KEY, kind TEXT NOT NULL, output TEXT NOT NULL,
                             run_dir TEXT NOT NULL, task TEXT NOT NULL, created REAL NOT NULL);
        INSERT INTO results VALUES('h1', 'calculation', '{"energy_eV": -1}', '/old', 'Cu/relax', 0);
        INSERT INTO results VALUES('h2', 'calculation', '{"energy_eV": -2}', '/old', 'Ag/relax', 0);
    )sql");
    CHECK(ResultCache::verify(file).notes.size() == 1);  // read-only: nothing upgraded, nothing wrong
    Notices notices;
    ResultCache cache(file, notices.sink());
    CHECK(cache.usable());
    CHECK_FALSE(cache.lookup("h1").has_value());
    CHECK_FALSE(cache.lookup("h2").has_value());
    CHECK(notices.count("without a checksum") == 1);  // said once, not per entry
    cache.put("h1", "calculation", kOutput, "/new", "Cu/relax");
    REQUIRE(cache.lookup("h1"));
    CHECK(cache.lookup("h1")->output == kOutput);
    CHECK(cache.size() == 2);
}

TEST_CASE("a garbage cache file is reported once and bypassed; nothing throws") {
    const auto dir = interphase::testing::scratch("cache-garbage");
    const fs::path file = dir / "cache.sqlite";
    {
        std::ofstream out(file, std::ios::binary);
        out << "this is not an SQLite database\n";
        for (int i = 0; i < 4096; ++i) out << static_cast<char>(i * 37);
    }
    Notices notices;
    ResultCache cache(file, notices.sink());
    CHECK_FALSE(cache.usable());
    CHECK_NOTHROW(cache.put("h1", "calculation", kOutput, "/runs/a", "Cu/relax"));
    CHECK_FALSE(cache.lookup("h1").has_value());
    CHECK_NOTHROW(cache.put("h2", "calculation", kOutput, "/runs/a", "Ag/relax"));
    REQUIRE(notices.lines.size() == 1);
    CHECK(notices.count("is unusable") == 1);
    CHECK(notices.count("running without it") == 1);
    CHECK(notices.count(file.string()) == 1);
    const auto report = ResultCache::verify(file);
    REQUIRE(report.problems.size() == 1);
    CHECK(report.problems[0].find("not a database") != std::string::npos);
}

TEST_CASE("a cache whose writer lock another process holds: puts wait briefly, then the results wait; never a throw") {
    const auto dir = interphase::testing::scratch("cache-busy-write");
    const fs::path file = dir / "cache.sqlite";
    { ResultCache create(file); }
    Notices notices;
    ResultCache cache(file, notices.sink(), {300ms, 500ms});
    interphase::testing::CacheWriteLock lock(file);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_NOTHROW(cache.put("h1", "calculation", kOutput, "/runs/a", "Cu/relax"));
    CHECK_NOTHROW(cache.put("h2", "calculation", kOutput, "/runs/a", "Ag/relax"));  // paused: no wait at all
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(notices.count("is busy") == 1);
    CHECK(cache.flush() == 2);  // still paused
    lock.release();
    std::this_thread::sleep_for(600ms);  // the pause ends
    CHECK(cache.flush() == 0);
    CHECK(notices.count("answers again: 2 waiting result(s) shared") == 1);
    REQUIRE(cache.lookup("h1"));
    REQUIRE(cache.lookup("h2"));
    CHECK(cache.size() == 3);  // and the other process's row
}

TEST_CASE("a cache another process keeps to itself (locking_mode=EXCLUSIVE): lookups are misses, not errors") {
    const auto dir = interphase::testing::scratch("cache-busy-read");
    const fs::path file = dir / "cache.sqlite";
    {
        ResultCache create(file);
        create.put("h1", "calculation", kOutput, "/runs/a", "Cu/relax");
    }
    // Taken first: an open WAL connection keeps a shared lock that an exclusive-mode one waits for.
    interphase::testing::CacheWriteLock lock(file, true);
    Notices notices;
    ResultCache cache(file, notices.sink(), {300ms, 500ms});  // opening already finds it busy
    CHECK(cache.usable());
    std::optional<CachedResult> hit;
    CHECK_NOTHROW(hit = cache.lookup("h1"));
    CHECK_FALSE(hit.has_value());
    CHECK(notices.count("is busy") == 1);
    CHECK_NOTHROW(cache.put("h2", "calculation", kOutput, "/runs/a", "Ag/relax"));
    lock.release();
    std::this_thread::sleep_for(600ms);
    CHECK(cache.lookup("h1").has_value());
    CHECK(notices.count("answers again") == 1);
    CHECK(cache.lookup("h2").has_value());
}

TEST_CASE("a cache whose folder cannot be created is bypassed") {
    // A folder where a file stands: the cache's folder cannot be created, for root as well.
    const auto dir = interphase::testing::scratch("cache-nofolder");
    std::ofstream(dir / "file") << "x";
    Notices notices;
    ResultCache cache(dir / "file" / "cache.sqlite", notices.sink());
    CHECK_FALSE(cache.usable());
    CHECK_NOTHROW(cache.put("h1", "calculation", kOutput, "/runs/a", "Cu/relax"));
    CHECK(notices.count("is unusable") == 1);
}
