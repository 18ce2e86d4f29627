#include "structures/slab.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <numeric>
#include <set>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"
#include "structures/io.hpp"
#include "structures/lattice_tools.hpp"

namespace interphase::structures {

std::array<int, 3> reduce_miller(const std::array<int, 3>& hkl) {
    const int g = std::gcd(std::gcd(std::abs(hkl[0]), std::abs(hkl[1])), std::abs(hkl[2]));
    if (g == 0) throw InputError("slab", "miller", "Miller index (0,0,0) does not define a plane");
    return {hkl[0] / g, hkl[1] / g, hkl[2] / g};
}

std::array<int, 3> parse_miller(const std::string& text, const std::string& source) {
    std::string s = text;
    for (auto& c : s)
        if (c == ',' || c == '(' || c == ')' || c == '[' || c == ']') c = ' ';
    auto tokens = text::split_ws(s);
    std::vector<int> v;
    if (tokens.size() == 1 && tokens[0].find_first_not_of("0123456789") == std::string::npos && tokens[0].size() == 3) {
        for (char c : tokens[0]) v.push_back(c - '0');  // "111"
    } else {
        for (const auto& t : tokens) {
            auto i = text::parse_int(t);
            if (!i || std::abs(*i) > 100) throw InputError(source, "miller", fmt::format("'{}' is not a Miller index", text));
            v.push_back(static_cast<int>(*i));
        }
    }
    if (v.size() == 4) {
        // Hexagonal Miller–Bravais (h k i l) with i = -(h + k).
        if (v[2] != -(v[0] + v[1]))
            throw InputError(source, "miller", fmt::format("'{}': in (h,k,i,l) i must equal -(h+k)", text));
        v = {v[0], v[1], v[3]};
    }
    if (v.size() != 3) throw InputError(source, "miller", fmt::format("'{}' needs 3 (or 4 hexagonal) integers", text));
    if (v[0] == 0 && v[1] == 0 && v[2] == 0) throw InputError(source, "miller", "(0,0,0) does not define a plane");
    return {v[0], v[1], v[2]};
}

namespace {

constexpr int kSearchRange = 6;

double wrap_to(double z, double period) { return z - std::floor(z / period) * period; }
/// Signed distance of z to the nearest multiple of `period`.
double periodic_residual(double z, double period) { return z - std::round(z / period) * period; }

Eigen::Vector3d miller_vector(const std::array<int, 3>& h) { return Eigen::Vector3d(h[0], h[1], h[2]); }

/// primitive_of within symprec; when noise makes the translations found at that tolerance
/// inconsistent or not exact lattice vectors of the input cell, the tight default (1e-3 Å)
/// instead — possibly a larger cell, never a wrong one.
Structure primitive_within(const Structure& bulk, double symprec) {
    try {
        Structure p = primitive_of(bulk, symprec);
        const Eigen::Matrix3d M = bulk.lattice() * p.lattice().inverse();  // integer for a sublattice
        if ((M - M.array().round().matrix()).cwiseAbs().maxCoeff() < 1e-6) return p;
    } catch (const StructureError&) {
    }
    return primitive_of(bulk);
}

}  // namespace

Eigen::Matrix3i pymatgen_slab_scale_factor(const Eigen::Matrix3d& lattice, const std::array<int, 3>& miller_in) {
    // A line-by-line transcription of SlabGenerator.__init__ (max_normal_search=None), so that
    // the oriented cell — and with it the slab thickness in whole cells — is pymatgen's.
    const auto miller = reduce_miller(miller_in);
    const Eigen::Vector3d normal = (lattice.inverse() * miller_vector(miller)).normalized();
    std::vector<Eigen::Vector3i> rows;
    std::vector<std::pair<int, double>> non_orth;
    for (int i = 0; i < 3; ++i) {
        if (miller[static_cast<std::size_t>(i)] == 0) {
            rows.push_back(Eigen::Vector3i::Unit(i));
        } else {
            const Eigen::Vector3d a = lattice.row(i);
            non_orth.emplace_back(i, std::abs(normal.dot(a)) / a.norm());
        }
    }
    int c_index = non_orth.front().first;  // Python's max(): the first of equal maxima
    double best = non_orth.front().second;
    for (const auto& [i, d] : non_orth)
        if (d > best) { best = d; c_index = i; }
    if (non_orth.size() > 1) {
        long long lcm = 1;  // monty.fractions.lcm: n = i * n // gcd(i, n), signed
        for (const auto& [i, d] : non_orth) {
            const long long m = miller[static_cast<std::size_t>(i)];
            lcm = m * lcm / std::gcd(m, lcm);
        }
        for (std::size_t p = 0; p < non_orth.size() && rows.size() < 2; ++p)
            for (std::size_t q = p + 1; q < non_orth.size() && rows.size() < 2; ++q) {
                const int ii = non_orth[p].first, jj = non_orth[q].first;
                Eigen::Vector3i l = Eigen::Vector3i::Zero();
                l[ii] = static_cast<int>(-lcm / miller[static_cast<std::size_t>(ii)]);
                l[jj] = static_cast<int>(lcm / miller[static_cast<std::size_t>(jj)]);
                rows.push_back(l);
            }
    }
    rows.push_back(Eigen::Vector3i::Unit(c_index));
    Eigen::Matrix3i M;
    for (int r = 0; r < 3; ++r) M.row(r) = rows[static_cast<std::size_t>(r)].transpose();
    if (M.cast<double>().determinant() < 0) M = -M;
    for (int r = 0; r < 3; ++r) {
        const int g = std::gcd(std::gcd(std::abs(M(r, 0)), std::abs(M(r, 1))), std::abs(M(r, 2)));
        if (g > 1) M.row(r) /= g;
    }
    return M;
}

namespace {
// oriented_cell and crystal_operations on a primitive cell found once by the caller: the
// primitive search is the costliest step of both, and SlabGenerator needs both.
OrientedCell oriented_cell_of(const Structure& bulk, const Structure& prim, const std::array<int, 3>& miller_in) {
    const auto miller = reduce_miller(miller_in);
    const Eigen::Matrix3d C = bulk.lattice(), P = prim.lattice();
    // Plane normal (reciprocal vector without 2π) from the user's indices in the input basis.
    const Eigen::Vector3d g = C.inverse() * miller_vector(miller);
    const Eigen::Vector3d hp = P * g;  // indices in the primitive basis (rational)
    std::array<int, 3> mp{};
    bool found = false;
    for (int scale = 1; scale <= 48 && !found; ++scale) {
        Eigen::Vector3d s = hp * scale;
        if ((s - s.array().round().matrix()).cwiseAbs().maxCoeff() < 1e-6) {
            mp = reduce_miller({static_cast<int>(std::lround(s[0])), static_cast<int>(std::lround(s[1])),
                                static_cast<int>(std::lround(s[2]))});
            found = true;
        }
    }
    if (!found) throw StructureError(fmt::format("cannot express ({},{},{}) in the primitive basis", miller[0], miller[1], miller[2]));

    const Eigen::Vector3d gp = P.inverse() * miller_vector(mp);
    const Eigen::Vector3d normal = gp.normalized();
    const double area0 = prim.volume() * gp.norm();  // area of the primitive 2D cell of the plane

    struct Candidate { Eigen::Vector3i u; Eigen::Vector3d cart; double len; };
    std::vector<Candidate> inplane, stacking;
    for (int i = -kSearchRange; i <= kSearchRange; ++i)
        for (int j = -kSearchRange; j <= kSearchRange; ++j)
            for (int k = -kSearchRange; k <= kSearchRange; ++k) {
                const int dot = mp[0] * i + mp[1] * j + mp[2] * k;
                if (dot != 0 && dot != 1) continue;
                if (i == 0 && j == 0 && k == 0) continue;
                Eigen::Vector3i u(i, j, k);
                Eigen::Vector3d cart = P.transpose() * u.cast<double>();
                (dot == 0 ? inplane : stacking).push_back({u, cart, cart.norm()});
            }
    auto by_len = [](const Candidate& a, const Candidate& b) { return a.len < b.len - 1e-9; };
    std::stable_sort(inplane.begin(), inplane.end(), by_len);
    if (inplane.empty()) throw StructureError("no in-plane lattice vectors found (Miller index too large)");
    const Candidate u1 = inplane.front();
    const Candidate* u2 = nullptr;
    // Prefer an obtuse (120°) pair among equally short vectors, the usual surface-science choice.
    for (const auto& c : inplane) {
        const double area = u1.cart.cross(c.cart).norm();
        if (std::abs(area - area0) < 1e-6 * area0) {
            if (!u2 || (std::abs(c.len - u2->len) < 1e-9 && c.cart.dot(u1.cart) < u2->cart.dot(u1.cart))) u2 = &c;
            else if (c.len > u2->len + 1e-9) break;
        }
    }
    if (!u2) throw StructureError("no primitive in-plane basis found (Miller index too large)");
    // Stacking vector: the one closest to the normal, then the shortest.
    const Candidate* u3 = nullptr;
    double best = 1e300;
    for (const auto& c : stacking) {
        const double inplane_part = (c.cart - c.cart.dot(normal) * normal).norm();
        if (inplane_part < best - 1e-6) { best = inplane_part; u3 = &c; }
    }
    if (!u3) throw StructureError("no stacking vector found (Miller index too large)");

    Eigen::Matrix3i T;
    T.row(0) = u1.u.transpose();
    T.row(1) = u2->u.transpose();
    T.row(2) = u3->u.transpose();
    if (T.cast<double>().determinant() < 0) {
        Eigen::Vector3i tmp = T.row(0);
        T.row(0) = T.row(1);
        T.row(1) = tmp.transpose();
    }
    OrientedCell oc;
    oc.miller_primitive = mp;
    oc.transformation = T;
    oc.d_spacing = 1.0 / gp.norm();
    oc.normal = normal;
    oc.pymatgen_scale = pymatgen_slab_scale_factor(C, miller);
    const Eigen::Vector3d c_pmg = C.transpose() * oc.pymatgen_scale.row(2).transpose().cast<double>();
    oc.pymatgen_height = c_pmg.dot(normal);
    oc.input_d_hkl = 1.0 / g.norm();
    Structure cell(T.cast<double>() * P);
    for (std::size_t i = 0; i < prim.size(); ++i) cell.add_atom_cartesian(prim[i].species, prim.cartesian(i));
    cell.wrap();
    cell.title = bulk.title;
    oc.cell = std::move(cell);
    return oc;
}
}  // namespace

OrientedCell oriented_cell(const Structure& bulk, const std::array<int, 3>& miller_in, double symprec) {
    return oriented_cell_of(bulk, primitive_within(bulk, symprec), miller_in);
}

namespace {
std::vector<std::pair<Eigen::Matrix3d, Eigen::Vector3d>> crystal_operations_of(const Structure& prim, double symprec) {
    // Rotations: bases of lattice vectors with the metric of a reduced primitive basis (its
    // automorphisms have coefficients within ±2 of it), as pymatgen's Lattice.find_all_mappings.
    const Eigen::Matrix3d P = prim.lattice();
    const Eigen::Matrix3d Pt_inv = P.transpose().inverse();
    std::array<std::vector<Eigen::Vector3d>, 3> candidates;
    for (int i = -2; i <= 2; ++i)
        for (int j = -2; j <= 2; ++j)
            for (int k = -2; k <= 2; ++k) {
                const Eigen::Vector3d v = P.transpose() * Eigen::Vector3d(i, j, k);
                for (int b = 0; b < 3; ++b)
                    if (std::abs(v.norm() - P.row(b).norm()) < symprec) candidates[static_cast<std::size_t>(b)].push_back(v);
            }
    const Eigen::Matrix3d G = P * P.transpose();
    auto close = [&](double dot, int a, int b) { return std::abs(dot - G(a, b)) < symprec * (P.row(a).norm() + P.row(b).norm()); };
    std::vector<Eigen::Matrix3d> rotations;
    for (const auto& v1 : candidates[0])
        for (const auto& v2 : candidates[1]) {
            if (!close(v1.dot(v2), 0, 1)) continue;
            for (const auto& v3 : candidates[2]) {
                if (!close(v1.dot(v3), 0, 2) || !close(v2.dot(v3), 1, 2)) continue;
                Eigen::Matrix3d V;
                V.col(0) = v1;
                V.col(1) = v2;
                V.col(2) = v3;
                const Eigen::Matrix3d R = V * Pt_inv;  // R a_i = v_i
                if ((R.transpose() * R - Eigen::Matrix3d::Identity()).norm() < 1e-2) rotations.push_back(R);
            }
        }
    // Translations: the rotation must map the rarest species onto itself. In a primitive cell
    // one translation per rotation remains (modulo the lattice); all are kept in case the
    // primitive search missed a centring within its tighter tolerance.
    const auto comp = prim.composition();
    std::string rare = comp.begin()->first;
    for (const auto& [sp, n] : comp)
        if (n < comp.at(rare)) rare = sp;
    std::size_t first = 0;
    while (prim[first].species != rare) ++first;
    std::vector<Eigen::Vector3d> r(prim.size());
    for (std::size_t i = 0; i < prim.size(); ++i) r[i] = prim.cartesian(i);
    auto maps_onto_itself = [&](const Eigen::Matrix3d& R, const Eigen::Vector3d& w) {
        for (std::size_t k = 0; k < prim.size(); ++k) {
            const Eigen::Vector3d f = prim.to_fractional(R * r[k] + w);
            bool found = false;
            for (std::size_t m = 0; m < prim.size() && !found; ++m)
                found = prim[m].species == prim[k].species && prim.minimum_image(prim[m].frac, f).norm() < symprec;
            if (!found) return false;
        }
        return true;
    };
    std::vector<std::pair<Eigen::Matrix3d, Eigen::Vector3d>> ops;
    for (const auto& R : rotations) {
        const std::size_t before = ops.size();
        for (std::size_t j = 0; j < prim.size(); ++j) {
            if (prim[j].species != rare) continue;
            const Eigen::Vector3d w = r[j] - R * r[first];
            const bool seen = std::any_of(ops.begin() + static_cast<std::ptrdiff_t>(before), ops.end(), [&](const auto& op) {
                return prim.minimum_image(prim.to_fractional(op.second), prim.to_fractional(w)).norm() < symprec;
            });
            if (!seen && maps_onto_itself(R, w)) ops.emplace_back(R, w);
        }
    }
    return ops;
}
}  // namespace

std::vector<std::pair<Eigen::Matrix3d, Eigen::Vector3d>> crystal_operations(const Structure& bulk, double symprec) {
    if (!(symprec > 0)) throw InputError("slab", "symprec", "must be > 0 Å");
    if (bulk.size() == 0) return {};
    return crystal_operations_of(primitive_within(bulk, symprec), symprec);
}

std::map<std::string, double> formal_charges(const Structure& bulk) {
    // Preference order per element; the first neutral combination wins (P: phosphide first).
    static const std::map<std::string, std::vector<double>> kStates = {
        {"H", {1}},   {"Li", {1}},  {"Na", {1}},  {"K", {1}},   {"Rb", {1}},  {"Cs", {1}},  {"Be", {2}},
        {"Mg", {2}},  {"Ca", {2}},  {"Sr", {2}},  {"Ba", {2}},  {"B", {3}},   {"Al", {3}},  {"Ga", {3}},
        {"Si", {4}},  {"Ge", {4}},  {"O", {-2}},  {"S", {-2}},  {"Se", {-2}}, {"Te", {-2}}, {"F", {-1}},
        {"Cl", {-1}}, {"Br", {-1}}, {"I", {-1}},  {"N", {-3}},  {"P", {-3, 5}}};
    static const std::set<std::string> kAnionFormers = {"O", "S", "Se", "Te", "F", "Cl", "Br", "I", "N", "P"};
    const auto comp = bulk.composition();
    std::map<std::string, double> zero;
    for (const auto& [sp, n] : comp) zero[sp] = 0.0;
    const bool ionic = std::any_of(comp.begin(), comp.end(), [](const auto& kv) { return kAnionFormers.count(kv.first) > 0; });
    if (!ionic) return zero;
    std::vector<std::string> species;
    for (const auto& [sp, n] : comp) {
        if (!kStates.count(sp)) return zero;  // no formal state known: no polarity claim
        species.push_back(sp);
    }
    std::vector<std::size_t> choice(species.size(), 0);
    while (true) {
        double total = 0;
        for (std::size_t i = 0; i < species.size(); ++i) total += kStates.at(species[i])[choice[i]] * comp.at(species[i]);
        if (std::abs(total) < 1e-9) {
            std::map<std::string, double> q;
            for (std::size_t i = 0; i < species.size(); ++i) q[species[i]] = kStates.at(species[i])[choice[i]];
            return q;
        }
        std::size_t k = species.size();
        while (k > 0) {  // odometer over the candidates, last species fastest
            --k;
            if (++choice[k] < kStates.at(species[k]).size()) break;
            choice[k] = 0;
            if (k == 0) return zero;
        }
        if (species.empty()) return zero;
    }
}

double dipole_per_area(const Structure& slab, const std::map<std::string, double>& charges) {
    if (slab.size() == 0) return 0.0;
    double zmean = 0;
    for (std::size_t i = 0; i < slab.size(); ++i) zmean += slab.cartesian(i)[2];
    zmean /= static_cast<double>(slab.size());
    double dipole = 0;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        const auto it = charges.find(slab[i].species);
        if (it != charges.end()) dipole += it->second * (slab.cartesian(i)[2] - zmean);
    }
    const Eigen::Vector3d a = slab.lattice().row(0), b = slab.lattice().row(1);
    return dipole / a.cross(b).norm();
}

