#include "structures/zsl.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numeric>

#include "common/errors.hpp"

namespace interphase::structures {

namespace {

// pymatgen's fast_norm: sqrt(a.a), written out so that ties in the reduction are decided by
// the same floating-point operations as in numpy.
double norm(const Eigen::Vector3d& a) { return std::sqrt(a.dot(a)); }

// One reduced supercell: the enumeration matrix, its reduced vectors and their lengths/angle.
struct Reduced {
    Eigen::Matrix2i transformation;
    PlaneVectors v;
    double len0, len1, angle;
};

std::vector<Reduced> reduced_supercells(const PlaneVectors& unit, int n) {
    std::vector<Reduced> out;
    for (const auto& t : supercell_transformations(n)) {
        // np.dot(t, vectors) with t = [[p, q], [0, n/p]] as floats.
        const Eigen::Vector3d a = double(t(0, 0)) * unit[0] + double(t(0, 1)) * unit[1];
        const Eigen::Vector3d b = double(t(1, 0)) * unit[0] + double(t(1, 1)) * unit[1];
        const auto r = zur_reduce(a, b);
        out.push_back({t, r, norm(r[0]), norm(r[1]), vector_angle(r[0], r[1])});
    }
    return out;
}

// Integer M with sl[i] = sum_j M(i, j) unit[j]; the sl vectors are lattice vectors by construction.
Eigen::Matrix2i integer_coefficients(const PlaneVectors& unit, const PlaneVectors& sl) {
    Eigen::Matrix<double, 3, 2> V;
    V.col(0) = unit[0];
    V.col(1) = unit[1];
    const Eigen::Matrix2d G = V.transpose() * V;
    Eigen::Matrix2i M;
    for (int i = 0; i < 2; ++i) {
        const Eigen::Vector2d c = G.ldlt().solve(V.transpose() * sl[static_cast<std::size_t>(i)]);
        for (int j = 0; j < 2; ++j) M(i, j) = static_cast<int>(std::lround(c[j]));
        const Eigen::Vector3d back = double(M(i, 0)) * unit[0] + double(M(i, 1)) * unit[1];
        if ((back - sl[static_cast<std::size_t>(i)]).norm() > 1e-6 * (1.0 + sl[static_cast<std::size_t>(i)].norm()))
            throw StructureError("zsl: a reduced supercell vector is not a lattice vector (internal error)");
    }
    return M;
}

ZslMatch make_match(const PlaneVectors& film, const PlaneVectors& substrate, const Reduced& f, const Reduced& s,
                    int i, int j) {
    ZslMatch m;
    m.film_sl_vectors = f.v;
    m.substrate_sl_vectors = s.v;
    m.film_transformation = f.transformation;
    m.substrate_transformation = s.transformation;
    m.film_supercell = integer_coefficients(film, f.v);
    m.substrate_supercell = integer_coefficients(substrate, s.v);
    m.film_multiple = i;
    m.substrate_multiple = j;
    m.film_area = plane_area(f.v);
    m.substrate_area = plane_area(s.v);
    m.length_strain = {s.len0 / f.len0 - 1, s.len1 / f.len1 - 1};
    m.angle_strain = s.angle / f.angle - 1;
    return m;
}

void check_inputs(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s) {
    auto finite = [](const PlaneVectors& v) { return v[0].allFinite() && v[1].allFinite(); };
    if (!finite(film) || !finite(substrate)) throw InputError("zsl", "vectors", "in-plane vectors must be finite");
    if (plane_area(film) < 1e-6) throw InputError("zsl", "film vectors", "the two in-plane vectors are parallel or zero");
    if (plane_area(substrate) < 1e-6)
        throw InputError("zsl", "substrate vectors", "the two in-plane vectors are parallel or zero");
    if (!(s.max_area > 0)) throw InputError("zsl", "max_area", fmt::format("must be > 0 Å² (got {})", s.max_area));
    if (!(s.max_length_tol > 0) || s.max_length_tol >= 1)
        throw InputError("zsl", "max_length_tol", fmt::format("must be in (0, 1) (got {})", s.max_length_tol));
    if (!(s.max_angle_tol > 0) || s.max_angle_tol >= 1)
        throw InputError("zsl", "max_angle_tol", fmt::format("must be in (0, 1) (got {})", s.max_angle_tol));
    if (!(s.max_area_ratio_tol > 0))
        throw InputError("zsl", "max_area_ratio_tol", fmt::format("must be > 0 (got {})", s.max_area_ratio_tol));
}

// Reduced supercells of each area multiple, computed once (a multiple pairs with several others).
class SupercellCache {
public:
    explicit SupercellCache(const PlaneVectors& unit) : unit_(unit) {}
    const std::vector<Reduced>& get(int n) {
        auto it = cache_.find(n);
        if (it == cache_.end()) it = cache_.emplace(n, reduced_supercells(unit_, n)).first;
        return it->second;
    }
private:
    PlaneVectors unit_;
    std::map<int, std::vector<Reduced>> cache_;
};

// Substrate supercells sorted by the length of their first reduced vector, so that the
// candidates for a film supercell are a window instead of the whole list.
std::vector<std::size_t> order_by_len0(const std::vector<Reduced>& v) {
    std::vector<std::size_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return v[a].len0 < v[b].len0; });
    return idx;
}

