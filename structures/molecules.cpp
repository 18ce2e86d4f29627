#include "structures/molecules.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <numeric>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"

namespace interphase::structures {

namespace {

using Vec = Eigen::Vector3d;
constexpr const char* kSource = "structures/molecules";

// P4S10 geometry. Bond lengths and the bridge angle as commonly quoted from the crystal
// structure of Vos & Wiebenga, Acta Cryst. 8, 217 (1955): P–S(bridging) ≈ 2.08–2.09 Å,
// P=S(terminal) ≈ 1.95 Å, P–S–P ≈ 109°. We could not consult the original paper or a later
// gas-phase electron-diffraction study, so these rounded values are a starting geometry, not
// reference data: the DFT code relaxes the molecule anyway (a few hundredths of an Å change
// nothing that a relaxation does not undo).
constexpr double kP4S10BridgingBond = 2.09;   // Å, P–S(bridging)
constexpr double kP4S10TerminalBond = 1.95;   // Å, P=S(terminal)
constexpr double kP4S10BridgeAngle = 109.0;   // degrees, P–S–P
constexpr const char* kP4S10Citation =
    "P4S10 cage (Td) built from P-S(bridging) 2.09 A, P=S(terminal) 1.95 A, P-S-P 109 deg, rounded values "
    "quoted from the crystal structure of Vos & Wiebenga, Acta Cryst. 8, 217 (1955); a starting geometry "
    "that the DFT code relaxes";

// The adamantane-like cage: P at alternate corners (a, a, a) of a cube (a tetrahedron), one S
// over the midpoint of each P–P edge, pushed outward, and one S beyond each P along its 3-fold
// axis. With P–P = 2 a √2 and P–P = 2 b sin(θ/2) for the bridge bond b and angle θ, the P
// tetrahedron has a = b sin(θ/2)/√2; a bridging S on the x axis at (d, 0, 0) is b from
// (a, a, a) when (d − a)² + 2a² = b², i.e. d = a + b cos(θ/2) (the outward root).
Structure p4s10() {
    const double half = kP4S10BridgeAngle * M_PI / 360.0;
    const double a = kP4S10BridgingBond * std::sin(half) / std::sqrt(2.0);
    const double d = a + kP4S10BridgingBond * std::cos(half);
    // Placeholder lattice: molecule_in_box replaces it; fractional = Cartesian meanwhile.
    Structure s(Eigen::Matrix3d::Identity(), {false, false, false});
    const Vec corners[4] = {{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}};
    for (const auto& c : corners) s.add_atom_cartesian("P", a * c).label = "P_cage";
    for (int k = 0; k < 3; ++k)
        for (double sign : {1.0, -1.0}) s.add_atom_cartesian("S", sign * d * Vec::Unit(k)).label = "S_bridging";
    for (const auto& c : corners)
        s.add_atom_cartesian("S", (a * std::sqrt(3.0) + kP4S10TerminalBond) * c.normalized()).label = "S_terminal";
    s.title = "P4S10";
    s.info = {{"kind", "molecule"},
              {"molecule", "P4S10"},
              {"citation", kP4S10Citation},
              {"geometry",
               {{"P-S_bridging_A", kP4S10BridgingBond},
                {"P-S_terminal_A", kP4S10TerminalBond},
                {"P-S-P_deg", kP4S10BridgeAngle}}}};
    return s;
}

struct Builtin {
    const char* name;
    Structure (*build)();
};
constexpr Builtin kBuiltins[] = {{"P4S10", p4s10}};

std::vector<Vec> cartesian_positions(const Structure& s) {
    std::vector<Vec> r;
    r.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) r.push_back(s.cartesian(i));
    return r;
}

Vec centroid(const std::vector<Vec>& r) {
    Vec c = Vec::Zero();
    for (const auto& p : r) c += p;
    return c / static_cast<double>(r.size());
}

std::string fmt_vec(const Vec& v) { return fmt::format("{:.2f} x {:.2f} x {:.2f}", v[0], v[1], v[2]); }

// The index of an atom of `species` within tol of `p`, or -1.
long match_atom(const std::vector<Vec>& r, const Structure& s, const std::string& species, const Vec& p, double tol) {
    for (std::size_t j = 0; j < r.size(); ++j)
        if (s[j].species == species && (r[j] - p).norm() < tol) return static_cast<long>(j);
    return -1;
}

// An orthonormal frame (columns) from two non-collinear vectors: u, the part of v normal to u,
// and their cross product with the given handedness.
Eigen::Matrix3d frame(const Vec& u, const Vec& v, double handedness) {
    Eigen::Matrix3d f;
    f.col(0) = u.normalized();
    f.col(1) = (v - v.dot(f.col(0)) * f.col(0)).normalized();
    f.col(2) = handedness * f.col(0).cross(f.col(1));
    return f;
}

}  // namespace