int assign_layers(Structure& slab, double tolerance) {
    std::vector<std::size_t> order(slab.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> z(slab.size());
    for (std::size_t i = 0; i < slab.size(); ++i) z[i] = slab.cartesian(i)[2];
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return z[a] < z[b]; });
    int layer = -1;
    double last = -1e300;
    for (auto i : order) {
        if (z[i] - last > tolerance) ++layer;  // single linkage, as the planes of the cut
        last = z[i];
        slab[i].layer = layer;
    }
    return layer + 1;
}

namespace {

void check_spec(const SlabSpec& spec) {
    const auto finite = [](double x) { return std::isfinite(x); };
    if (spec.layers < 1) throw InputError("slab", "layers", "must be >= 1");
    if (spec.thickness && (!finite(*spec.thickness) || *spec.thickness <= 0))
        throw InputError("slab", "thickness", fmt::format("must be > 0 (got {})", *spec.thickness));
    if (!finite(spec.vacuum) || spec.vacuum < 0) throw InputError("slab", "vacuum", "must be >= 0 Å");
    if (spec.supercell[0] < 1 || spec.supercell[1] < 1) throw InputError("slab", "supercell", "entries must be >= 1");
    if (spec.fix_bottom_layers < 0) throw InputError("slab", "fix_bottom_layers", "must be >= 0");
    if (!finite(spec.fix_bottom) || spec.fix_bottom < 0) throw InputError("slab", "fix_bottom", "must be >= 0 Å");
    if (!finite(spec.plane_tolerance) || spec.plane_tolerance <= 0 || spec.plane_tolerance > 1.0)
        throw InputError("slab", "plane_tolerance", "must be in (0, 1] Å");
    if (!finite(spec.symprec) || spec.symprec <= 0 || spec.symprec > 0.5) throw InputError("slab", "symprec", "must be in (0, 0.5] Å");
    if (!finite(spec.bond_scale) || spec.bond_scale <= 0 || spec.bond_scale > 3)
        throw InputError("slab", "bond_scale", "must be in (0, 3]");
    for (const auto& [sp, q] : spec.charges)
        if (!finite(q)) throw InputError("slab", "charges", fmt::format("charge of {} is not a number", sp));
}

/// Union–find over cut indices.
struct Classes {
    std::vector<std::size_t> parent;
    explicit Classes(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
    std::size_t find(std::size_t i) { return parent[i] == i ? i : parent[i] = find(parent[i]); }
    void join(std::size_t a, std::size_t b) {
        a = find(a), b = find(b);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
};

}  // namespace

SlabGenerator::SlabGenerator(const Structure& bulk, const SlabSpec& spec)
    : bulk_(bulk), miller_(reduce_miller(spec.miller)), tol_(spec.plane_tolerance) {
    check_spec(spec);
    if (bulk.size() == 0) throw InputError("slab", "bulk", "the bulk structure has no atoms");
    if (!(bulk.pbc()[0] && bulk.pbc()[1] && bulk.pbc()[2]))
        throw InputError("slab", "bulk", "a slab is cut from a crystal periodic in 3 directions");
    bulk_name_ = bulk.title.empty() ? bulk.formula(true) : bulk.title;
    const Structure prim = primitive_within(bulk, spec.symprec);  // once, for both steps below
    oc_ = oriented_cell_of(bulk, prim, miller_);
    const double d = oc_.d_spacing;
    const auto& cell = oc_.cell;

    // Planes: periodic single-linkage clustering of the heights (pymatgen: linkage + fcluster
    // with criterion "distance", i.e. members within <= tol are chained).
    std::vector<std::pair<double, std::size_t>> h;
    for (std::size_t i = 0; i < cell.size(); ++i) h.emplace_back(wrap_to(cell[i].frac[2] * d, d), i);
    std::sort(h.begin(), h.end());
    const std::size_t n = h.size();
    std::size_t start = 0;
    double widest = -1;
    for (std::size_t k = 0; k < n; ++k) {
        const double next = (k + 1 < n) ? h[k + 1].first : h[0].first + d;
        if (next - h[k].first > widest) { widest = next - h[k].first; start = (k + 1) % n; }
    }
    std::vector<std::pair<double, std::size_t>> unwrapped;  // from just above the widest gap
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t idx = (start + k) % n;
        unwrapped.emplace_back(h[idx].first + (idx < start ? d : 0.0), h[idx].second);
    }
    std::vector<std::vector<std::pair<double, std::size_t>>> groups;
    for (const auto& e : unwrapped) {
        if (groups.empty() || (widest > tol_ && e.first - groups.back().back().first > tol_)) groups.emplace_back();
        groups.back().push_back(e);
    }
    for (const auto& grp : groups) {
        Plane p;
        std::set<std::string> species;
        double sum = 0;
        for (const auto& [z, i] : grp) { sum += z; p.atoms.push_back(i); species.insert(cell[i].species); }
        p.height = wrap_to(sum / static_cast<double>(grp.size()), d);
        p.lo = p.height - (sum / static_cast<double>(grp.size()) - grp.front().first);
        p.hi = p.height + (grp.back().first - sum / static_cast<double>(grp.size()));
        for (const auto& s : species) p.species += (p.species.empty() ? "" : ",") + s;
        planes_.push_back(std::move(p));
    }
    std::sort(planes_.begin(), planes_.end(), [](const Plane& a, const Plane& b) { return a.height < b.height; });

