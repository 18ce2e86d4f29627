#include "structures/symmetry.hpp"

#include <spglib.h>

#include <array>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <mutex>

#include "common/errors.hpp"
#include "structures/elements.hpp"

namespace interphase::structures {
namespace {

// spglib 2.0 keeps its error code in a process-wide variable: two threads analysing at once
// could read each other's code. Every call into spglib holds this lock.
std::mutex& spglib_mutex() {
    static std::mutex m;
    return m;
}

struct DatasetDeleter {
    void operator()(SpglibDataset* d) const noexcept { spg_free_dataset(d); }
};
using DatasetPtr = std::unique_ptr<SpglibDataset, DatasetDeleter>;

// Call with the lock held, right after the failing spglib call.
std::string spglib_error_text() {
    const SpglibError code = spg_get_error_code();
    const char* msg = spg_get_error_message(code);
    return fmt::format("{} (spglib error {})", msg ? msg : "unknown error", static_cast<int>(code));
}

// The cell in spglib's layout: lattice vectors as columns, positions as n×3, atomic numbers.
// Buffers are sized `capacity` atoms because spg_standardize_cell writes the result in place
// and a conventional cell holds up to 4× the atoms of the input (face centring).
struct SpglibCell {
    double lattice[3][3];
    std::vector<double> positions;
    std::vector<int> types;
    int n = 0;

    SpglibCell(const Structure& s, std::size_t capacity_factor) {
        if (s.size() == 0) throw StructureError("symmetry analysis needs at least one atom");
        if (!s.lattice().allFinite() || std::abs(s.lattice().determinant()) < 1e-8)
            throw StructureError("symmetry analysis needs a finite, non-singular lattice");
        const auto& L = s.lattice();
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) lattice[i][j] = L(j, i);
        n = static_cast<int>(s.size());
        positions.assign(3 * s.size() * capacity_factor, 0.0);
        types.assign(s.size() * capacity_factor, 0);
        for (std::size_t i = 0; i < s.size(); ++i) {
            const auto& a = s[i];
            if (!a.frac.allFinite())
                throw StructureError(fmt::format("symmetry analysis: atom {} ({}) has non-finite coordinates",
                                                 i + 1, a.species));
            for (int k = 0; k < 3; ++k) positions[3 * i + static_cast<std::size_t>(k)] = a.frac[k];
            types[i] = element(a.species).number;
        }
    }
    double (*pos())[3] { return reinterpret_cast<double(*)[3]>(positions.data()); }
};

std::string trimmed(const char* s, std::size_t max) {
    std::string out(s, strnlen(s, max));
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// Fractional coordinate in [0, 1); values a rounding error below 1 become 0 so that
// spglib's idealized positions (…, 0.9999999999999998) read as the sites they are.
double wrap01(double x) {
    x -= std::floor(x);
    if (x >= 1.0 - 1e-12 || x < 1e-12) x = 0.0;
    return x;
}

void check_hall_number(int hall_number) {
    if (hall_number < 1 || hall_number > 530)
        throw InputError("space-group database", "hall_number",
                         fmt::format("must be between 1 and 530, got {}", hall_number));
}

}  // namespace

SymmetryDataset analyze_symmetry(const Structure& s, double symprec) {
    if (!(symprec > 0)) throw StructureError(fmt::format("symmetry tolerance must be positive, got {}", symprec));
    SpglibCell cell(s, 1);
    std::lock_guard<std::mutex> lock(spglib_mutex());
    DatasetPtr d(spg_get_dataset(cell.lattice, cell.pos(), cell.types.data(), cell.n, symprec));
    if (!d) throw StructureError("spglib could not determine the space group of " +
                                 (s.title.empty() ? std::string("the structure") : "'" + s.title + "'") +
                                 ": " + spglib_error_text());
    SymmetryDataset out;
    out.number = d->spacegroup_number;
    out.international = trimmed(d->international_symbol, sizeof d->international_symbol);
    out.hall = trimmed(d->hall_symbol, sizeof d->hall_symbol);
    out.hall_number = d->hall_number;
    out.pointgroup = trimmed(d->pointgroup_symbol, sizeof d->pointgroup_symbol);
    out.rotations.reserve(static_cast<std::size_t>(d->n_operations));
    out.translations.reserve(static_cast<std::size_t>(d->n_operations));
    for (int op = 0; op < d->n_operations; ++op) {
        Eigen::Matrix3i r;
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) r(i, j) = d->rotations[op][i][j];
        out.rotations.push_back(r);
        out.translations.emplace_back(d->translations[op][0], d->translations[op][1], d->translations[op][2]);
    }
    for (int i = 0; i < d->n_atoms; ++i) {
        // spglib numbers letters 0 = 'a' ... 25 = 'z'; 26 is Wyckoff 'α' (P1-like general
        // positions only in a few groups), written out rather than as a non-ASCII letter.
        const int w = d->wyckoffs[i];
        out.wyckoffs.push_back(w >= 0 && w < 26 ? std::string(1, static_cast<char>('a' + w)) : std::string("alpha"));
        out.equivalent_atoms.push_back(d->equivalent_atoms[i]);
    }
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) out.transformation(i, j) = d->transformation_matrix[i][j];
        out.origin_shift[i] = d->origin_shift[i];
    }
    return out;
}

