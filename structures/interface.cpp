#include "structures/interface.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numeric>
#include <set>

#include "common/errors.hpp"
#include "structures/slab.hpp"  // oriented_cell

namespace interphase::structures {

namespace {

using Vec2 = Eigen::Vector2d;
using Mat2 = Eigen::Matrix2d;

constexpr double kSiteTolerance = 0.01;  // Å: two sites coincide (ideal positions from the builders)
constexpr double kSlabVacuum = 10.0;     // Å: vacuum of the intermediate 1x1 slabs (discarded)

// A slab's own in-plane frame: x along the first vector, z along the normal.
struct Frame {
    Eigen::Vector3d x, y, n;
};

Frame frame_of(const PlaneVectors& v) {
    Frame f;
    f.n = v[0].cross(v[1]).normalized();
    f.x = v[0].normalized();
    f.y = f.n.cross(f.x);
    return f;
}

Vec2 in_plane(const Frame& f, const Eigen::Vector3d& r) { return {r.dot(f.x), r.dot(f.y)}; }

Mat2 rows_2d(const Frame& f, const PlaneVectors& v) {
    Mat2 m;
    m.row(0) = in_plane(f, v[0]).transpose();
    m.row(1) = in_plane(f, v[1]).transpose();
    return m;
}

Vec2 wrap(Vec2 g) {
    for (int k = 0; k < 2; ++k) {
        g[k] -= std::floor(g[k]);
        if (g[k] >= 1 - 1e-10) g[k] = 0;  // keep 0.9999999999 and 0 as one site
    }
    return g;
}

std::string join(const std::set<std::string>& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
    return out;
}

// The atoms of a 1x1 slab in fractions of the primitive in-plane vectors, with heights along
// the normal measured from the lowest atom and atomic planes counted from the bottom
// (Atom::layer of the slab, which interface_face sets).
struct CutAtoms {
    std::vector<std::string> species;
    std::vector<Vec2> frac;
    std::vector<double> height;
    std::vector<int> layer;
    int planes = 0;
    double thickness = 0;
};

CutAtoms cut_atoms(const Structure& slab, const Frame& f, const Mat2& U) {
    CutAtoms c;
    const Mat2 Uinv = U.inverse();
    double hmin = 1e300, hmax = -1e300;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        const Eigen::Vector3d r = slab.cartesian(i);
        c.species.push_back(slab[i].species);
        c.frac.push_back(wrap((in_plane(f, r).transpose() * Uinv).transpose()));
        c.height.push_back(r.dot(f.n));
        hmin = std::min(hmin, c.height.back());
        hmax = std::max(hmax, c.height.back());
    }
    for (auto& h : c.height) h -= hmin;
    c.thickness = hmax - hmin;
    // The layers the face assigned (with its plane tolerance).
    c.layer.clear();
    for (const auto& a : slab.atoms()) {
        c.layer.push_back(a.layer);
        c.planes = std::max(c.planes, a.layer + 1);
    }
    return c;
}

// Does (f -> f R + t, h -> h) map the atoms of `a` onto those of `b`, for some in-plane t?
bool maps_onto(const CutAtoms& a, const CutAtoms& b, const Eigen::Matrix2i& R, const Mat2& U) {
    if (a.species.size() != b.species.size() || a.species.empty()) return false;
    const Mat2 Rd = R.cast<double>();
    auto same_site = [&](const Vec2& x, const Vec2& y) {
        Vec2 d = x - y;
        d -= d.array().round().matrix();
        return (d.transpose() * U).norm() < kSiteTolerance;
    };
    const Vec2 f0 = (a.frac[0].transpose() * Rd).transpose();
    for (std::size_t k = 0; k < b.species.size(); ++k) {
        if (b.species[k] != a.species[0] || std::abs(b.height[k] - a.height[0]) > kSiteTolerance) continue;
        const Vec2 t = b.frac[k] - f0;
        bool ok = true;
        for (std::size_t i = 0; i < a.species.size() && ok; ++i) {
            const Vec2 img = (a.frac[i].transpose() * Rd).transpose() + t;
            bool found = false;
            for (std::size_t j = 0; j < b.species.size() && !found; ++j)
                found = b.species[j] == a.species[i] && std::abs(b.height[j] - a.height[i]) < kSiteTolerance &&
                        same_site(img, b.frac[j]);
            ok = found;
        }
        if (ok) return true;
    }
    return false;
}

// In-plane point operations of a slab (acting on primitive-basis coefficients as m -> m R):
// lattice isometries that map the slab onto itself with some in-plane translation and the
// normal kept. These relate equivalent supercells of the side.
std::vector<Eigen::Matrix2i> slab_point_ops(const CutAtoms& c, const Mat2& U) {
    std::vector<Eigen::Matrix2i> ops;
    const Mat2 G = U * U.transpose();  // metric of the primitive basis
    for (int a = -2; a <= 2; ++a)
        for (int b = -2; b <= 2; ++b)
            for (int cc = -2; cc <= 2; ++cc)
                for (int d = -2; d <= 2; ++d) {
                    Eigen::Matrix2i R;
                    R << a, b, cc, d;
                    const int det = a * d - b * cc;
                    if (det != 1 && det != -1) continue;
                    // Isometry: the image of the lattice vector m U is m R U, so lengths are kept
                    // when R G R^T = G.
                    const Mat2 Rd = R.cast<double>();
                    if ((Rd * G * Rd.transpose() - G).norm() > 1e-6 * G.norm()) continue;
                    if (maps_onto(c, c, R, U)) ops.push_back(R);
                }
    return ops;
}

std::vector<Eigen::Matrix2i> intersect(const std::vector<Eigen::Matrix2i>& x, const std::vector<Eigen::Matrix2i>& y) {
    std::vector<Eigen::Matrix2i> out;
    for (const auto& r : x)
        if (std::find(y.begin(), y.end(), r) != y.end()) out.push_back(r);
    return out;
}

PlaneVectors lattice_vectors(const PlaneVectors& unit, const Eigen::Matrix2i& M) {
    return {double(M(0, 0)) * unit[0] + double(M(0, 1)) * unit[1], double(M(1, 0)) * unit[0] + double(M(1, 1)) * unit[1]};
}

int det(const Eigen::Matrix2i& M) { return M(0, 0) * M(1, 1) - M(0, 1) * M(1, 0); }

// W with A = W X for integer 2x2 matrices, if W is integer and unimodular.
std::optional<Eigen::Matrix2i> unimodular_between(const Eigen::Matrix2i& A, const Eigen::Matrix2i& X) {
    const int dx = det(X);
    if (dx == 0) return std::nullopt;
    // adj(X) / det(X)
    Eigen::Matrix2i adj;
    adj << X(1, 1), -X(0, 1), -X(1, 0), X(0, 0);
    const Eigen::Matrix2i num = A * adj;
    for (int k = 0; k < 4; ++k)
        if (num(k / 2, k % 2) % dx != 0) return std::nullopt;
    Eigen::Matrix2i W = num / dx;
    if (std::abs(det(W)) != 1) return std::nullopt;
    return W;
}

// Coset representatives of Z^2 / (Z^2 M): the primitive translations inside one supercell.
std::vector<Eigen::RowVector2i> coset_representatives(const Eigen::Matrix2i& M) {
    const int n = std::abs(det(M));
    const Mat2 Minv = M.cast<double>().inverse();
    int lo0 = 0, hi0 = 0, lo1 = 0, hi1 = 0;
    for (int a = 0; a <= 1; ++a)
        for (int b = 0; b <= 1; ++b) {
            const int c0 = a * M(0, 0) + b * M(1, 0), c1 = a * M(0, 1) + b * M(1, 1);
            lo0 = std::min(lo0, c0), hi0 = std::max(hi0, c0), lo1 = std::min(lo1, c1), hi1 = std::max(hi1, c1);
        }
    std::vector<Eigen::RowVector2i> reps;
    std::vector<Vec2> seen;
    for (int i = lo0; i <= hi0; ++i)
        for (int j = lo1; j <= hi1; ++j) {
            const Vec2 g = wrap((Eigen::RowVector2d(i, j) * Minv).transpose());
            bool dup = false;
            for (const auto& s : seen) {
                Vec2 d = s - g;
                d -= d.array().round().matrix();
                if (d.cwiseAbs().maxCoeff() < 1e-8) { dup = true; break; }
            }
            if (!dup) {
                seen.push_back(g);
                reps.emplace_back(i, j);
            }
        }
    if (static_cast<int>(reps.size()) != n)
        throw StructureError(fmt::format("interface: found {} translations in a supercell of index {} (internal error)",
                                         reps.size(), n));
    return reps;
}

struct Correspondence {
    Eigen::Matrix2i ma, mb;
    bool ok = false;
};

// Pairs A's and B's supercell vectors with right-handed bases on both sides (a mirror would
// invert B's stacking), keeping ZSL's pairing when it is already proper.
Correspondence proper_correspondence(const ZslMatch& z, const PlaneVectors& unit_a, const PlaneVectors& unit_b,
                                     const ZslSettings& st) {
    Correspondence c{z.substrate_supercell, z.film_supercell, false};
    if (det(c.ma) < 0) {
        c.ma.row(0).swap(c.ma.row(1));
        c.mb.row(0).swap(c.mb.row(1));
    }
    if (det(c.mb) > 0) {
        c.ok = true;
        return c;
    }
    // Same lattice, opposite handedness: swap B's vectors, or reverse the first one.
    std::vector<Eigen::Matrix2i> options;
    Eigen::Matrix2i s = c.mb;
    s.row(0).swap(s.row(1));
    options.push_back(s);
    Eigen::Matrix2i r = c.mb;
    r.row(0) *= -1;
    options.push_back(r);
    const auto va = lattice_vectors(unit_a, c.ma);
    double best = 1e300;
    for (const auto& mb : options) {
        const auto vb = lattice_vectors(unit_b, mb);
        if (!is_same_vectors(vb, va, st)) continue;
        const double vm = von_mises_strain(green_lagrange_strain(vb, va));
        if (vm < best) {
            best = vm;
            c.mb = mb;
            c.ok = true;
        }
    }
    return c;
}

// Rotation part of a proper 2x2 deformation (polar decomposition F = R U).
Mat2 rotation_of(const Mat2& F) {
    Eigen::JacobiSVD<Mat2> svd(F, Eigen::ComputeFullU | Eigen::ComputeFullV);
    return svd.matrixU() * svd.matrixV().transpose();
}

Mat2 rotation(double angle) {
    Mat2 r;
    r << std::cos(angle), -std::sin(angle), std::sin(angle), std::cos(angle);
    return r;
}

struct FaceData {
    Frame frame;
    Mat2 U;  // rows: primitive in-plane vectors in the frame
    std::vector<CutAtoms> cuts;
    std::vector<Eigen::Matrix2i> ops;  // common to all cuts
};

FaceData face_data(const InterfaceFace& face) {
    FaceData d;
    d.frame = frame_of(face.unit_vectors);
    d.U = rows_2d(d.frame, face.unit_vectors);
    for (const auto& c : face.cuts) {
        // The 1x1 slabs are written in the face's 2D frame (x along the first vector, z up).
        const Eigen::Matrix3d L = c.slab.lattice();
        d.cuts.push_back(cut_atoms(c.slab, frame_of({L.row(0).transpose(), L.row(1).transpose()}), d.U));
    }
    for (std::size_t i = 0; i < d.cuts.size(); ++i) {
        auto ops = slab_point_ops(d.cuts[i], d.U);
        d.ops = i == 0 ? ops : intersect(d.ops, ops);
    }
    if (d.ops.empty()) d.ops.push_back(Eigen::Matrix2i::Identity());
    return d;
}

void check_spec(const InterfaceSpec& s) {
    auto bad = [](const std::string& field, const std::string& why) { throw InputError("interface", field, why); };
    if (s.layers_a < 1 || s.layers_a > 100) bad("layers_a", fmt::format("must be 1..100 (got {})", s.layers_a));
    if (s.layers_b < 1 || s.layers_b > 100) bad("layers_b", fmt::format("must be 1..100 (got {})", s.layers_b));
    if (!(s.gap > 0) || s.gap > 50) bad("gap", fmt::format("must be in (0, 50] Å (got {})", s.gap));
    if (s.shifts < 1 || s.shifts > 20) bad("shifts", fmt::format("must be 1..20 (got {})", s.shifts));
    if (!s.periodic && (!(s.vacuum > 0) || s.vacuum > 500))
        bad("vacuum", fmt::format("must be in (0, 500] Å without periodic (got {})", s.vacuum));
    if (s.max_interfaces < 0) bad("max_interfaces", fmt::format("must be >= 0 (got {})", s.max_interfaces));
    if (!(s.diagnosis_area_factor >= 1))
        bad("diagnosis_area_factor", fmt::format("must be >= 1 (got {})", s.diagnosis_area_factor));
}

std::string plane_name(const InterfaceFace& f) {
    return fmt::format("{}({}{}{})", f.name, f.miller[0], f.miller[1], f.miller[2]);
}

// Tolerances a match needs to be accepted: (length, angle), in the more favourable direction.
std::pair<double, double> needed_tolerances(const ZslMatch& m, bool bidirectional) {
    const double lf = std::max(std::abs(m.length_strain[0]), std::abs(m.length_strain[1]));
    const double af = std::abs(m.angle_strain);
    const double lr = std::max(std::abs(1 / (1 + m.length_strain[0]) - 1), std::abs(1 / (1 + m.length_strain[1]) - 1));
    const double ar = std::abs(1 / (1 + m.angle_strain) - 1);
    if (bidirectional && std::max(lr, ar) < std::max(lf, af)) return {lr, ar};
    return {lf, af};
}

// Percent, rounded up to 0.01 % and just above the value (the ZSL tests are strict).
double percent_above(double fraction) { return std::ceil(10000 * fraction + 1e-6) / 100 + 0.01; }

NoMatchReport diagnose(const InterfaceSet& set, const InterfaceSpec& spec) {
    NoMatchReport r;
    const auto& st = spec.zsl;
    r.relaxed_area = st.max_area * spec.diagnosis_area_factor;
    ZslSettings relaxed = st;
    relaxed.max_area = r.relaxed_area;
    // B is the film, A the substrate, as in the search itself. Every match found below the
    // relaxed area lies beyond max_area (or nothing would be diagnosed).
    for (const auto& m : zsl_matches(set.b.unit_vectors, set.a.unit_vectors, relaxed))
        if (!r.first_beyond || m.substrate_area < r.first_beyond->substrate_area - 1e-9) r.first_beyond = m;
    r.closest_within = zsl_closest(set.b.unit_vectors, set.a.unit_vectors, st, st.max_area);
    std::string msg = fmt::format(
        "no lattice match of {} on {} below {:g} Å² within {:g}% length strain and {:g}% angle strain",
        plane_name(set.b), plane_name(set.a), st.max_area, 100 * st.max_length_tol, 100 * st.max_angle_tol);
    if (r.first_beyond) {
        const auto& m = *r.first_beyond;
        // ZSL enumerates multiples i < int(max_area / unit area): the area that admits (i, j).
        const double needed = std::max((m.film_multiple + 1) * set.b.unit_area, (m.substrate_multiple + 1) * set.a.unit_area);
        msg += fmt::format("; with a larger area it matches at {:.1f} Å² (length strains {:+.2f}%, {:+.2f}%, angle "
                           "{:+.2f}%): try --max-area {:.0f}",
                           m.substrate_area, 100 * m.length_strain[0], 100 * m.length_strain[1], 100 * m.angle_strain,
                           std::ceil(needed + 0.5));
    } else {
        const auto beyond = zsl_closest(set.b.unit_vectors, set.a.unit_vectors, st, r.relaxed_area);
        if (beyond)
            msg += fmt::format("; nothing matches below {:g} Å² either, where the smallest misfit is {:.2f}% at {:.1f} "
                               "Å² (length strains {:+.2f}%, {:+.2f}%, angle {:+.2f}%)",
                               r.relaxed_area, 100 * zsl_misfit(*beyond, st.bidirectional), beyond->substrate_area,
                               100 * beyond->length_strain[0], 100 * beyond->length_strain[1], 100 * beyond->angle_strain);
        else
            msg += fmt::format("; nothing within 25% misfit below {:g} Å² either", r.relaxed_area);
    }
    if (r.closest_within) {
        const auto& m = *r.closest_within;
        const auto [len, ang] = needed_tolerances(m, st.bidirectional);
        msg += fmt::format("; below {:g} Å² the smallest misfit is {:.2f}% at {:.1f} Å² (length strains {:+.2f}%, "
                           "{:+.2f}%, angle {:+.2f}%): accepting it needs --max-strain {:.2f} --max-angle-strain {:.2f}",
                           st.max_area, 100 * zsl_misfit(m, st.bidirectional), m.substrate_area,
                           100 * m.length_strain[0], 100 * m.length_strain[1], 100 * m.angle_strain,
                           std::max(percent_above(len), 100 * st.max_length_tol),
                           std::max(percent_above(ang), 100 * st.max_angle_tol));
    }
    r.message = msg;
    return r;
}

nlohmann::json matrix_json(const Eigen::Matrix2i& m) { return {{m(0, 0), m(0, 1)}, {m(1, 0), m(1, 1)}}; }
nlohmann::json matrix_json(const Mat2& m) { return {{m(0, 0), m(0, 1)}, {m(1, 0), m(1, 1)}}; }
nlohmann::json vectors_json(const PlaneVectors& v) {
    return {{v[0][0], v[0][1], v[0][2]}, {v[1][0], v[1][1], v[1][2]}};
}

}  // namespace