    // Cuts: midway through the empty space between each plane and the next one up (one cut per
    // plane, periodic in d); for flat planes this is pymatgen's shift between cluster heights.
    for (std::size_t i = 0; i < planes_.size(); ++i) {
        const double above = (i + 1 < planes_.size()) ? planes_[i + 1].lo : planes_[0].lo + d;
        const double gap = above - planes_[i].hi;
        cuts_.push_back({wrap_to(planes_[i].hi + 0.5 * gap, d), i, gap});
    }

    // Bulk operations that map the normal onto ±itself act on heights as z -> ±z + n·w.
    const Eigen::Vector3d nrm = oc_.normal;
    for (const auto& [W, w] : crystal_operations_of(prim, spec.symprec)) {
        const Eigen::Vector3d wn = W * nrm;
        double sign = 0;
        if ((wn - nrm).norm() < 1e-3) sign = 1;
        else if ((wn + nrm).norm() < 1e-3) sign = -1;
        else continue;
        const double offset = wrap_to(nrm.dot(w), d);
        const bool known = std::any_of(ops_.begin(), ops_.end(), [&](const FlipOp& o) {
            return o.sign == sign && std::abs(periodic_residual(o.offset - offset, d)) < 1e-6;
        });
        if (!known) ops_.push_back({sign, offset});
    }

