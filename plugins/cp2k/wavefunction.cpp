// Completeness of CP2K wavefunction restart files. CP2K rewrites cp2k-RESTART.wfn after every
// SCF: it first renames the previous file to cp2k-RESTART.wfn.bak-1, then writes the new one.
// A run stopped by SIGTERM (a batch time limit) can therefore leave no .wfn, an empty one or a
// truncated one, with the last complete wavefunction in .bak-1. The restart must take the
// newest complete file: CP2K reading a truncated file aborts the continued run.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "plugins/cp2k/cp2k.hpp"

namespace interphase::plugins::cp2k {
namespace {

/// The payloads of a gfortran sequential unformatted file: every record is framed by its
/// length as a 4-byte integer before and after. nullopt when a frame is cut or inconsistent.
std::optional<std::vector<std::string>> fortran_records(const std::string& bytes) {
    std::vector<std::string> records;
    std::size_t at = 0;
    while (at < bytes.size()) {
        std::int32_t head = 0, tail = 0;
        if (bytes.size() - at < 4) return std::nullopt;
        std::memcpy(&head, bytes.data() + at, 4);
        if (head < 0 || bytes.size() - at - 4 < static_cast<std::size_t>(head) + 4) return std::nullopt;
        std::memcpy(&tail, bytes.data() + at + 4 + head, 4);
        if (tail != head) return std::nullopt;
        records.emplace_back(bytes.substr(at + 4, static_cast<std::size_t>(head)));
        at += 8 + static_cast<std::size_t>(head);
    }
    return records;
}

std::int32_t int_at(const std::string& record, std::size_t index) {
    std::int32_t v = 0;
    if (record.size() >= 4 * (index + 1)) std::memcpy(&v, record.data() + 4 * index, 4);
    return v;
}

}  // namespace

bool wavefunction_complete(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto records = fortran_records(bytes);
    if (!records || records->empty()) return false;
    // k-point files (.kp) are checked for whole records only; backups keep the .wfn in their name
    if (file.filename().string().find(".wfn") == std::string::npos) return true;
    // Γ-point layout (qs_mo_io.F, write_mo_set_low): natom, nspin, nao, nset_max, nshell_max;
    // nset_info; nshell_info; nso_info; then per spin: nmo, homo, lfomo, nelectron; eigenvalues
    // and occupations; nmo coefficient vectors of nao reals.
    const auto& r = *records;
    if (r[0].size() < 20) return false;
    const std::int32_t nspin = int_at(r[0], 1), nao = int_at(r[0], 2);
    if (nspin < 1 || nspin > 2 || nao < 1) return false;
    std::size_t next = 4;
    for (int spin = 0; spin < nspin; ++spin) {
        if (next + 1 >= r.size() || r[next].size() < 16) return false;
        const std::int32_t nmo = int_at(r[next], 0);
        if (nmo < 0 || r[next + 1].size() != 16 * static_cast<std::size_t>(nmo)) return false;
        next += 2;
        for (int mo = 0; mo < nmo; ++mo, ++next)
            if (next >= r.size() || r[next].size() != 8 * static_cast<std::size_t>(nao)) return false;
    }
    return next == r.size();
}

std::optional<std::filesystem::path> last_complete_wavefunction(const std::filesystem::path& dir) {
    std::error_code ec;
    for (const char* ext : {"wfn", "kp"}) {
        const auto newest = dir / fmt::format("cp2k-RESTART.{}", ext);
        if (wavefunction_complete(newest)) return newest;
        // CP2K keeps one backup by default (BACKUP_COPIES 1); .bak-1 is the newest backup.
        for (int copy = 1; copy <= 3; ++copy) {
            const auto backup = dir / fmt::format("cp2k-RESTART.{}.bak-{}", ext, copy);
            if (std::filesystem::is_regular_file(backup, ec) && wavefunction_complete(backup)) return backup;
        }
    }
    return std::nullopt;
}

}  // namespace interphase::plugins::cp2k
