// The MPI pilot's journal (RUN_DIR/mpi/journal.tsv: time, event, task, rank, host, pid, ...) as
// the pilot tests read it: which rank ran which calculation.
#pragma once

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.hpp"

namespace interphase::testing {

struct PilotJournalLine {
    std::string event, task;
    int rank = -1;
    long pid = 0;
};

/// The complete lines of RUN_DIR/mpi/journal.tsv (a line still being written is left out).
inline std::vector<PilotJournalLine> pilot_journal(const std::filesystem::path& run_dir) {
    std::vector<PilotJournalLine> out;
    std::string text = slurp(run_dir / "mpi" / "journal.tsv");
    text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> f;
        std::istringstream cols(line);
        for (std::string c; std::getline(cols, c, '\t');) f.push_back(c);
        if (f.size() < 6) continue;
        out.push_back({f[1], f[2], std::stoi(f[3]), std::stol(f[5])});
    }
    return out;
}

/// Calculations finished per rank.
inline std::map<int, int> done_per_rank(const std::filesystem::path& run_dir) {
    std::map<int, int> n;
    for (const auto& l : pilot_journal(run_dir))
        if (l.event == "done") ++n[l.rank];
    return n;
}

}  // namespace interphase::testing
