// verify: checks a run folder's store, every stored output against its checksum, and the shared
// cache the run used, without writing anything (read-only media work). One line per problem.
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "engine/cache.hpp"
#include "engine/store.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

void print(const engine::IntegrityReport& report) {
    for (const auto& p : report.problems) std::cout << "PROBLEM " << p << "\n";
    for (const auto& n : report.notes) std::cout << "note    " << n << "\n";
}

// 0 clean, 1 problems found; bad input (not a run folder) throws InputError (exit 2).
int cmd_verify(const fs::path& run_dir, const std::string& cache_option) {
    if (!engine::RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
    engine::IntegrityReport store_report;
    std::optional<std::string> recorded_cache;
    try {
        const engine::RunStore store(run_dir, engine::RunStore::Access::ReadOnly);
        store_report = store.verify();
        recorded_cache = store.meta("cache");
    } catch (const StorageError& e) {  // not even openable: that is the finding
        store_report.problems.push_back(e.what());
    }
    print(store_report);
    std::size_t problems = store_report.problems.size();
    std::string summary = fmt::format("{} tasks, {} stored outputs", store_report.tasks, store_report.outputs);

    const fs::path cache = !cache_option.empty() ? fs::path(cache_option) : fs::path(recorded_cache.value_or(""));
    if (!cache.empty()) {
        const auto cache_report = engine::ResultCache::verify(cache);
        print(cache_report);
        problems += cache_report.problems.size();
        summary += fmt::format("; cache {}: {} entries", cache.string(), cache_report.outputs);
    }
    if (problems == 0) {
        std::cout << fmt::format("verify {}: OK ({})\n", run_dir.string(), summary);
        return 0;
    }
    std::cout << fmt::format("verify {}: {} problem(s) ({})\n", run_dir.string(), problems, summary);
    return 1;
}

}  // namespace

void add_verify_command(CLI::App& app, Commands& commands) {
    struct Options {
        std::string run_dir, cache;
    };
    auto o = std::make_shared<Options>();
    auto* verify = app.add_subcommand("verify", "Check a run folder's store, its stored outputs' checksums and its shared "
                                                "cache (read-only; exit 1 if anything is wrong)");
    verify->add_option("RUN_DIR", o->run_dir, "Run folder")->required();
    verify->add_option("--cache", o->cache, "Shared cache to check (default: the one the run recorded)");
    commands.push_back({verify, [o] { return cmd_verify(o->run_dir, o->cache); }});
}

}  // namespace interphase::cli