    // Group the cuts: orbits under all these operations are the unique terminations; classes
    // under the normal-keeping ones are the distinct top faces (for symmetric slabs).
    double min_sep = d;
    for (std::size_t i = 0; i < cuts_.size(); ++i)
        for (std::size_t j = i + 1; j < cuts_.size(); ++j)
            min_sep = std::min(min_sep, std::abs(periodic_residual(cuts_[i].height - cuts_[j].height, d)));
    const double match = std::min(std::max(0.4 * tol_, 2 * spec.symprec), 0.25 * min_sep);
    Classes orbits(cuts_.size()), faces(cuts_.size());
    for (const auto& op : ops_)
        for (std::size_t i = 0; i < cuts_.size(); ++i) {
            const double image = op.sign * cuts_[i].height + op.offset;
            for (std::size_t j = 0; j < cuts_.size(); ++j)
                if (std::abs(periodic_residual(image - cuts_[j].height, d)) < match &&
                    std::abs(cuts_[i].gap - cuts_[j].gap) < match) {
                    orbits.join(i, j);
                    if (op.sign > 0) faces.join(i, j);
                    break;
                }
        }
    for (std::size_t i = 0; i < cuts_.size(); ++i) {
        cuts_[i].orbit = static_cast<int>(orbits.find(i));
        cuts_[i].face = static_cast<int>(faces.find(i));
    }