template <typename F>
void for_each_in_window(const std::vector<Reduced>& subs, const std::vector<std::size_t>& order, double lo, double hi,
                        F&& f) {
    auto first = std::lower_bound(order.begin(), order.end(), lo,
                                  [&](std::size_t k, double x) { return subs[k].len0 < x; });
    for (auto it = first; it != order.end() && subs[*it].len0 <= hi; ++it) f(*it);
}

}  // namespace

double plane_area(const PlaneVectors& v) { return norm(v[0].cross(v[1])); }

double vector_angle(const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
    return std::atan2(norm(a.cross(b)), a.dot(b));
}

PlaneVectors zur_reduce(const Eigen::Vector3d& a_in, const Eigen::Vector3d& b_in) {
    Eigen::Vector3d a = a_in, b = b_in;
    // pymatgen recurses; the loop takes the same steps. The cap guards against a cycle between
    // equally long vectors that rounding could produce (never seen; the result stays reduced).
    for (int step = 0; step < 100000; ++step) {
        if (a.dot(b) < 0) {
            b = -b;
        } else if (norm(a) > norm(b)) {
            std::swap(a, b);
        } else if (norm(b) > norm(b + a)) {
            b = b + a;
        } else if (norm(b) > norm(b - a)) {
            b = b - a;
        } else {
            break;
        }
    }
    return {a, b};
}

std::vector<Eigen::Matrix2i> supercell_transformations(int n) {
    std::vector<Eigen::Matrix2i> out;
    for (int p = 1; p <= n; ++p) {
        if (n % p != 0) continue;
        for (int q = 0; q < n / p; ++q) {
            Eigen::Matrix2i t;
            t << p, q, 0, n / p;
            out.push_back(t);
        }
    }
    return out;
}

std::vector<std::pair<int, int>> area_multiple_pairs(double film_area, double substrate_area, const ZslSettings& s) {
    // range(1, int(max_area / area)) in pymatgen: the last multiple is excluded.
    const int imax = static_cast<int>(s.max_area / film_area);
    const int jmax = static_cast<int>(s.max_area / substrate_area);
    std::vector<std::pair<int, int>> out;
    for (int i = 1; i < imax; ++i)
        for (int j = 1; j < jmax; ++j)
            if (std::abs(film_area / substrate_area - double(j) / i) < s.max_area_ratio_tol ||
                std::abs(substrate_area / film_area - double(i) / j) < s.max_area_ratio_tol)
                out.emplace_back(i, j);
    std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
        return x.first * x.second < y.first * y.second;
    });
    return out;
}

bool is_same_vectors(const PlaneVectors& f, const PlaneVectors& s, const ZslSettings& st) {
    auto uni = [&](const PlaneVectors& v1, const PlaneVectors& v2) {
        if (std::abs(norm(v2[0]) / norm(v1[0]) - 1) > st.max_length_tol) return false;
        if (std::abs(norm(v2[1]) / norm(v1[1]) - 1) > st.max_length_tol) return false;
        if (std::abs(vector_angle(v2[0], v2[1]) / vector_angle(v1[0], v1[1]) - 1) > st.max_angle_tol) return false;
        return true;
    };
    return uni(f, s) || (st.bidirectional && uni(s, f));
}