std::vector<std::string> molecule_names() {
    std::vector<std::string> names;
    for (const auto& b : kBuiltins) names.emplace_back(b.name);
    std::sort(names.begin(), names.end());
    return names;
}

Structure build_molecule(const std::string& name) {
    const std::string key = text::to_lower(text::trim(name));
    for (const auto& b : kBuiltins)
        if (text::to_lower(b.name) == key) return molecule_in_box(b.build(), kDefaultMoleculeBox);
    throw InputError(kSource, "molecule", text::unknown_name_message("molecule", name, molecule_names()));
}

Eigen::Vector3d molecule_extent(const Structure& molecule) {
    if (molecule.size() == 0) return Vec::Zero();
    const auto r = cartesian_positions(molecule);
    Vec lo = r[0], hi = r[0];
    for (const auto& p : r) {
        lo = lo.cwiseMin(p);
        hi = hi.cwiseMax(p);
    }
    return hi - lo;
}

Structure molecule_in_box(const Structure& molecule, double box, double min_clearance) {
    if (molecule.size() == 0) throw InputError(kSource, "molecule", "the molecule has no atoms");
    if (!std::isfinite(box) || box <= 0)
        throw InputError(kSource, "box", fmt::format("box edge {} Å must be a positive number", box));
    if (!std::isfinite(min_clearance) || min_clearance < 0)
        throw InputError(kSource, "min_clearance", fmt::format("{} Å must be zero or positive", min_clearance));
    const auto r = cartesian_positions(molecule);
    Vec lo = r[0], hi = r[0];
    for (const auto& p : r) {
        lo = lo.cwiseMin(p);
        hi = hi.cwiseMax(p);
    }
    const Vec extent = hi - lo;
    // The bounding boxes of neighbouring images are box − extent apart along each axis: a lower
    // bound of the distance between atoms of different images, cheap and orientation-explicit.
    const double clearance = box - extent.maxCoeff();
    if (clearance < min_clearance)
        throw InputError(kSource, "box",
                         fmt::format("a {:g} Å box leaves {:.2f} Å between periodic images of {} (extent {} Å); "
                                     "at least {:g} Å needed: use a box of at least {:.2f} Å",
                                     box, clearance, molecule.formula(), fmt_vec(extent), min_clearance,
                                     extent.maxCoeff() + min_clearance));
    Structure out(Eigen::Matrix3d::Identity() * box, {false, false, false});
    const Vec shift = Vec::Constant(box / 2) - (lo + hi) / 2;
    for (std::size_t i = 0; i < molecule.size(); ++i) {
        Atom& a = out.add_atom_cartesian(molecule[i].species, r[i] + shift);
        a.label = molecule[i].label;
        a.fixed = molecule[i].fixed;
    }
    out.title = molecule.title;
    out.info = molecule.info.is_object() ? molecule.info : nlohmann::json::object();
    out.info["kind"] = "molecule";
    out.info["box"] = box;
    out.info["clearance"] = clearance;
    out.validate(kSource);
    return out;
}