    // Bonds of the bulk (per primitive surface cell): each counted once, from its lower atom.
    struct Bond { double z; double dz; };
    std::vector<Bond> bonds;
    {
        const Eigen::Matrix3d A = cell.lattice();
        double rmax = 0;
        std::map<std::string, double> radius;
        for (const auto& a : cell.atoms()) radius[a.species] = element(a.species).covalent_radius;
        for (const auto& [s, r] : radius) rmax = std::max(rmax, 2 * r * spec.bond_scale);
        const Eigen::Matrix3d B = A.inverse();  // columns: reciprocal vectors without 2π
        std::array<int, 3> range{};
        for (int k = 0; k < 3; ++k) range[static_cast<std::size_t>(k)] = static_cast<int>(std::ceil(rmax * B.col(k).norm())) + 1;
        for (std::size_t i = 0; i < cell.size(); ++i) {
            const Eigen::Vector3d ri = cell.cartesian(i);
            for (std::size_t j = 0; j < cell.size(); ++j) {
                const double cutoff = (radius[cell[i].species] + radius[cell[j].species]) * spec.bond_scale;
                const Eigen::Vector3d rj = cell.cartesian(j);
                for (int p = -range[0]; p <= range[0]; ++p)
                    for (int q = -range[1]; q <= range[1]; ++q)
                        for (int r = -range[2]; r <= range[2]; ++r) {
                            const Eigen::Vector3d v = rj + A.transpose() * Eigen::Vector3d(p, q, r) - ri;
                            const double len = v.norm();
                            const double dz = v.dot(nrm);
                            if (len < cutoff && len > 1e-8 && dz > 1e-9) bonds.push_back({cell[i].frac[2] * d, dz});
                        }
            }
        }
    }
    const double area = Eigen::Vector3d(cell.lattice().row(0)).cross(Eigen::Vector3d(cell.lattice().row(1))).norm();
    auto broken = [&](double zc) {
        double count = 0;
        for (const auto& b : bonds) count += std::floor((zc - b.z) / d) - std::floor((zc - b.z - b.dz) / d);
        return count;
    };