const char* to_string(InterfaceSide s) { return s == InterfaceSide::A ? "A" : "B"; }

Eigen::Matrix2d green_lagrange_strain(const PlaneVectors& strained, const PlaneVectors& reference) {
    const Mat2 S = rows_2d(frame_of(strained), strained);
    const Mat2 R = rows_2d(frame_of(reference), reference);
    // F s_i = r_i for column vectors: F S^T = R^T.
    const Mat2 F = R.transpose() * S.transpose().inverse();
    return 0.5 * (F.transpose() * F - Mat2::Identity());
}

double von_mises_strain(const Eigen::Matrix2d& e) {
    Eigen::Matrix3d E = Eigen::Matrix3d::Zero();
    E.topLeftCorner<2, 2>() = e;
    const Eigen::Matrix3d dev = E - E.trace() / 3 * Eigen::Matrix3d::Identity();
    return std::sqrt(dev.cwiseProduct(dev).sum() * 2.0 / 3.0);
}

InterfaceFace interface_face(const Structure& bulk, const std::array<int, 3>& miller, int layers, bool facing_top,
                             double plane_tolerance) {
    if (layers < 1 || layers > 100) throw InputError("interface", "layers", fmt::format("must be 1..100 (got {})", layers));
    if (!(plane_tolerance > 0) || plane_tolerance > 1)
        throw InputError("interface", "plane_tolerance", fmt::format("must be in (0, 1] Å (got {})", plane_tolerance));
    InterfaceFace face;
    face.name = bulk.title.empty() ? bulk.formula(true) : bulk.title;
    face.miller = miller;
    const OrientedCell oc = oriented_cell(bulk, miller);
    const Eigen::Matrix3d L = oc.cell.lattice();
    PlaneVectors v{L.row(0).transpose(), L.row(1).transpose()};
    const Eigen::Vector3d a3 = L.row(2).transpose();
    // The normal points along the stacking vector: from a slab's bottom to its top.
    if (v[0].cross(v[1]).dot(a3) < 0) std::swap(v[0], v[1]);
    face.unit_vectors = v;
    face.unit_area = plane_area(v);
    const Frame f = frame_of(v);
    const Mat2 U = rows_2d(f, v), Uinv = U.inverse();
    const double d = a3.dot(f.n);
    face.d_spacing = d;
    const Vec2 p3 = (in_plane(f, a3).transpose() * Uinv).transpose();  // in-plane part of a3, in fractions

    // Sites of one period: height in [0, d) and in-plane fractions that follow the lattice
    // translation used to bring the height there (a3 is oblique).
    struct Site {
        std::string species;
        Vec2 frac;
        double z;
    };
    std::vector<Site> sites;
    for (std::size_t i = 0; i < oc.cell.size(); ++i) {
        const Eigen::Vector3d r = oc.cell.cartesian(i);
        double z = r.dot(f.n);
        const double m = std::floor(z / d);
        z -= m * d;
        sites.push_back({oc.cell[i].species, (in_plane(f, r).transpose() * Uinv).transpose() - m * p3, z});
    }
    std::sort(sites.begin(), sites.end(), [](const Site& x, const Site& y) { return x.z < y.z; });
    // Atomic planes by single linkage along the normal (as build_slab and pymatgen's ftol).
    std::vector<std::vector<std::size_t>> planes;
    for (std::size_t i = 0; i < sites.size(); ++i) {
        if (planes.empty() || sites[i].z - sites[planes.back().back()].z >= plane_tolerance) planes.emplace_back();
        planes.back().push_back(i);
    }
    // A plane split by the period boundary: its upper part joins the first plane, one period down.
    if (planes.size() > 1 && sites[planes.front().front()].z + d - sites[planes.back().back()].z < plane_tolerance) {
        for (auto i : planes.back()) {
            sites[i].z -= d;
            sites[i].frac -= p3;
        }
        planes.front().insert(planes.front().begin(), planes.back().begin(), planes.back().end());
        planes.pop_back();
    }
    auto lo = [&](const std::vector<std::size_t>& p) {
        double z = 1e300;
        for (auto i : p) z = std::min(z, sites[i].z);
        return z;
    };
    auto hi = [&](const std::vector<std::size_t>& p) {
        double z = -1e300;
        for (auto i : p) z = std::max(z, sites[i].z);
        return z;
    };
    auto mean = [&](const std::vector<std::size_t>& p) {
        double z = 0;
        for (auto i : p) z += sites[i].z;
        return z / p.size();
    };
    auto species_of = [&](const std::vector<std::size_t>& p) {
        std::set<std::string> s;
        for (auto i : p) s.insert(sites[i].species);
        return join(s);
    };

    std::vector<CutAtoms> seen;
    for (std::size_t k = 0; k < planes.size(); ++k) {
        const auto& below = planes[k];
        const auto& above = planes[(k + 1) % planes.size()];
        const double wrap_d = k + 1 < planes.size() ? 0.0 : d;
        const double zc = 0.5 * (hi(below) + lo(above) + wrap_d);
        CutAtoms c;
        for (int j = 0; j < layers; ++j)
            for (const auto& s : sites) {
                double h = s.z - zc;
                const double m = std::floor(h / d);
                h -= m * d;
                c.species.push_back(s.species);
                c.frac.push_back(wrap(s.frac - m * p3 + double(j) * p3));
                c.height.push_back(h + j * d);
            }
        const double hmin = *std::min_element(c.height.begin(), c.height.end());
        const double hmax = *std::max_element(c.height.begin(), c.height.end());
        for (auto& h : c.height) h -= hmin;
        c.thickness = hmax - hmin;
        std::vector<std::size_t> order(c.height.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return c.height[x] < c.height[y]; });
        c.layer.assign(order.size(), 0);
        int layer = -1;
        double last = -1e300;
        for (auto i : order) {
            if (c.height[i] - last >= plane_tolerance) ++layer;
            last = c.height[i];
            c.layer[i] = layer;
        }
        c.planes = layer + 1;
        // Two cuts giving the same slab up to an in-plane translation are one termination.
        bool dup = false;
        for (const auto& o : seen) dup = dup || maps_onto(c, o, Eigen::Matrix2i::Identity(), U);
        if (dup) continue;

        InterfaceFace::Cut cut;
        cut.index = static_cast<int>(face.cuts.size());
        cut.shift = zc / d - std::floor(zc / d);
        cut.gap = mean(above) + wrap_d - mean(below);
        cut.top = species_of(below);
        cut.bottom = species_of(above);
        cut.facing = facing_top ? cut.top : cut.bottom;
        Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();
        cell.block<1, 2>(0, 0) = U.row(0);
        cell.block<1, 2>(1, 0) = U.row(1);
        cell(2, 2) = c.thickness + kSlabVacuum;
        Structure slab(cell, {true, true, false});
        for (std::size_t i = 0; i < c.species.size(); ++i) {
            auto& a = slab.add_atom(c.species[i], Eigen::Vector3d(c.frac[i][0], c.frac[i][1],
                                                                   (c.height[i] + 0.5 * kSlabVacuum) / cell(2, 2)));
            a.layer = c.layer[i];
        }
        slab.title = fmt::format("{}({}{}{}) slab {}", face.name, miller[0], miller[1], miller[2], cut.label());
        slab.info = {{"kind", "slab"},
                     {"bulk", face.name},
                     {"miller", miller},
                     {"termination", cut.label()},
                     {"shift", cut.shift},
                     {"d_hkl", d},
                     {"repeats", layers},
                     {"atomic_layers", c.planes}};
        cut.slab = std::move(slab);
        face.cuts.push_back(std::move(cut));
        seen.push_back(std::move(c));
    }
    if (face.cuts.empty())
        throw StructureError(fmt::format("interface: {}({}{}{}) has no atoms to cut", face.name, miller[0], miller[1], miller[2]));
    return face;
}