MoleculeSymmetry molecule_symmetry(const Structure& molecule, double symprec) {
    if (!std::isfinite(symprec) || symprec <= 0)
        throw InputError(kSource, "symprec", fmt::format("{} Å must be positive", symprec));
    if (molecule.size() == 0) throw StructureError("molecule symmetry: the molecule has no atoms");
    const auto r0 = cartesian_positions(molecule);
    MoleculeSymmetry sym;
    sym.centre = centroid(r0);  // every operation permutes the atoms, so it fixes their centroid
    std::vector<Vec> r;
    for (const auto& p : r0) r.push_back(p - sym.centre);
    const auto comp = molecule.composition();

    // Reference atoms: p off the centre, q as far off the line through p as possible, both of
    // the rarest species available, so that few candidate images need checking.
    auto rarer = [&](std::size_t i, std::size_t j) {
        const int ci = comp.at(molecule[i].species), cj = comp.at(molecule[j].species);
        return ci != cj ? ci < cj : i < j;
    };
    std::vector<std::size_t> order(r.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), rarer);
    const double off = std::max(10 * symprec, 0.1);  // Å, clearly away from a point or a line
    long p = -1;
    for (auto i : order)
        if (r[i].norm() > off) {
            p = static_cast<long>(i);
            break;
        }
    long q = -1;
    if (p >= 0) {
        const Vec u = r[static_cast<std::size_t>(p)].normalized();
        double best = off;
        int best_count = 0;
        for (auto j : order) {
            const double lever = u.cross(r[j]).norm();
            const int count = comp.at(molecule[j].species);
            // Prefer a rarer species, then a longer lever (better conditioned frames).
            if (lever > off && (q < 0 || count < best_count || (count == best_count && lever > best + 1e-9))) {
                q = static_cast<long>(j);
                best = lever;
                best_count = count;
            }
        }
    }
    if (p < 0 || q < 0)
        throw StructureError(fmt::format("molecule symmetry: the atoms of {} lie on a line (or a point): a linear "
                                         "molecule has a continuous symmetry, which is not supported",
                                         molecule.formula()));
    const auto ip = static_cast<std::size_t>(p), iq = static_cast<std::size_t>(q);
    const Eigen::Matrix3d reference = frame(r[ip], r[iq], 1.0);
    for (std::size_t pp = 0; pp < r.size(); ++pp) {
        if (molecule[pp].species != molecule[ip].species || std::abs(r[pp].norm() - r[ip].norm()) > 2 * symprec)
            continue;
        for (std::size_t qq = 0; qq < r.size(); ++qq) {
            if (qq == pp || molecule[qq].species != molecule[iq].species ||
                std::abs(r[qq].norm() - r[iq].norm()) > 2 * symprec ||
                std::abs((r[qq] - r[pp]).norm() - (r[iq] - r[ip]).norm()) > 4 * symprec)
                continue;
            for (double handedness : {1.0, -1.0}) {
                const Eigen::Matrix3d R = frame(r[pp], r[qq], handedness) * reference.transpose();
                bool maps = true;
                for (std::size_t k = 0; k < r.size() && maps; ++k)
                    maps = match_atom(r, molecule, molecule[k].species, R * r[k], symprec) >= 0;
                if (!maps) continue;
                const bool known = std::any_of(sym.operations.begin(), sym.operations.end(),
                                               [&](const Eigen::Matrix3d& o) { return (o - R).cwiseAbs().maxCoeff() < 1e-3; });
                if (!known) sym.operations.push_back(R);
            }
        }
    }
    // The identity is always found (p -> p, q -> q); put it first.
    const auto id = std::find_if(sym.operations.begin(), sym.operations.end(), [](const Eigen::Matrix3d& o) {
        return (o - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff() < 1e-3;
    });
    if (id == sym.operations.end())
        throw StructureError("molecule symmetry: the identity was not found (symprec too small for the coordinates?)");
    std::rotate(sym.operations.begin(), id, id + 1);
    return sym;
}

const char* to_string(MoleculeSiteKind k) {
    switch (k) {
        case MoleculeSiteKind::Hollow: return "hollow";
        case MoleculeSiteKind::Bridge: return "bridge";
        case MoleculeSiteKind::Atop: return "atop";
    }
    return "?";
}