    // Terminations: one per orbit, widest gap first, then lowest cut.
    std::map<int, std::vector<std::size_t>> members;
    for (std::size_t i = 0; i < cuts_.size(); ++i) members[cuts_[i].orbit].push_back(i);
    std::vector<std::vector<std::size_t>> orbit_list;
    for (auto& [o, m] : members) {
        std::sort(m.begin(), m.end(), [&](auto a, auto b) { return cuts_[a].height < cuts_[b].height; });
        orbit_list.push_back(m);
    }
    std::stable_sort(orbit_list.begin(), orbit_list.end(), [&](const auto& a, const auto& b) {
        const double ga = cuts_[a.front()].gap, gb = cuts_[b.front()].gap;
        if (std::abs(ga - gb) > 1e-6) return ga > gb;
        return cuts_[a.front()].height < cuts_[b.front()].height;
    });
    std::map<std::string, int> seen;
    term_of_orbit_.assign(cuts_.size(), -1);
    for (const auto& m : orbit_list) {
        const Cut& c = cuts_[m.front()];
        Termination t;
        t.index = static_cast<int>(terms_.size());
        t.shift = c.height / d;
        t.gap = c.gap;
        t.top_species = planes_[c.below].species;
        t.bottom_species = planes_[(c.below + 1) % planes_.size()].species;
        t.name = t.top_species + "|" + t.bottom_species;
        if (const int k = ++seen[t.name]; k > 1) t.name += fmt::format("#{}", k);
        t.multiplicity = static_cast<int>(m.size());
        t.symmetric = is_symmetric(planes_[(c.below + 1) % planes_.size()].height, planes_[c.below].height);
        t.broken_bonds = broken(c.height);
        t.broken_bonds_per_area = t.broken_bonds / area;
        for (auto i : m) t.equivalent_shifts.push_back(cuts_[i].height / d);
        term_of_orbit_[static_cast<std::size_t>(c.orbit)] = t.index;
        terms_.push_back(std::move(t));
    }
}

bool SlabGenerator::is_symmetric(double z_bottom, double z_top) const {
    // A normal-flipping operation z -> -z + c maps the slab [zb, zt] (all bulk atoms between its
    // outer planes) onto itself iff zb + zt = c modulo the lattice period d along the normal.
    const double d = oc_.d_spacing;
    const double tol = std::max(0.4 * tol_, 1e-3);
    return std::any_of(ops_.begin(), ops_.end(), [&](const FlipOp& op) {
        return op.sign < 0 && std::abs(periodic_residual(z_bottom + z_top - op.offset, d)) < tol;
    });
}

std::vector<double> SlabGenerator::pymatgen_shifts() const {
    const double d = oc_.d_spacing, hc = oc_.pymatgen_height;
    const long m = std::lround(std::abs(hc) / d);
    std::vector<double> out;
    for (const auto& c : cuts_)
        for (long k = 0; k < m; ++k) {
            const double f = (c.height + static_cast<double>(k) * d) / hc;
            out.push_back(f - std::floor(f));
        }
    std::sort(out.begin(), out.end());
    return out;
}

int SlabGenerator::pymatgen_cells(const SlabSpec& spec) const {
    if (!spec.thickness) return 0;
    const double h = std::abs(oc_.pymatgen_height);
    double unit = h;
    if (spec.in_unit_planes) unit = std::round(h / oc_.input_d_hkl * 1e8) / 1e8;  // pymatgen's p
    const double cells = std::ceil(*spec.thickness / unit);
    if (cells > 10000) throw InputError("slab", "thickness", fmt::format("{} asks for {} oriented cells (max 10000)", *spec.thickness, cells));
    return std::max(1, static_cast<int>(cells));
}

const SlabGenerator::Cut& SlabGenerator::select(const SlabSpec& spec, const Termination*& term) const {
    auto first_cut = [&](const Termination& t) -> const Cut& {
        for (const auto& c : cuts_)
            if (term_of_orbit_[static_cast<std::size_t>(c.orbit)] == t.index &&
                std::abs(c.height / oc_.d_spacing - t.shift) < 1e-12)
                return c;
        throw StructureError("internal: termination without its cut");
    };
    if (spec.termination_species) {
        const std::string& want = *spec.termination_species;
        for (const auto& t : terms_)
            if (t.name == want || t.top_species == want) { term = &t; return first_cut(t); }
        // A cut whose other face has the species: the same termination turned over.
        for (const auto& c : cuts_)
            if (planes_[c.below].species == want) {
                term = &terms_[static_cast<std::size_t>(term_of_orbit_[static_cast<std::size_t>(c.orbit)])];
                return c;
            }
        std::vector<std::string> known;
        for (const auto& t : terms_) {
            known.push_back(t.name);
            known.push_back(t.top_species);
        }
        std::sort(known.begin(), known.end());
        known.erase(std::unique(known.begin(), known.end()), known.end());
        throw InputError("slab", "termination", text::unknown_name_message("termination", want, known));
    }
    if (spec.termination_index) {
        if (*spec.termination_index < 0 || *spec.termination_index >= static_cast<int>(terms_.size()))
            throw InputError("slab", "termination",
                             fmt::format("index {} out of range: ({},{},{}) has {} terminations", *spec.termination_index,
                                         miller_[0], miller_[1], miller_[2], terms_.size()));
        term = &terms_[static_cast<std::size_t>(*spec.termination_index)];
        return first_cut(*term);
    }
    term = &terms_.front();
    return first_cut(*term);
}

Structure SlabGenerator::slab(const SlabSpec& spec) const {
    check_spec(spec);
    const Termination* term = nullptr;
    const Cut& cut = select(spec, term);
    return build(cut, *term, spec);
}

std::vector<Structure> SlabGenerator::all_slabs(const SlabSpec& spec) const {
    check_spec(spec);
    std::vector<Structure> out;
    for (const auto& t : terms_) {
        // The representative cut first, then (symmetric slabs only) one cut per other top face.
        std::vector<const Cut*> members;
        for (const auto& c : cuts_)
            if (term_of_orbit_[static_cast<std::size_t>(c.orbit)] == t.index) {
                if (std::abs(c.height / oc_.d_spacing - t.shift) < 1e-12) members.insert(members.begin(), &c);
                else members.push_back(&c);
            }
        std::set<int> faces;
        for (const Cut* c : members) {
            if (!faces.insert(c->face).second) continue;
            out.push_back(build(*c, t, spec));
            if (!spec.symmetric) break;
        }
    }
    return out;
}

Structure SlabGenerator::build(const Cut& cut, const Termination& term, const SlabSpec& spec) const {
    const double d = oc_.d_spacing;
    const int cells = pymatgen_cells(spec);
    const long m = std::lround(std::abs(oc_.pymatgen_height) / d);
    const int repeats = spec.thickness ? static_cast<int>(cells * m) : spec.layers;
    const double vacuum = spec.in_unit_planes ? spec.vacuum * oc_.input_d_hkl : spec.vacuum;
    if (static_cast<double>(repeats) * static_cast<double>(oc_.cell.size()) * spec.supercell[0] * spec.supercell[1] > 2e6)
        throw InputError("slab", spec.thickness ? "thickness" : "layers", "the slab would hold more than 2 million atoms");

    const Eigen::Matrix3d A = oc_.cell.lattice();
    const Eigen::Vector3d a1 = A.row(0), a2 = A.row(1), a3 = A.row(2);
    const Eigen::Vector3d n = a1.cross(a2).normalized();
    const Eigen::Vector3d x = a1.normalized();
    const Eigen::Vector3d y = n.cross(x);
    const double shift = cut.height / d;  // fraction of a3 (a3 · n = d)

    // Planes by height above the cut within one period; the slab's planes are these, repeated.
    std::vector<std::pair<double, std::size_t>> rel;  // (height above the cut, plane)
    for (std::size_t p = 0; p < planes_.size(); ++p) rel.emplace_back(wrap_to(planes_[p].height - cut.height, d), p);
    std::sort(rel.begin(), rel.end());
    const std::size_t top_plane = cut.below;
    const std::size_t bottom_plane = (cut.below + 1) % planes_.size();
    double z_bottom = cut.height + rel.front().first;           // absolute heights of the outer planes
    const double z_top = cut.height + rel.back().first + (repeats - 1) * d;

    // Symmetric: add whole planes below (the next ones down in the bulk) until the bottom face is
    // the image of the top face by a normal-flipping operation.
    std::vector<std::size_t> extra;  // indices into rel, from the top of the period below
    if (spec.symmetric) {
        std::size_t k = rel.size();
        while (!is_symmetric(z_bottom, z_top)) {
            if (extra.size() == rel.size())
                throw StructureError(fmt::format(
                    "{}({}{}{}): no symmetric slab with top {} — no symmetry operation of the crystal turns the "
                    "surface over (a polar Tasker type-3 plane); build it without --symmetric",
                    bulk_name_, miller_[0], miller_[1], miller_[2], planes_[top_plane].species));
            --k;
            extra.push_back(k);
            z_bottom = cut.height + rel[k].first - d;
        }
    }
    const bool symmetric = is_symmetric(z_bottom, z_top);

    struct Placed { std::string species; Eigen::Vector3d r; };
    std::vector<Placed> placed;
    auto place = [&](std::size_t atom, int period) {
        const auto& a = oc_.cell[atom];
        double f3 = a.frac[2] - shift;
        f3 -= std::floor(f3);
        const Eigen::Vector3d cart = a.frac[0] * a1 + a.frac[1] * a2 + (f3 + period) * a3;
        placed.push_back({a.species, Eigen::Vector3d(cart.dot(x), cart.dot(y), cart.dot(n))});
    };
    for (std::size_t i = 0; i < oc_.cell.size(); ++i)
        for (int j = 0; j < repeats; ++j) place(i, j);
    for (auto k : extra)
        for (auto atom : planes_[rel[k].second].atoms) place(atom, -1);
    double zmin = 1e300, zmax = -1e300;
    for (const auto& p : placed) { zmin = std::min(zmin, p.r[2]); zmax = std::max(zmax, p.r[2]); }
    const double thickness = zmax - zmin;
    const double height = thickness + vacuum;
    if (height < 1e-3) throw InputError("slab", "vacuum", "a one-plane slab needs vacuum > 0");

    Eigen::Matrix3d L;
    L.row(0) << a1.dot(x), 0, 0;
    L.row(1) << a2.dot(x), a2.dot(y), 0;
    L.row(2) << 0, 0, height;
    const int na = spec.supercell[0], nb = spec.supercell[1];
    Eigen::Matrix3d Lsuper = L;
    Lsuper.row(0) *= na;
    Lsuper.row(1) *= nb;
    // Periodic in the surface plane only: the vacuum direction has no Bloch periodicity (one
    // k-point along z), even though plane-wave codes repeat the cell along it.
    Structure slab(Lsuper, {true, true, false});
    const double offset = 0.5 * vacuum - zmin;
    for (int ia = 0; ia < na; ++ia)
        for (int ib = 0; ib < nb; ++ib)
            for (const auto& p : placed) {
                Eigen::Vector3d r = p.r + ia * L.row(0).transpose() + ib * L.row(1).transpose();
                r[2] += offset;
                slab.add_atom_cartesian(p.species, r);
            }
    slab.wrap();
    // Heights were set explicitly; wrapping must not move atoms across the vacuum.
    const int nlayers = assign_layers(slab, spec.plane_tolerance);
    const double zbottom = 0.5 * vacuum;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        auto& a = slab[i];
        a.fixed = a.layer < spec.fix_bottom_layers || (spec.fix_bottom > 0 && slab.cartesian(i)[2] - zbottom < spec.fix_bottom + 1e-6);
    }
    // Stable, readable order: bottom to top, then species.
    std::stable_sort(slab.atoms().begin(), slab.atoms().end(), [](const Atom& a, const Atom& b) {
        return a.layer != b.layer ? a.layer < b.layer : a.species < b.species;
    });

