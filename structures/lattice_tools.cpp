#include "structures/lattice_tools.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
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

namespace {

/// LLL reduction (Lenstra, Lenstra, Lovász 1982; delta = 0.99) of up to three linearly
/// independent vectors. A reduced basis keeps the enumeration bounds of the shortest-vector
/// search at a few units even for needle-like cells.
std::vector<Eigen::Vector3d> lll_reduced(std::vector<Eigen::Vector3d> b) {
    const std::size_t m = b.size();
    std::vector<Eigen::Vector3d> star(m);
    auto gram_schmidt = [&] {
        for (std::size_t i = 0; i < m; ++i) {
            star[i] = b[i];
            for (std::size_t j = 0; j < i; ++j) star[i] -= b[i].dot(star[j]) / star[j].squaredNorm() * star[j];
        }
    };
    auto mu = [&](std::size_t i, std::size_t j) { return b[i].dot(star[j]) / star[j].squaredNorm(); };
    gram_schmidt();
    std::size_t k = 1;
    // Each swap shrinks a positive potential by a factor 0.99; the cap only guards round-off loops.
    for (int guard = 0; k < m && guard < 10000; ++guard) {
        for (std::size_t j = k; j-- > 0;) {
            const double q = std::round(mu(k, j));
            if (q != 0) {
                b[k] -= q * b[j];
                gram_schmidt();
            }
        }
        const double mk = mu(k, k - 1);
        if (star[k].squaredNorm() >= (0.99 - mk * mk) * star[k - 1].squaredNorm()) {
            ++k;
        } else {
            std::swap(b[k], b[k - 1]);
            gram_schmidt();
            k = std::max<std::size_t>(k - 1, 1);
        }
    }
    return b;
}

/// Shortest nonzero vector of the lattice spanned by the periodic rows of L.
double shortest_lattice_vector(const Eigen::Matrix3d& L, const std::array<bool, 3>& pbc) {
    std::vector<Eigen::Vector3d> basis;
    for (int k = 0; k < 3; ++k)
        if (pbc[static_cast<std::size_t>(k)]) basis.push_back(L.row(k).transpose());
    if (basis.empty()) return std::numeric_limits<double>::infinity();
    const std::size_t m = basis.size();
    Eigen::MatrixXd B(m, 3);
    for (std::size_t i = 0; i < m; ++i) B.row(static_cast<Eigen::Index>(i)) = basis[i].transpose();
    const Eigen::MatrixXd G = B * B.transpose();
    // det G is the squared volume of the periodic cell; relative to the product of the squared
    // lengths it is sin² of the angles, zero (to round-off) for dependent vectors.
    const double lengths = G.diagonal().prod();
    if (!std::isfinite(lengths) || !(G.determinant() > 1e-12 * lengths))
        throw StructureError("the lattice is singular: its periodic cell vectors are linearly dependent");
    basis = lll_reduced(basis);
    for (std::size_t i = 0; i < m; ++i) B.row(static_cast<Eigen::Index>(i)) = basis[i].transpose();
    const Eigen::MatrixXd Ginv = (B * B.transpose()).inverse();
    double best = std::numeric_limits<double>::infinity();
    for (const auto& v : basis) best = std::min(best, v.norm());
    // For v = sum n_i b_i, n_i = v . b_i* with |b_i*|^2 = (G^-1)_ii, so |n_i| <= |v| |b_i*|:
    // combinations beyond these bounds are longer than the best vector already known.
    std::array<int, 3> bound{0, 0, 0};
    for (std::size_t i = 0; i < m; ++i)
        bound[i] = static_cast<int>(std::floor(best * std::sqrt(Ginv(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i))) + 1e-9));
    for (int i = -bound[0]; i <= bound[0]; ++i)
        for (int j = -bound[1]; j <= bound[1]; ++j)
            for (int k = -bound[2]; k <= bound[2]; ++k) {
                if (!i && !j && !k) continue;
                Eigen::Vector3d v = i * basis[0];
                if (m > 1) v += j * basis[1];
                if (m > 2) v += k * basis[2];
                best = std::min(best, v.norm());
            }
    return best;
}

}  // namespace

double min_image_distance(const Structure& s) { return shortest_lattice_vector(s.lattice(), s.pbc()); }

std::array<int, 3> supercell_for_min_image_distance(const Structure& s, double distance) {
    if (!(distance > 0) || !std::isfinite(distance))
        throw InputError("supercell", "min_image_distance", fmt::format("must be a positive number of Å, got {}", distance));
    constexpr int kMaxRepeats = 20;  // as repeat_cell
    const auto& pbc = s.pbc();
    std::array<int, 3> limit{};
    for (std::size_t k = 0; k < 3; ++k) limit[k] = pbc[k] ? kMaxRepeats : 1;
    std::array<int, 3> best{0, 0, 0};
    long best_cells = 0;
    double best_ratio = 0;
    for (int na = 1; na <= limit[0]; ++na)
        for (int nb = 1; nb <= limit[1]; ++nb)
            for (int nc = 1; nc <= limit[2]; ++nc) {
                const long cells = static_cast<long>(na) * nb * nc;
                if (best[0] && cells > best_cells) continue;
                Eigen::Matrix3d L = s.lattice();
                L.row(0) *= na;
                L.row(1) *= nb;
                L.row(2) *= nc;
                if (shortest_lattice_vector(L, pbc) < distance) continue;
                double longest = 0, shortest = std::numeric_limits<double>::infinity();
                for (std::size_t k = 0; k < 3; ++k)
                    if (pbc[k]) {
                        longest = std::max(longest, L.row(static_cast<Eigen::Index>(k)).norm());
                        shortest = std::min(shortest, L.row(static_cast<Eigen::Index>(k)).norm());
                    }
                const double ratio = longest > 0 ? longest / shortest : 1.0;
                // Loops run in lexicographic order, so a strict improvement keeps the first tie.
                if (!best[0] || cells < best_cells || ratio < best_ratio * (1 - 1e-9)) {
                    best = {na, nb, nc};
                    best_cells = cells;
                    best_ratio = ratio;
                }
            }
    if (!best[0])
        throw InputError("supercell", "min_image_distance",
                         fmt::format("{} Å needs more than {} repeats along a periodic direction (the shortest lattice "
                                     "vector of the cell is {:.3f} Å)",
                                     distance, kMaxRepeats, min_image_distance(s)));
    return best;
}

}  // namespace interphase::structures