namespace {

struct Candidate {
    MoleculeSiteKind kind;
    std::vector<std::size_t> atoms;  // ascending
    Vec position;
};

void check_search(const MoleculeSiteSearch& s) {
    auto positive = [](double v, const char* field) {
        if (!std::isfinite(v) || v <= 0) throw InputError(kSource, field, fmt::format("{} must be positive", v));
    };
    positive(s.bond_length, "bond_length");
    positive(s.bond_factor, "bond_factor");
    positive(s.symprec, "symprec");
    if (!std::isfinite(s.min_distance) || s.min_distance < 0)
        throw InputError(kSource, "min_distance", fmt::format("{} Å must be zero or positive", s.min_distance));
    if (!std::isfinite(s.shell_tolerance) || s.shell_tolerance < 0)
        throw InputError(kSource, "shell_tolerance", fmt::format("{} Å must be zero or positive", s.shell_tolerance));
    if (s.symprec >= 0.5 * s.bond_length)
        throw InputError(kSource, "symprec",
                         fmt::format("{} Å would merge distinct sites (bond_length {} Å)", s.symprec, s.bond_length));
}

// Outward unit vector: `v` without its component along `axis` (unit or zero), or zero when
// nothing is left (the direction is undefined).
Vec outward(Vec v, const Vec& axis) {
    v -= v.dot(axis) * axis;
    const double n = v.norm();
    return n > 1e-6 ? Vec(v / n) : Vec::Zero();
}

std::vector<Candidate> candidates(const Structure& s, const std::vector<Vec>& r, const Vec& centre,
                                  const std::vector<std::size_t>& eligible, const MoleculeSiteSearch& search) {
    const double L = search.bond_length;
    std::vector<Candidate> out;
    // Hollows: the two points at L from three atoms lie on the normal through their
    // circumcentre, sqrt(L² − R²) from the plane; take the one away from the centre.
    for (std::size_t x = 0; x < eligible.size(); ++x)
        for (std::size_t y = x + 1; y < eligible.size(); ++y)
            for (std::size_t z = y + 1; z < eligible.size(); ++z) {
                const std::size_t i = eligible[x], j = eligible[y], k = eligible[z];
                const Vec ab = r[j] - r[i], ac = r[k] - r[i];
                const Vec n = ab.cross(ac);
                if (n.norm() < 1e-6 * ab.norm() * ac.norm()) continue;  // collinear: no plane
                const Vec c = r[i] + (ac.squaredNorm() * n.cross(ab) + ab.squaredNorm() * ac.cross(n)) /
                                         (2 * n.squaredNorm());
                const double R = (c - r[i]).norm();
                if (R >= L) continue;
                Vec u = n.normalized();
                const double side = u.dot(c - centre);
                const double h = std::sqrt(L * L - R * R);
                if (std::abs(side) > 1e-6) {
                    if (side < 0) u = -u;
                    out.push_back({MoleculeSiteKind::Hollow, {i, j, k}, c + h * u});
                } else {  // a plane through the centre: both sides are outward
                    out.push_back({MoleculeSiteKind::Hollow, {i, j, k}, c + h * u});
                    out.push_back({MoleculeSiteKind::Hollow, {i, j, k}, c - h * u});
                }
            }
    // Bridges: the points at L from two atoms form a circle about their midpoint; take the
    // point on the side away from the centre.
    for (std::size_t x = 0; x < eligible.size(); ++x)
        for (std::size_t y = x + 1; y < eligible.size(); ++y) {
            const std::size_t i = eligible[x], j = eligible[y];
            const double half = (r[j] - r[i]).norm() / 2;
            if (half >= L) continue;
            const Vec m = (r[i] + r[j]) / 2;
            const Vec w = outward(m - centre, (r[j] - r[i]).normalized());
            if (w.isZero()) continue;  // the pair's axis passes through the centre: no outward side
            out.push_back({MoleculeSiteKind::Bridge, {i, j}, m + std::sqrt(L * L - half * half) * w});
        }
    // Atop: away from the atom's bonded neighbours (a terminal atom: along its bond).
    for (const auto i : eligible) {
        Vec neighbours = Vec::Zero();
        int n = 0;
        for (std::size_t j = 0; j < r.size(); ++j)
            if (j != i && (r[j] - r[i]).norm() <= search.bond_factor * (element(s[i].species).covalent_radius +
                                                                        element(s[j].species).covalent_radius)) {
                neighbours += r[j];
                ++n;
            }
        const Vec from = n > 0 ? Vec(neighbours / n) : centre;
        const Vec u = outward(r[i] - from, Vec::Zero());
        if (u.isZero()) continue;  // surrounded symmetrically (or the central atom): no outward direction
        out.push_back({MoleculeSiteKind::Atop, {i}, r[i] + L * u});
    }
    return out;
}

std::string coordination_of(const Structure& s, const std::vector<Vec>& r, const Vec& p, double shell) {
    std::map<std::string, int> count;
    for (std::size_t j = 0; j < r.size(); ++j)
        if ((r[j] - p).norm() <= shell) ++count[s[j].species];
    std::string out;
    for (const auto& [species, n] : count) out += species + std::to_string(n);
    return out;
}

}  // namespace