InterfaceSet build_interfaces(const Structure& bulk_a, const Structure& bulk_b, const InterfaceSpec& spec) {
    check_spec(spec);
    InterfaceSet set;
    set.a = interface_face(bulk_a, spec.miller_a, spec.layers_a, true, spec.plane_tolerance);
    set.b = interface_face(bulk_b, spec.miller_b, spec.layers_b, false, spec.plane_tolerance);
    const FaceData da = face_data(set.a), db = face_data(set.b);
    const bool strain_b = spec.strained == InterfaceSide::B;

    const auto zsl = zsl_matches(set.b.unit_vectors, set.a.unit_vectors, spec.zsl);
    for (std::size_t k = 0; k < zsl.size(); ++k) {
        InterfaceMatch m;
        m.index = static_cast<int>(k);
        m.zsl = zsl[k];
        const auto c = proper_correspondence(m.zsl, set.a.unit_vectors, set.b.unit_vectors, spec.zsl);
        m.buildable = c.ok;
        // Without a proper correspondence, the ZSL pairing (a mirror image) still tells the strain.
        m.supercell_a = c.ok ? c.ma : m.zsl.substrate_supercell;
        m.supercell_b = c.ok ? c.mb : m.zsl.film_supercell;
        m.area_a = m.zsl.substrate_area;
        m.area_b = m.zsl.film_area;
        m.area = strain_b ? m.area_a : m.area_b;
        // Strain of the strained side, in the interface frame (the reference side's first
        // vector along x): F maps the strained supercell onto the reference one.
        const Mat2 Ra = m.supercell_a.cast<double>() * da.U, Rb = m.supercell_b.cast<double>() * db.U;
        const Mat2& Sref = strain_b ? Ra : Rb;
        const Mat2& Sstr = strain_b ? Rb : Ra;
        const Mat2 F = Sref.transpose() * Sstr.transpose().inverse();
        const Mat2 E = 0.5 * (F.transpose() * F - Mat2::Identity());
        m.von_mises_strain = von_mises_strain(E);
        if (c.ok) {
            const Mat2 P = rotation(-std::atan2(Sref(0, 1), Sref(0, 0)));
            const Mat2 Rot = P * rotation_of(F);
            m.strain = Rot * E * Rot.transpose();
        } else {
            m.strain = E;  // in the strained side's own frame: there is no interface frame
        }
        set.matches.push_back(std::move(m));
    }
    // Merge matches related by the slabs' in-plane symmetry: the same interface, rotated (or,
    // for a mirror-image pairing, the proper one when a side is mirror-symmetric).
    auto equivalent = [&](const InterfaceMatch& m, const InterfaceMatch& o) {
        for (const auto& ra : da.ops)
            for (const auto& rb : db.ops) {
                const auto W = unimodular_between(m.supercell_a, o.supercell_a * ra);
                if (W && m.supercell_b == *W * o.supercell_b * rb) return true;
            }
        return false;
    };
    std::map<std::pair<int, int>, std::vector<int>> reps;  // representatives by area multiples
    for (bool buildable : {true, false})
        for (auto& m : set.matches) {
            if (m.buildable != buildable) continue;
            auto& group = reps[{m.zsl.film_multiple, m.zsl.substrate_multiple}];
            for (int r : group)
                if (equivalent(m, set.matches[static_cast<std::size_t>(r)])) {
                    m.equivalent_to = r;
                    break;
                }
            if (buildable && m.equivalent_to < 0) group.push_back(m.index);
            if (!buildable)
                m.note = m.equivalent_to >= 0
                             ? fmt::format("mirror-image pairing; its proper form is match {}", m.equivalent_to)
                             : "the lattices match only through a mirror image (no proper pairing within tolerance): "
                               "not built";
        }

    std::vector<int> unique;
    for (const auto& m : set.matches)
        if (m.buildable && m.equivalent_to < 0) unique.push_back(m.index);
    if (unique.empty()) {
        set.no_match = diagnose(set, spec);
        if (!zsl.empty())
            set.no_match->message = fmt::format(
                "{} ZSL matches of {} on {}, but each pairs the lattices only through a mirror image; {}", zsl.size(),
                plane_name(set.b), plane_name(set.a), set.no_match->message);
        return set;
    }
    std::stable_sort(unique.begin(), unique.end(), [&](int x, int y) {
        const auto& p = set.matches[static_cast<std::size_t>(x)];
        const auto& q = set.matches[static_cast<std::size_t>(y)];
        if (std::abs(p.area - q.area) > 1e-6) return p.area < q.area;
        if (std::abs(p.von_mises_strain - q.von_mises_strain) > 1e-9) return p.von_mises_strain < q.von_mises_strain;
        return x < y;
    });

    const int n = spec.shifts;
    for (int mi : unique) {
        const auto& m = set.matches[static_cast<std::size_t>(mi)];
        // Shifts of B are equivalent when they differ by a translation of B's lattice (A's
        // lattice is the integer part): t = m M_B^-1 M_A in fractions of A's primitive vectors.
        std::vector<Vec2> translations;
        const Mat2 T = m.supercell_b.cast<double>().inverse() * m.supercell_a.cast<double>();
        for (const auto& r : coset_representatives(m.supercell_b))
            translations.push_back(wrap((r.cast<double>() * T).transpose()));
        std::vector<Vec2> shifts;
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
                const Vec2 s(double(i) / n, double(j) / n);
                bool dup = false;
                for (const auto& o : shifts)
                    for (const auto& t : translations) {
                        Vec2 d = s - o - t;
                        d -= d.array().round().matrix();
                        dup = dup || d.cwiseAbs().maxCoeff() < 1e-8;
                    }
                if (!dup) shifts.push_back(s);
            }
        for (std::size_t ca = 0; ca < set.a.cuts.size(); ++ca)
            for (std::size_t cb = 0; cb < set.b.cuts.size(); ++cb)
                for (const auto& s : shifts) {
                    InterfaceCandidate c;
                    c.rank = static_cast<int>(set.candidates++);
                    c.match = mi;
                    c.cut_a = static_cast<int>(ca);
                    c.cut_b = static_cast<int>(cb);
                    c.shift = s;
                    if (c.rank < spec.max_interfaces) set.interfaces.push_back(std::move(c));
                }
    }

    // Build the ranked structures.
    for (auto& c : set.interfaces) {
        const auto& m = set.matches[static_cast<std::size_t>(c.match)];
        const CutAtoms& A = da.cuts[static_cast<std::size_t>(c.cut_a)];
        const CutAtoms& B = db.cuts[static_cast<std::size_t>(c.cut_b)];
        const Mat2 Ra = m.supercell_a.cast<double>() * da.U, Rb = m.supercell_b.cast<double>() * db.U;
        const Mat2& Sref = strain_b ? Ra : Rb;
        const Mat2 P = rotation(-std::atan2(Sref(0, 1), Sref(0, 0)));
        const Mat2 C2 = Sref * P.transpose();  // rows: the interface cell's in-plane vectors
        const double z0 = spec.periodic ? 0.5 * spec.gap : 0.5 * spec.vacuum;
        const double zb = z0 + A.thickness + spec.gap;
        const double height = A.thickness + spec.gap + B.thickness + (spec.periodic ? spec.gap : spec.vacuum);
        Eigen::Matrix3d L = Eigen::Matrix3d::Zero();
        L.block<2, 2>(0, 0) = C2;
        L(2, 2) = height;
        Structure s(L, {true, true, spec.periodic});
        // B's shift in fractions of the interface cell: fractions of A's primitive vectors times M_A^-1.
        const Vec2 shift_cell = (c.shift.transpose() * m.supercell_a.cast<double>().inverse()).transpose();
        auto place = [&](const CutAtoms& side, const Eigen::Matrix2i& M, double zbase, int layer0, const char* label,
                         const Vec2& offset) {
            const Mat2 Minv = M.cast<double>().inverse();
            std::vector<Atom> atoms;
            for (const auto& r : coset_representatives(M))
                for (std::size_t i = 0; i < side.species.size(); ++i) {
                    const Vec2 g = wrap(((side.frac[i].transpose() + r.cast<double>()) * Minv).transpose() + offset);
                    Atom a;
                    a.species = side.species[i];
                    a.frac = Eigen::Vector3d(g[0], g[1], (zbase + side.height[i]) / height);
                    a.layer = layer0 + side.layer[i];
                    a.label = label;
                    atoms.push_back(std::move(a));
                }
            std::stable_sort(atoms.begin(), atoms.end(), [](const Atom& x, const Atom& y) {
                return x.layer != y.layer ? x.layer < y.layer : x.species < y.species;
            });
            for (auto& a : atoms) s.atoms().push_back(std::move(a));
        };
        place(A, m.supercell_a, z0, 0, "A", Vec2::Zero());
        place(B, m.supercell_b, zb, A.planes, "B", shift_cell);
        const auto& cut_a = set.a.cuts[static_cast<std::size_t>(c.cut_a)];
        const auto& cut_b = set.b.cuts[static_cast<std::size_t>(c.cut_b)];
        s.title = fmt::format("{}|{} interface", plane_name(set.a), plane_name(set.b));
        s.info = {{"kind", "interface"},
                  {"a", {{"bulk", set.a.name},
                         {"miller", set.a.miller},
                         {"termination", cut_a.label()},
                         {"facing", cut_a.facing},
                         {"planes", A.planes},
                         {"supercell", matrix_json(m.supercell_a)}}},
                  {"b", {{"bulk", set.b.name},
                         {"miller", set.b.miller},
                         {"termination", cut_b.label()},
                         {"facing", cut_b.facing},
                         {"planes", B.planes},
                         {"supercell", matrix_json(m.supercell_b)}}},
                  {"match", m.index},
                  {"rank", c.rank},
                  {"strained", to_string(spec.strained)},
                  {"area", m.area},
                  {"strain", matrix_json(m.strain)},
                  {"von_mises_strain", m.von_mises_strain},
                  {"shift", {c.shift[0], c.shift[1]}},
                  {"gap", spec.gap},
                  {"periodic", spec.periodic},
                  {"vacuum", spec.periodic ? 0.0 : spec.vacuum}};
        c.structure = std::move(s);
    }
    return set;
}