    // Stoichiometry: f = the (possibly fractional) number of bulk formula units the slab holds;
    // the excess is what is left beyond them.
    const auto bulk_comp = bulk_.composition();
    int g = 0;
    for (const auto& [s, c] : bulk_comp) g = std::gcd(g, c);
    const auto comp = slab.composition();
    double units = 1e300;
    for (const auto& [s, c] : bulk_comp) {
        const auto it = comp.find(s);
        units = std::min(units, (it == comp.end() ? 0.0 : it->second) / (static_cast<double>(c) / g));
    }
    nlohmann::json excess = nlohmann::json::object();
    bool stoichiometric = true;
    for (const auto& [s, c] : comp) {
        const auto it = bulk_comp.find(s);
        const double e = c - units * (it == bulk_comp.end() ? 0.0 : static_cast<double>(it->second) / g);
        if (std::abs(e) > 1e-9) {
            excess[s] = std::round(e * 1e9) / 1e9;
            stoichiometric = false;
        }
    }
    const auto charges = spec.charges.empty() ? formal_charges(bulk_) : spec.charges;
    nlohmann::json charges_json = nlohmann::json::object();
    for (const auto& [s, q] : charges) charges_json[s] = q;
    const double dipole = dipole_per_area(slab, charges);

    const std::string top = planes_[top_plane].species;
    const std::string bottom = symmetric && !extra.empty() ? top : planes_[bottom_plane].species;
    const std::string label = top + "|" + bottom;
    const double area = Lsuper.row(0).cross(Lsuper.row(1)).norm();
    const double cell_area = L.row(0).cross(L.row(1)).norm();
    double pmg_shift = 1e300;  // the lowest of the m equivalent cuts in pymatgen's oriented cell
    for (long k = 0; k < m; ++k) {
        double f = (cut.height + static_cast<double>(k) * d) / oc_.pymatgen_height;
        pmg_shift = std::min(pmg_shift, f - std::floor(f));
    }
    slab.title = fmt::format("{}({}{}{}) slab {}", bulk_name_, miller_[0], miller_[1], miller_[2], label);
    slab.info = {{"kind", "slab"},
                 {"bulk", bulk_name_},
                 {"miller", {miller_[0], miller_[1], miller_[2]}},
                 {"miller_primitive", {oc_.miller_primitive[0], oc_.miller_primitive[1], oc_.miller_primitive[2]}},
                 {"termination", top},
                 {"bottom_termination", bottom},
                 {"termination_label", label},
                 {"termination_index", term.index},
                 {"termination_name", term.name},
                 {"top_layer", nlayers - 1},
                 {"shift", shift},
                 {"gap", cut.gap},
                 {"d_hkl", d},
                 {"repeats", repeats},
                 {"atomic_layers", nlayers},
                 {"supercell", {na, nb}},
                 {"vacuum", vacuum},
                 {"area", area},
                 {"thickness", thickness},
                 {"symmetric", symmetric},
                 {"formula", slab.formula()},
                 {"bulk_formula", bulk_.formula(true)},
                 {"formula_units", std::round(units * 1e9) / 1e9},
                 {"stoichiometric", stoichiometric},
                 {"excess", excess},
                 {"charges", charges_json},
                 {"dipole_per_area", dipole},
                 {"polar", std::abs(dipole) > 1e-3},
                 {"bond_scale", spec.bond_scale},
                 {"broken_bonds", term.broken_bonds * na * nb},
                 {"broken_bonds_per_area", term.broken_bonds / cell_area},
                 {"pymatgen", {{"shift", pmg_shift},
                               {"oriented_cells", spec.thickness ? cells : 0},
                               {"c_height", std::abs(oc_.pymatgen_height)}}}};
    return slab;
}