std::vector<MoleculeSite> find_molecule_sites(const Structure& mol_in_box, const MoleculeSiteSearch& search) {
    check_search(search);
    if (mol_in_box.size() == 0) throw StructureError("molecule sites: the molecule has no atoms");
    const auto comp = mol_in_box.composition();
    for (const auto& sp : search.species)
        if (!comp.count(sp)) {
            std::vector<std::string> present;
            for (const auto& [k, n] : comp) present.push_back(k);
            throw InputError(kSource, "species",
                             fmt::format("{} has no {} atom to bind to (species: {})", mol_in_box.formula(),
                                         text::printable(sp), fmt::join(present, ", ")));
        }
    const auto r = cartesian_positions(mol_in_box);
    const MoleculeSymmetry sym = molecule_symmetry(mol_in_box, search.symprec);

    std::vector<std::size_t> eligible;
    for (std::size_t i = 0; i < r.size(); ++i)
        if (search.species.empty() ||
            std::find(search.species.begin(), search.species.end(), mol_in_box[i].species) != search.species.end())
            eligible.push_back(i);

    // Filter (too close to another atom) and merge coincident candidates, keeping the first:
    // hollows come before bridges and atops, so a point found twice keeps its fuller description.
    std::vector<Candidate> kept;
    for (auto& c : candidates(mol_in_box, r, sym.centre, eligible, search)) {
        bool blocked = false;
        for (std::size_t j = 0; j < r.size() && !blocked; ++j)
            blocked = std::find(c.atoms.begin(), c.atoms.end(), j) == c.atoms.end() &&
                      (r[j] - c.position).norm() < search.min_distance;
        if (blocked) continue;
        const bool dup = std::any_of(kept.begin(), kept.end(),
                                     [&](const Candidate& k) { return (k.position - c.position).norm() < search.symprec; });
        if (!dup) kept.push_back(std::move(c));
    }

    // Orbits under the point group. Each orbit is represented by its candidate with the
    // smallest defining atoms (lexicographic), which makes names independent of the order in
    // which the operations were found.
    std::vector<bool> used(kept.size(), false);
    std::vector<MoleculeSite> sites;
    for (std::size_t c = 0; c < kept.size(); ++c) {
        if (used[c]) continue;
        std::vector<Vec> images;
        for (const auto& R : sym.operations) {
            const Vec img = sym.centre + R * (kept[c].position - sym.centre);
            if (std::none_of(images.begin(), images.end(), [&](const Vec& v) { return (v - img).norm() < search.symprec; }))
                images.push_back(img);
        }
        std::size_t rep = c;
        for (std::size_t o = c; o < kept.size(); ++o) {
            if (used[o] || kept[o].kind != kept[c].kind) continue;
            const bool in_orbit = std::any_of(images.begin(), images.end(), [&](const Vec& v) {
                return (v - kept[o].position).norm() < search.symprec;
            });
            if (!in_orbit) continue;
            used[o] = true;
            if (kept[o].atoms < kept[rep].atoms) rep = o;
        }
        MoleculeSite site;
        site.kind = kept[rep].kind;
        site.atoms = kept[rep].atoms;
        site.position = kept[rep].position;
        site.multiplicity = static_cast<int>(images.size());
        site.equivalent_positions.push_back(site.position);
        for (const auto& v : images)
            if ((v - site.position).norm() >= search.symprec) site.equivalent_positions.push_back(v);
        site.distance = std::numeric_limits<double>::infinity();
        for (const auto& p : r) site.distance = std::min(site.distance, (p - site.position).norm());
        site.coordination = coordination_of(mol_in_box, r, site.position, search.bond_length + search.shell_tolerance);
        sites.push_back(std::move(site));
    }
    std::stable_sort(sites.begin(), sites.end(), [](const MoleculeSite& a, const MoleculeSite& b) {
        return a.kind != b.kind ? a.kind < b.kind : a.atoms < b.atoms;
    });
    for (std::size_t i = 0; i < sites.size(); ++i) sites[i].name = "m" + std::to_string(i + 1);
    return sites;
}

const MoleculeSite& select_molecule_site(const std::vector<MoleculeSite>& sites, const std::string& name) {
    for (const auto& s : sites)
        if (s.name == text::trim(name)) return s;
    std::vector<std::string> names;
    for (const auto& s : sites) names.push_back(s.name);
    throw InputError(kSource, "site", text::unknown_name_message("molecule site", name, names));
}