nlohmann::json to_json(const ZslMatch& m) {
    return {{"film_multiple", m.film_multiple},
            {"substrate_multiple", m.substrate_multiple},
            {"film_area", m.film_area},
            {"substrate_area", m.substrate_area},
            {"film_transformation", matrix_json(m.film_transformation)},
            {"substrate_transformation", matrix_json(m.substrate_transformation)},
            {"film_supercell", matrix_json(m.film_supercell)},
            {"substrate_supercell", matrix_json(m.substrate_supercell)},
            {"film_sl_vectors", vectors_json(m.film_sl_vectors)},
            {"substrate_sl_vectors", vectors_json(m.substrate_sl_vectors)},
            {"length_strain", {m.length_strain[0], m.length_strain[1]}},
            {"angle_strain", m.angle_strain}};
}

nlohmann::json to_json(const InterfaceMatch& m) {
    return {{"index", m.index},
            {"area", m.area},
            {"area_a", m.area_a},
            {"area_b", m.area_b},
            {"supercell_a", matrix_json(m.supercell_a)},
            {"supercell_b", matrix_json(m.supercell_b)},
            {"strain", matrix_json(m.strain)},
            {"von_mises_strain", m.von_mises_strain},
            {"length_strain", {m.zsl.length_strain[0], m.zsl.length_strain[1]}},
            {"angle_strain", m.zsl.angle_strain},
            {"buildable", m.buildable},
            {"equivalent_to", m.equivalent_to < 0 ? nlohmann::json(nullptr) : nlohmann::json(m.equivalent_to)},
            {"note", m.note},
            {"zsl", to_json(m.zsl)}};
}

}  // namespace interphase::structures