std::vector<ZslMatch> zsl_matches(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s) {
    check_inputs(film, substrate, s);
    SupercellCache films(film), subs(substrate);
    const double tol = s.max_length_tol;
    std::vector<ZslMatch> out;
    for (const auto& [i, j] : area_multiple_pairs(plane_area(film), plane_area(substrate), s)) {
        const auto& F = films.get(i);
        const auto& S = subs.get(j);
        const auto order = order_by_len0(S);
        std::vector<std::pair<std::size_t, std::size_t>> hits;
        for (std::size_t fi = 0; fi < F.size(); ++fi) {
            // Window on |s0| slightly wider than the exact test, which then decides as pymatgen does.
            double lo = F[fi].len0 * (1 - tol), hi = F[fi].len0 * (1 + tol);
            if (s.bidirectional) {
                lo = std::min(lo, F[fi].len0 / (1 + tol));
                hi = std::max(hi, F[fi].len0 / (1 - tol));
            }
            for_each_in_window(S, order, lo * (1 - 1e-9), hi * (1 + 1e-9), [&](std::size_t si) {
                if (is_same_vectors(F[fi].v, S[si].v, s)) hits.emplace_back(fi, si);
            });
        }
        // product(film_transformations, substrate_transformations) order.
        std::sort(hits.begin(), hits.end());
        for (const auto& [fi, si] : hits) out.push_back(make_match(film, substrate, F[fi], S[si], i, j));
    }
    return out;
}

double zsl_misfit(const ZslMatch& m, bool bidirectional) {
    const double fwd = std::max({std::abs(m.length_strain[0]), std::abs(m.length_strain[1]), std::abs(m.angle_strain)});
    if (!bidirectional) return fwd;
    const double rev = std::max({std::abs(1 / (1 + m.length_strain[0]) - 1), std::abs(1 / (1 + m.length_strain[1]) - 1),
                                 std::abs(1 / (1 + m.angle_strain) - 1)});
    return std::min(fwd, rev);
}

std::optional<ZslMatch> zsl_closest(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s,
                                    double max_area, double misfit_cap) {
    ZslSettings wide = s;
    wide.max_area = max_area;
    check_inputs(film, substrate, wide);
    SupercellCache films(film), subs(substrate);
    std::optional<ZslMatch> best;
    double best_misfit = misfit_cap, best_area = 1e300;
    for (const auto& [i, j] : area_multiple_pairs(plane_area(film), plane_area(substrate), wide)) {
        const auto& F = films.get(i);
        const auto& S = subs.get(j);
        const auto order = order_by_len0(S);
        for (const auto& f : F) {
            // Branch and bound: the first vector alone must not exceed the best misfit so far.
            const double b = std::min(best_misfit, 0.99) + 1e-9;
            double lo = f.len0 * (1 - b), hi = f.len0 * (1 + b);
            if (s.bidirectional) {
                lo = std::min(lo, f.len0 / (1 + b));
                hi = std::max(hi, f.len0 / (1 - b));
            }
            for_each_in_window(S, order, lo, hi, [&](std::size_t si) {
                const auto& c = S[si];
                const double fwd = std::max({std::abs(c.len0 / f.len0 - 1), std::abs(c.len1 / f.len1 - 1),
                                             std::abs(c.angle / f.angle - 1)});
                double mis = fwd;
                if (s.bidirectional)
                    mis = std::min(mis, std::max({std::abs(f.len0 / c.len0 - 1), std::abs(f.len1 / c.len1 - 1),
                                                  std::abs(f.angle / c.angle - 1)}));
                const double area = plane_area(f.v);
                if (mis > best_misfit + 1e-12) return;
                if (best && mis > best_misfit - 1e-12 && area >= best_area) return;
                best = make_match(film, substrate, f, c, i, j);
                best_misfit = mis;
                best_area = area;
            });
        }
    }
    return best;
}

}  // namespace interphase::structures