nlohmann::json to_json(const MoleculeSite& site) {
    auto vec = [](const Vec& v) { return nlohmann::json::array({v[0], v[1], v[2]}); };
    nlohmann::json copies = nlohmann::json::array();
    for (const auto& p : site.equivalent_positions) copies.push_back(vec(p));
    return {{"name", site.name},
            {"kind", to_string(site.kind)},
            {"position", vec(site.position)},
            {"atoms", site.atoms},
            {"coordination", site.coordination},
            {"distance", site.distance},
            {"multiplicity", site.multiplicity},
            {"equivalent_positions", copies}};
}

MoleculeSite molecule_site_from_json(const nlohmann::json& j, const std::string& source) {
    auto field = [&](const char* key) -> const nlohmann::json& {
        if (!j.is_object() || !j.contains(key)) throw InputError(source, key, "missing from the molecule site");
        return j.at(key);
    };
    auto vec = [&](const nlohmann::json& v, const std::string& key) {
        if (!v.is_array() || v.size() != 3 || !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number(); }))
            throw InputError(source, key, "must be 3 numbers (Cartesian Å)");
        const Vec out(v[0].get<double>(), v[1].get<double>(), v[2].get<double>());
        if (!out.allFinite()) throw InputError(source, key, "must be finite");
        return out;
    };
    MoleculeSite s;
    try {
        s.name = field("name").get<std::string>();
        const std::string kind = field("kind").get<std::string>();
        bool known = false;
        for (auto k : {MoleculeSiteKind::Hollow, MoleculeSiteKind::Bridge, MoleculeSiteKind::Atop})
            if (kind == to_string(k)) {
                s.kind = k;
                known = true;
            }
        if (!known) throw InputError(source, "kind", text::unknown_name_message("site kind", kind, {"hollow", "bridge", "atop"}));
        s.position = vec(field("position"), "position");
        s.atoms = field("atoms").get<std::vector<std::size_t>>();
        s.coordination = field("coordination").get<std::string>();
        s.distance = field("distance").get<double>();
        s.multiplicity = field("multiplicity").get<int>();
        for (const auto& p : field("equivalent_positions")) s.equivalent_positions.push_back(vec(p, "equivalent_positions"));
    } catch (const nlohmann::json::exception& e) {
        throw InputError(source, "site", std::string("malformed molecule site: ") + e.what());
    }
    if (s.multiplicity < 1 || s.equivalent_positions.size() != static_cast<std::size_t>(s.multiplicity))
        throw InputError(source, "multiplicity",
                         fmt::format("{} does not match the {} equivalent positions", s.multiplicity,
                                     s.equivalent_positions.size()));
    return s;
}

Structure add_site_atom(const Structure& mol_in_box, const MoleculeSite& site, const std::string& species,
                        double min_clearance) {
    if (!is_element(species))
        throw InputError(kSource, "species", fmt::format("'{}' is not a chemical element", text::printable(species)));
    Structure out = mol_in_box;
    const Vec f = out.to_fractional(site.position);
    if ((f.array() < 0).any() || (f.array() >= 1).any())
        throw StructureError(fmt::format("site {} at fractional ({:.3f}, {:.3f}, {:.3f}) lies outside the box: "
                                         "put the molecule in a larger box (molecule_in_box)",
                                         site.name, f[0], f[1], f[2]));
    Atom& a = out.add_atom(species, f);
    a.label = "adsorbate";
    // Per axis, as in molecule_in_box (whose boxes are orthogonal, edges along x, y, z).
    const Vec extent = molecule_extent(out);
    const Vec edges(out.lattice().row(0).norm(), out.lattice().row(1).norm(), out.lattice().row(2).norm());
    const double clearance = (edges - extent).minCoeff();
    if (clearance < min_clearance)
        throw StructureError(fmt::format("{} on site {} of {}: the complex (extent {} Å) leaves {:.2f} Å between "
                                         "periodic images, less than {:g} Å: use a box of at least {:.2f} Å",
                                         species, site.name, mol_in_box.formula(), fmt_vec(extent), clearance,
                                         min_clearance, extent.maxCoeff() + min_clearance));
    out.info["site"] = {{"name", site.name},
                        {"kind", to_string(site.kind)},
                        {"coordination", site.coordination},
                        {"multiplicity", site.multiplicity},
                        {"species", species}};
    out.validate(kSource);
    return out;
}

}  // namespace interphase::structures
