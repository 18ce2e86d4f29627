#include "structures/lattice_tools.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "common/errors.hpp"

namespace interphase::structures {

namespace {
Eigen::Vector3d wrap01(Eigen::Vector3d f) {
    for (int k = 0; k < 3; ++k) {
        f[k] -= std::floor(f[k]);
        if (f[k] >= 1.0 - 1e-12) f[k] = 0.0;
    }
    return f;
}

bool has_atom_at(const Structure& s, const std::string& species, const Eigen::Vector3d& frac, double tol) {
    for (const auto& a : s.atoms())
        if (a.species == species && s.minimum_image(a.frac, frac).norm() < tol) return true;
    return false;
}
}  // namespace

std::vector<Eigen::Vector3d> pure_translations(const Structure& s, double tol) {
    std::vector<Eigen::Vector3d> out{Eigen::Vector3d::Zero()};
    if (s.size() == 0) return out;
    // Candidates: vectors from one atom of the rarest species to every atom of that species.
    std::map<std::string, int> comp = s.composition();
    std::string rare = comp.begin()->first;
    for (const auto& [sp, n] : comp)
        if (n < comp[rare]) rare = sp;
    std::size_t first = 0;
    while (s[first].species != rare) ++first;
    for (std::size_t j = 0; j < s.size(); ++j) {
        if (j == first || s[j].species != rare) continue;
        const Eigen::Vector3d t = wrap01(s[j].frac - s[first].frac);
        bool all = true;
        for (const auto& a : s.atoms())
            if (!has_atom_at(s, a.species, a.frac + t, tol)) { all = false; break; }
        if (all) {
            bool dup = false;
            for (const auto& u : out)
                if (s.minimum_image(u, t).norm() < tol) dup = true;
            if (!dup) out.push_back(t);
        }
    }
    return out;
}

Structure primitive_of(const Structure& s, double tol) {
    const auto translations = pure_translations(s, tol);
    const double vprim = s.volume() / static_cast<double>(translations.size());
    struct Vec { Eigen::Vector3d cart; double len; };
    std::vector<Vec> cands;
    for (const auto& t : translations)
        for (int i = -1; i <= 1; ++i)
            for (int j = -1; j <= 1; ++j)
                for (int k = -1; k <= 1; ++k) {
                    const Eigen::Vector3d c = s.to_cartesian(t + Eigen::Vector3d(i, j, k));
                    if (c.norm() > 1e-6) cands.push_back({c, c.norm()});
                }
    std::sort(cands.begin(), cands.end(), [](const Vec& a, const Vec& b) { return a.len < b.len; });
    for (std::size_t i1 = 0; i1 < cands.size(); ++i1)
        for (std::size_t i2 = i1 + 1; i2 < cands.size(); ++i2) {
            if (cands[i1].cart.cross(cands[i2].cart).norm() < 1e-6 * cands[i1].len * cands[i2].len) continue;
            for (std::size_t i3 = i2 + 1; i3 < cands.size(); ++i3) {
                Eigen::Matrix3d L;
                L.row(0) = cands[i1].cart;
                L.row(1) = cands[i2].cart;
                L.row(2) = cands[i3].cart;
                const double det = L.determinant();
                if (std::abs(std::abs(det) - vprim) > 1e-6 * vprim) continue;
                if (det < 0) L.row(2) = -L.row(2);
                Structure p(L);
                p.title = s.title;
                for (std::size_t a = 0; a < s.size(); ++a) {
                    const Eigen::Vector3d f = wrap01(p.to_fractional(s.cartesian(a)));
                    if (!has_atom_at(p, s[a].species, f, tol)) p.add_atom(s[a].species, f);
                }
                if (p.size() * translations.size() != s.size())
                    throw StructureError(fmt::format("primitive cell search found {} atoms for {} translations of {} atoms",
                                                     p.size(), translations.size(), s.size()));
                return p;
            }
        }
    throw StructureError("could not find a primitive cell (inconsistent translations)");
}

}  // namespace interphase::structures