namespace {

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const auto tmp = std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid()));
    {
        std::ofstream out(tmp);
        out << text;
        out.flush();
        if (!out) throw StorageError("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, path);
}

/// A file-name-safe form of a termination label: "Li,P|S" -> "LiP-S".
std::string file_label(const std::string& label) {
    std::string out;
    for (char c : label) {
        if (c == '|') out += '-';
        else if (c == '#') out += '_';
        else if (std::isalnum(static_cast<unsigned char>(c))) out += c;
    }
    return out;
}

}  // namespace

void write_slab(const std::filesystem::path& path, const Structure& slab) {
    const auto& format = FormatRegistry::instance().for_path(path);
    if (format.name != "cif") {
        write_structure(path, slab);
        return;
    }
    std::string text = "# Interphase slab metadata (Structure::info), one JSON value per key:\n";
    for (const auto& [key, value] : slab.info.items()) text += fmt::format("#   {} = {}\n", key, value.dump());
    write_text_atomically(path, text + write_structure_string(slab, "cif"));
}

nlohmann::json write_slabs(const std::filesystem::path& folder, const SlabGenerator& gen, const SlabSpec& spec,
                           const std::vector<Structure>& slabs, const std::string& format) {
    static const std::map<std::string, std::string> kExtension{
        {"extxyz", ".extxyz"}, {"xyz", ".extxyz"}, {"cif", ".cif"}, {"poscar", ".vasp"}, {"vasp", ".vasp"}};
    const auto ext = kExtension.find(text::to_lower(format));
    if (ext == kExtension.end())
        throw InputError("slab", "format", text::unknown_name_message("format", format, {"extxyz", "cif", "poscar"}));
    const auto& m = gen.miller();
    std::string stem = gen.bulk_name() + "_" + fmt::format("{}{}{}", m[0], m[1], m[2]);
    for (auto& c : stem)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
    std::filesystem::create_directories(folder);
    nlohmann::json list = nlohmann::json::array();
    std::set<std::string> used;
    for (const auto& s : slabs) {
        const auto& i = s.info;
        std::string name = fmt::format("{}_t{}_{}", stem, i.at("termination_index").get<int>(),
                                       file_label(i.at("termination_label").get<std::string>()));
        for (int k = 2; used.count(name + ext->second); ++k) name += fmt::format("_{}", k);
        name += ext->second;
        used.insert(name);
        write_slab(folder / name, s);
        list.push_back({{"file", name},
                        {"termination_index", i.at("termination_index")},
                        {"termination", i.at("termination_name")},
                        {"label", i.at("termination_label")},
                        {"top", i.at("termination")},
                        {"bottom", i.at("bottom_termination")},
                        {"shift", i.at("shift")},
                        {"pymatgen_shift", i.at("pymatgen").at("shift")},
                        {"atoms", s.size()},
                        {"formula", i.at("formula")},
                        {"atomic_layers", i.at("atomic_layers")},
                        {"thickness", i.at("thickness")},
                        {"area", i.at("area")},
                        {"symmetric", i.at("symmetric")},
                        {"stoichiometric", i.at("stoichiometric")},
                        {"excess", i.at("excess")},
                        {"polar", i.at("polar")},
                        {"dipole_per_area", i.at("dipole_per_area")},
                        {"broken_bonds", i.at("broken_bonds")},
                        {"broken_bonds_per_area", i.at("broken_bonds_per_area")},
                        {"fixed_atoms", std::count_if(s.atoms().begin(), s.atoms().end(), [](const Atom& a) { return a.fixed; })}});
    }
    const auto& oc = gen.oriented();
    nlohmann::json terms = nlohmann::json::array();
    for (const auto& t : gen.terminations())
        terms.push_back({{"index", t.index}, {"name", t.name}, {"top", t.top_species}, {"bottom", t.bottom_species},
                         {"shift", t.shift}, {"gap", t.gap}, {"multiplicity", t.multiplicity}, {"symmetric", t.symmetric},
                         {"broken_bonds_per_area", t.broken_bonds_per_area}});
    nlohmann::json summary = {
        {"bulk", gen.bulk_name()},
        {"miller", {m[0], m[1], m[2]}},
        {"d_hkl", oc.d_spacing},
        {"parameters",
         {{"thickness", spec.thickness ? nlohmann::json(*spec.thickness) : nlohmann::json(nullptr)},
          {"in_unit_planes", spec.in_unit_planes},
          {"layers", spec.thickness ? nlohmann::json(nullptr) : nlohmann::json(spec.layers)},
          {"vacuum", spec.vacuum},
          {"supercell", {spec.supercell[0], spec.supercell[1]}},
          {"symmetric", spec.symmetric},
          {"fix_bottom", spec.fix_bottom},
          {"fix_bottom_layers", spec.fix_bottom_layers},
          {"plane_tolerance", spec.plane_tolerance},
          {"symprec", spec.symprec},
          {"bond_scale", spec.bond_scale}}},
        {"pymatgen",
         {{"oriented_cells", gen.pymatgen_cells(spec)},
          {"c_height", std::abs(oc.pymatgen_height)},
          {"candidate_shifts", gen.pymatgen_shifts()}}},
        {"terminations", terms},
        {"slabs", list}};
    write_text_atomically(folder / "summary.json", summary.dump(2) + "\n");
    return summary;
}

std::vector<Termination> terminations(const Structure& bulk, const std::array<int, 3>& miller, double tol) {
    SlabSpec spec;
    spec.miller = miller;
    spec.plane_tolerance = tol;
    return SlabGenerator(bulk, spec).terminations();
}

Structure build_slab(const Structure& bulk, const SlabSpec& spec) { return SlabGenerator(bulk, spec).slab(spec); }

}  // namespace interphase::structures