Structure standardize(const Structure& s, bool to_primitive, double symprec) {
    if (!(symprec > 0)) throw StructureError(fmt::format("symmetry tolerance must be positive, got {}", symprec));
    SpglibCell cell(s, 4);
    int n = 0;
    {
        std::lock_guard<std::mutex> lock(spglib_mutex());
        n = spg_standardize_cell(cell.lattice, cell.pos(), cell.types.data(), cell.n, to_primitive ? 1 : 0,
                                 /*no_idealize=*/0, symprec);
        if (n <= 0)
            throw StructureError(fmt::format("spglib could not build the {} cell of {}: {}",
                                             to_primitive ? "primitive" : "conventional",
                                             s.title.empty() ? std::string("the structure") : "'" + s.title + "'",
                                             spglib_error_text()));
    }
    if (static_cast<std::size_t>(n) > cell.types.size())  // cannot happen (≤ 4×), but never read past the buffer
        throw StructureError("spglib returned more atoms than the standardization buffer holds");
    Eigen::Matrix3d L;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) L(j, i) = cell.lattice[i][j];
    Structure out(L, s.pbc());
    out.title = s.title;
    out.info = s.info;
    if (out.info.is_null() || out.info.is_object()) out.info["cell"] = to_primitive ? "primitive" : "conventional";
    for (int i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        const Eigen::Vector3d f(wrap01(cell.positions[3 * k]), wrap01(cell.positions[3 * k + 1]),
                                wrap01(cell.positions[3 * k + 2]));
        out.add_atom(element(cell.types[k]).symbol, f);
    }
    return out;
}

std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> space_group_operations(int hall_number) {
    check_hall_number(hall_number);
    int rotations[192][3][3];
    double translations[192][3];
    int n = 0;
    {
        std::lock_guard<std::mutex> lock(spglib_mutex());
        n = spg_get_symmetry_from_database(rotations, translations, hall_number);
        if (n <= 0)
            throw StructureError(fmt::format("spglib has no operations for Hall number {}: {}", hall_number,
                                             spglib_error_text()));
    }
    std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> ops;
    ops.reserve(static_cast<std::size_t>(n));
    for (int op = 0; op < n; ++op) {
        Eigen::Matrix3i r;
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) r(i, j) = rotations[op][i][j];
        ops.emplace_back(r, Eigen::Vector3d(translations[op][0], translations[op][1], translations[op][2]));
    }
    return ops;
}

HallSetting hall_setting(int hall_number) {
    check_hall_number(hall_number);
    SpglibSpacegroupType t;
    {
        std::lock_guard<std::mutex> lock(spglib_mutex());
        t = spg_get_spacegroup_type(hall_number);
    }
    if (t.number < 1 || t.number > 230)
        throw StructureError(fmt::format("spglib has no space-group type for Hall number {}", hall_number));
    HallSetting h;
    h.hall_number = hall_number;
    h.number = t.number;
    h.international = trimmed(t.international_short, sizeof t.international_short);
    h.hall_symbol = trimmed(t.hall_symbol, sizeof t.hall_symbol);
    h.choice = trimmed(t.choice, sizeof t.choice);
    return h;
}

int default_hall_number(int space_group_number) {
    if (space_group_number < 1 || space_group_number > 230)
        throw InputError("space-group database", "space_group",
                         fmt::format("must be between 1 and 230, got {}", space_group_number));
    // Built once: the Hall table is ordered by space-group number, so the first hit is
    // spglib's default setting.
    static const std::array<int, 231> first = [] {
        std::array<int, 231> f{};
        for (int h = 530; h >= 1; --h) f[static_cast<std::size_t>(hall_setting(h).number)] = h;
        return f;
    }();
    return first[static_cast<std::size_t>(space_group_number)];
}

}  // namespace interphase::structures
