#include "structures/ordering.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <random>
#include <set>

#include "common/errors.hpp"
#include "structures/elements.hpp"
#include "structures/ewald.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {
namespace {

// Two positions closer than this (fractional, per component, periodic) are one site.
constexpr double kSamePosition = 1e-3;
// occupancy × sites may differ from a whole number by this much (occupancies printed with
// 3 decimals: 0.333 × 3 = 0.999).
constexpr double kWholeTolerance = 0.02;
// Energies closer than this (eV) are a tie, broken by the canonical occupation vector.
constexpr double kEnergyTie = 1e-6;

double wrap01(double x) {
    x -= std::floor(x);
    if (x >= 1.0 - 1e-9) x = 0.0;
    return x;
}

Eigen::Vector3d wrap(Eigen::Vector3d x) {
    for (int k = 0; k < 3; ++k) x[k] = wrap01(x[k]);
    return x;
}

bool same_position(const Eigen::Vector3d& a, const Eigen::Vector3d& b, double tol = kSamePosition) {
    for (int k = 0; k < 3; ++k) {
        const double d = a[k] - b[k];
        if (std::abs(d - std::round(d)) > tol) return false;
    }
    return true;
}

bool site_is_fixed(const DisorderedSite& s) {
    return s.occupants.size() == 1 && s.occupants[0].occupancy >= 1.0 - 1e-6;
}

// "Li:0.500000" or "Cl:0.600000|S:0.400000": occupants sorted, so the key names the group.
std::string signature(const DisorderedSite& s) {
    std::vector<std::string> parts;
    for (const auto& o : s.occupants) parts.push_back(fmt::format("{}:{:.6f}", o.species, o.occupancy));
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "|") + p;
    return out;
}

std::string describe_occupants(const DisorderedSite& s) {
    std::string out;
    for (const auto& o : s.occupants) out += fmt::format("{}{} {:g}", out.empty() ? "" : " + ", o.species, o.occupancy);
    return out;
}

void check_site(const DisorderedSite& s, const std::string& source) {
    double sum = 0;
    for (const auto& o : s.occupants) {
        if (!is_element(o.species))
            throw InputError(source, "occupancies", fmt::format("'{}' is not a chemical element", o.species));
        if (!(o.occupancy >= 0 && o.occupancy <= 1.0 + 1e-6))
            throw InputError(source, "occupancies",
                             fmt::format("occupancy {} of {} at ({:.4f}, {:.4f}, {:.4f}) is outside [0, 1]", o.occupancy,
                                         o.species, s.frac[0], s.frac[1], s.frac[2]));
        sum += o.occupancy;
    }
    if (sum > 1.0 + 1e-3)
        throw InputError(source, "occupancies",
                         fmt::format("occupancies on ({:.4f}, {:.4f}, {:.4f}) add up to {:g} ({}), more than 1", s.frac[0],
                                     s.frac[1], s.frac[2], sum, describe_occupants(s)));
}

// ---------------------------------------------------------------------------------------
// Site groups and counts.

struct Group {
    std::string key;
    std::vector<std::string> species;  ///< occupant species, sorted
    std::vector<double> occupancy;     ///< per species
    std::vector<std::size_t> sites;    ///< indices into the site list
    std::vector<int> counts;           ///< atoms per species in the cell (whole)
    int vacancies = 0;
};

// Groups of the partially occupied sites, in key order; `whole` is false when some count is
// not a whole number (then `worst` describes it).
std::vector<Group> site_groups(const std::vector<DisorderedSite>& sites, bool& whole, std::string& worst) {
    std::map<std::string, Group> by_key;
    for (std::size_t i = 0; i < sites.size(); ++i) {
        if (site_is_fixed(sites[i])) continue;
        const std::string key = signature(sites[i]);
        Group& g = by_key[key];
        if (g.sites.empty()) {
            g.key = key;
            auto occ = sites[i].occupants;
            std::sort(occ.begin(), occ.end(), [](const Occupant& a, const Occupant& b) { return a.species < b.species; });
            for (const auto& o : occ) {
                g.species.push_back(o.species);
                g.occupancy.push_back(o.occupancy);
            }
        }
        g.sites.push_back(i);
    }
    whole = true;
    std::vector<Group> out;
    for (auto& [key, g] : by_key) {
        int total = 0;
        for (std::size_t s = 0; s < g.species.size(); ++s) {
            const double exact = g.occupancy[s] * static_cast<double>(g.sites.size());
            const double rounded = std::round(exact);
            if (std::abs(exact - rounded) > kWholeTolerance && whole) {
                whole = false;
                worst = fmt::format("{} sites with {} {:g} hold {:g} {} atoms", g.sites.size(), g.species[s],
                                    g.occupancy[s], exact, g.species[s]);
            }
            g.counts.push_back(static_cast<int>(rounded));
            total += static_cast<int>(rounded);
        }
        g.vacancies = static_cast<int>(g.sites.size()) - total;
        if (g.vacancies < 0) {  // rounding up on a nearly full mixed site
            whole = false;
            worst = fmt::format("{} sites of {} hold more atoms than sites", g.sites.size(), key);
        }
        out.push_back(std::move(g));
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Symmetry through spglib: each site group (and each fixed species) becomes a stand-in
// element, so spglib sees exactly which sites may be exchanged.

struct StandIn {
    Structure structure;
    std::vector<std::string> keys;  ///< stand-in atomic number z <-> keys[z - 1]
};

std::string standin_key(const DisorderedSite& s) { return signature(s) + "#" + s.label; }

StandIn stand_in(const Eigen::Matrix3d& lattice, const std::vector<DisorderedSite>& sites) {
    StandIn out{Structure(lattice), {}};
    std::map<std::string, int> z_of;
    for (const auto& s : sites) {
        const std::string key = standin_key(s);
        auto it = z_of.find(key);
        if (it == z_of.end()) {
            if (out.keys.size() >= 118)
                throw StructureError("ordering: more than 118 distinct kinds of site; symmetry analysis cannot label them");
            out.keys.push_back(key);
            it = z_of.emplace(key, static_cast<int>(out.keys.size())).first;
        }
        out.structure.add_atom(element(it->second).symbol, s.frac);
    }
    return out;
}

// Permutations of the partial sites (indices into `partial`) under the space-group
// operations of the cell.
std::vector<std::vector<int>> site_permutations(const Eigen::Matrix3d& lattice, const std::vector<DisorderedSite>& sites,
                                                const std::vector<std::size_t>& partial, double symprec) {
    const StandIn si = stand_in(lattice, sites);
    const SymmetryDataset d = analyze_symmetry(si.structure, symprec);
    // Positions may be off by up to ~symprec; compare in Å with some slack.
    const double tol = std::max(10 * symprec, 1e-3);
    std::vector<std::vector<int>> perms;
    std::set<std::vector<int>> seen;
    for (std::size_t o = 0; o < d.rotations.size(); ++o) {
        const Eigen::Matrix3d R = d.rotations[o].cast<double>();
        std::vector<int> perm(partial.size(), -1);
        bool ok = true;
        for (std::size_t a = 0; a < partial.size() && ok; ++a) {
            const Eigen::Vector3d x = R * sites[partial[a]].frac + d.translations[o];
            for (std::size_t b = 0; b < partial.size(); ++b) {
                Eigen::Vector3d df = sites[partial[b]].frac - x;
                for (int k = 0; k < 3; ++k) df[k] -= std::round(df[k]);
                if ((lattice.transpose() * df).norm() < tol) {
                    perm[a] = static_cast<int>(b);
                    break;
                }
            }
            ok = perm[a] >= 0;
        }
        if (ok && seen.insert(perm).second) perms.push_back(std::move(perm));
    }
    if (perms.empty()) perms.push_back([&] { std::vector<int> id(partial.size()); std::iota(id.begin(), id.end(), 0); return id; }());
    return perms;
}

// ---------------------------------------------------------------------------------------
// The energy model: slots (partial site, species) and the fixed atoms.

using Config = std::vector<std::int8_t>;  // per partial site (canonical order): -1 vacancy, else species index

struct Model {
    std::vector<std::size_t> partial;           ///< site indices, canonical order
    std::vector<int> group_of;                  ///< per partial site
    std::vector<std::vector<int>> slot_of;      ///< [partial site][species index] -> slot
    Eigen::MatrixXd B;                          ///< ½ q_a q_b Φ over slots
    Eigen::VectorXd fixed_field;                ///< Σ_fixed B_a,f·2 per slot (interaction with fixed atoms)
    double fixed_energy = 0;
};

double energy_of(const Model& m, const Config& c) {
    std::vector<int> occ;
    for (std::size_t p = 0; p < c.size(); ++p)
        if (c[p] >= 0) occ.push_back(m.slot_of[p][static_cast<std::size_t>(c[p])]);
    double e = m.fixed_energy;
    for (std::size_t i = 0; i < occ.size(); ++i) {
        e += m.fixed_field[occ[i]];
        for (std::size_t j = 0; j < occ.size(); ++j) e += m.B(occ[i], occ[j]);
    }
    return e;
}

Config canonical(const Config& c, const std::vector<std::vector<int>>& perms) {
    Config best = c, img(c.size());
    for (const auto& perm : perms) {
        for (std::size_t a = 0; a < c.size(); ++a) img[static_cast<std::size_t>(perm[a])] = c[a];
        if (img < best) best = img;
    }
    return best;
}

// Steepest descent over exchanges of two sites of one group; returns the local minimum.
void relax(const Model& m, const std::vector<std::vector<std::size_t>>& members, Config& c) {
    const auto nslots = m.B.rows();
    Eigen::VectorXd h = Eigen::VectorXd::Zero(nslots);  // h_a = Σ_{b occupied} B_ab
    for (std::size_t p = 0; p < c.size(); ++p)
        if (c[p] >= 0) h += m.B.col(m.slot_of[p][static_cast<std::size_t>(c[p])]);
    auto slot = [&](std::size_t p, int s) { return s < 0 ? -1 : m.slot_of[p][static_cast<std::size_t>(s)]; };
    for (int iter = 0; iter < 100000; ++iter) {
        double best = -1e-9;
        std::size_t bp = 0, bq = 0;
        for (const auto& mem : members)
            for (std::size_t i = 0; i < mem.size(); ++i)
                for (std::size_t j = i + 1; j < mem.size(); ++j) {
                    const std::size_t p = mem[i], q = mem[j];
                    if (c[p] == c[q]) continue;
                    const int r[2] = {slot(p, c[p]), slot(q, c[q])};
                    const int d[2] = {slot(p, c[q]), slot(q, c[p])};
                    double de = 0;
                    for (int a : r)
                        if (a >= 0) {
                            de -= 2 * h[a] + m.fixed_field[a];
                            for (int b : r)
                                if (b >= 0) de += m.B(a, b);
                        }
                    for (int a : d)
                        if (a >= 0) {
                            de += 2 * h[a] + m.fixed_field[a];
                            for (int b : r)
                                if (b >= 0) de -= 2 * m.B(a, b);
                            for (int b : d)
                                if (b >= 0) de += m.B(a, b);
                        }
                    if (de < best) {
                        best = de;
                        bp = p;
                        bq = q;
                    }
                }
        if (best >= -1e-9) return;
        const int r[2] = {slot(bp, c[bp]), slot(bq, c[bq])};
        const int d[2] = {slot(bp, c[bq]), slot(bq, c[bp])};
        for (int a : r)
            if (a >= 0) h -= m.B.col(a);
        for (int a : d)
            if (a >= 0) h += m.B.col(a);
        std::swap(c[bp], c[bq]);
    }
}

// ---------------------------------------------------------------------------------------
// Cells.

// Shortest nonzero lattice vector of the rows of L (brute force over small combinations).
double shortest_vector(const Eigen::Matrix3d& L) {
    double best = INFINITY;
    for (int a = -2; a <= 2; ++a)
        for (int b = -2; b <= 2; ++b)
            for (int c = -2; c <= 2; ++c) {
                if (a == 0 && b == 0 && c == 0) continue;
                best = std::min(best, (a * L.row(0) + b * L.row(1) + c * L.row(2)).norm());
            }
    return best;
}

// A compact basis of the lattice spanned by the rows of P (integer, in units of L): the
// shortest vectors that form a basis, right-handed. Falls back on P.
Eigen::Matrix3i reduce_basis(const Eigen::Matrix3i& P, const Eigen::Matrix3d& L) {
    struct V {
        Eigen::Vector3i n;  // integer combination of P's rows
        double len;
    };
    std::vector<V> vs;
    for (int a = -2; a <= 2; ++a)
        for (int b = -2; b <= 2; ++b)
            for (int c = -2; c <= 2; ++c) {
                if (a == 0 && b == 0 && c == 0) continue;
                const Eigen::RowVector3i row = a * P.row(0) + b * P.row(1) + c * P.row(2);
                vs.push_back({row.transpose(), (row.cast<double>() * L).norm()});
            }
    std::sort(vs.begin(), vs.end(), [](const V& x, const V& y) {
        if (std::abs(x.len - y.len) > 1e-8) return x.len < y.len;
        return std::lexicographical_compare(x.n.data(), x.n.data() + 3, y.n.data(), y.n.data() + 3);
    });
    const long det = std::lround(P.cast<double>().determinant());
    for (std::size_t i = 0; i < vs.size(); ++i)
        for (std::size_t j = i + 1; j < vs.size(); ++j)
            for (std::size_t k = j + 1; k < vs.size(); ++k) {
                Eigen::Matrix3i Q;
                Q.row(0) = vs[i].n.transpose();
                Q.row(1) = vs[j].n.transpose();
                Q.row(2) = vs[k].n.transpose();
                const long dq = std::lround(Q.cast<double>().determinant());
                if (std::labs(dq) != std::labs(det)) continue;
                if (dq < 0) Q.row(2) *= -1;
                return Q;
            }
    return P;
}

// Smallest supercell of the primitive cell making every count whole: (primitive, P).
DisorderedStructure auto_supercell(const DisorderedStructure& d, double symprec, const std::string& source,
                                   Eigen::Matrix3i& P_out, int& cells_out) {
    const StandIn si = stand_in(d.lattice, d.sites);
    const Structure prim = primitive_cell(si.structure, symprec);
    DisorderedStructure p;
    p.lattice = prim.lattice();
    p.title = d.title;
    p.info = d.info;
    std::map<std::string, const DisorderedSite*> by_key;
    for (const auto& s : d.sites) by_key.emplace(standin_key(s), &s);
    for (const auto& a : prim.atoms()) {
        const DisorderedSite& src = *by_key.at(si.keys[static_cast<std::size_t>(element(a.species).number - 1)]);
        DisorderedSite s = src;
        s.frac = wrap(a.frac);
        p.sites.push_back(std::move(s));
    }
    const int n = cells_for_whole_counts(p, source);
    cells_out = n;
    // Hermite normal forms of determinant n; keep the one with the longest shortest vector,
    // then (ties) the most isotropic: the smallest sum of squared basis lengths.
    Eigen::Matrix3i best = Eigen::Matrix3i::Identity();
    double best_len = -1, best_sum = INFINITY;
    for (int a = 1; a <= n; ++a) {
        if (n % a) continue;
        for (int c = 1; c <= n / a; ++c) {
            if ((n / a) % c) continue;
            const int f = n / a / c;
            for (int b = 0; b < c; ++b)
                for (int dd = 0; dd < f; ++dd)
                    for (int e = 0; e < f; ++e) {
                        Eigen::Matrix3i H;
                        H << a, 0, 0, b, c, 0, dd, e, f;
                        const Eigen::Matrix3i R = reduce_basis(H, p.lattice);
                        const Eigen::Matrix3d cell = R.cast<double>() * p.lattice;
                        const double len = shortest_vector(cell);
                        const double sum = cell.rowwise().squaredNorm().sum();
                        if (len > best_len + 1e-6 || (len > best_len - 1e-6 && sum < best_sum - 1e-6)) {
                            best_len = len;
                            best_sum = sum;
                            best = R;
                        }
                    }
        }
    }
    P_out = best;
    return make_supercell(p, best);
}

std::string matrix_text(const Eigen::Matrix3i& P) {
    return fmt::format("[[{},{},{}],[{},{},{}],[{},{},{}]]", P(0, 0), P(0, 1), P(0, 2), P(1, 0), P(1, 1), P(1, 2), P(2, 0),
                       P(2, 1), P(2, 2));
}

}  // namespace

// ---------------------------------------------------------------------------------------

bool DisorderedStructure::is_ordered() const {
    return std::all_of(sites.begin(), sites.end(), [](const DisorderedSite& s) { return site_is_fixed(s); });
}

DisorderedStructure disordered_from_structure(const Structure& s, const std::string& source) {
    std::vector<double> occ(s.size(), 1.0);
    if (const auto it = s.info.find("occupancies"); it != s.info.end()) {
        if (!it->is_array() || it->size() != s.size())
            throw InputError(source, "occupancies",
                             fmt::format("must list one occupancy per atom ({} atoms)", s.size()));
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (!(*it)[i].is_number())
                throw InputError(source, "occupancies", fmt::format("entry {} is not a number", i + 1));
            occ[i] = (*it)[i].get<double>();
        }
    }
    DisorderedStructure d;
    d.lattice = s.lattice();
    d.title = s.title;
    d.info = s.info;
    d.info.erase("occupancies");
    for (std::size_t i = 0; i < s.size(); ++i) {
        const Eigen::Vector3d x = wrap(s[i].frac);
        auto it = std::find_if(d.sites.begin(), d.sites.end(), [&](const DisorderedSite& site) {
            return same_position(site.frac, x);
        });
        if (it == d.sites.end()) {
            d.sites.push_back({x, {}, s[i].label});
            it = d.sites.end() - 1;
        }
        auto o = std::find_if(it->occupants.begin(), it->occupants.end(),
                              [&](const Occupant& oc) { return oc.species == s[i].species; });
        if (o != it->occupants.end()) o->occupancy += occ[i];  // the same species listed twice on a site
        else it->occupants.push_back({s[i].species, occ[i]});
    }
    for (const auto& site : d.sites) check_site(site, source);
    return d;
}

SymmetryDataset analyze_disordered_symmetry(const DisorderedStructure& d, double symprec) {
    return analyze_symmetry(stand_in(d.lattice, d.sites).structure, symprec);
}

DisorderedStructure make_supercell(const DisorderedStructure& d, const Eigen::Matrix3i& P) {
    const double det = P.cast<double>().determinant();
    const long n = std::lround(std::abs(det));
    if (n < 1) throw InputError("supercell", "supercell", "the supercell matrix is singular");
    if (n > 1000) throw InputError("supercell", "supercell", fmt::format("{} cells is more than the 1000 allowed", n));
    DisorderedStructure out = d;
    out.lattice = P.cast<double>() * d.lattice;
    out.sites.clear();
    const Eigen::Matrix3d Pinv = P.cast<double>().inverse();
    // Lattice points of the old cell inside the new one: search the box spanned by P's corners.
    int lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int corner = 0; corner < 8; ++corner) {
        Eigen::RowVector3i v = Eigen::RowVector3i::Zero();
        for (int k = 0; k < 3; ++k)
            if (corner & (1 << k)) v += P.row(k);
        for (int k = 0; k < 3; ++k) {
            lo[k] = std::min(lo[k], v[k]);
            hi[k] = std::max(hi[k], v[k]);
        }
    }
    std::vector<Eigen::Vector3d> translations;
    for (int a = lo[0]; a <= hi[0]; ++a)
        for (int b = lo[1]; b <= hi[1]; ++b)
            for (int c = lo[2]; c <= hi[2]; ++c) {
                const Eigen::RowVector3d f = Eigen::RowVector3d(a, b, c) * Pinv;
                if ((f.array() >= -1e-9).all() && (f.array() < 1 - 1e-9).all()) translations.emplace_back(a, b, c);
            }
    for (const auto& t : translations)
        for (const auto& s : d.sites) {
            DisorderedSite n2 = s;
            const Eigen::RowVector3d f = (s.frac + t).transpose() * Pinv;
            n2.frac = wrap(f.transpose());
            out.sites.push_back(std::move(n2));
        }
    return out;
}

int cells_for_whole_counts(const DisorderedStructure& d, const std::string& source, int max_cells) {
    for (const auto& s : d.sites) check_site(s, source);
    bool whole = false;
    std::string worst;
    const auto groups = site_groups(d.sites, whole, worst);
    for (int n = 1; n <= max_cells; ++n) {
        bool ok = true;
        for (const auto& g : groups) {
            double total = 0;
            for (std::size_t s = 0; s < g.species.size() && ok; ++s) {
                const double exact = g.occupancy[s] * static_cast<double>(g.sites.size()) * n;
                ok = std::abs(exact - std::round(exact)) <= kWholeTolerance;
                total += std::round(exact);
            }
            ok = ok && total <= static_cast<double>(g.sites.size()) * n + 1e-9;
            if (!ok) break;
        }
        if (ok) return n;
    }
    throw InputError(source, "occupancies",
                     fmt::format("no supercell of up to {} cells holds whole numbers of atoms ({}): round the occupancies",
                                 max_cells, worst));
}

Structure order_structure(const DisorderedStructure& input, const OrderingOptions& opt, const std::string& source) {
    for (const auto& s : input.sites) check_site(s, source);
    if (!(opt.symprec > 0)) throw InputError(source, "symprec", "must be positive");

    // 1. The cell.
    DisorderedStructure d;
    Eigen::Matrix3i P = Eigen::Matrix3i::Identity();
    std::string cell_rule = "cell as given";
    if (input.is_ordered()) {
        d = input;
    } else if (opt.auto_supercell) {
        int cells = 1;
        d = auto_supercell(input, opt.symprec, source, P, cells);
        cell_rule = fmt::format("auto: {} primitive cell(s), the most compact supercell in which every site group holds "
                                "whole numbers of atoms",
                                cells);
    } else if (opt.supercell) {
        P = *opt.supercell;
        d = make_supercell(input, P);
        cell_rule = "user supercell";
    } else {
        d = input;
    }

    // 2. Canonical site order: group key, then position on a 1e-4 grid.
    std::vector<std::size_t> order(d.sites.size());
    std::iota(order.begin(), order.end(), 0);
    auto grid_key = [&](std::size_t i) {
        std::array<long, 3> k{};
        for (int c = 0; c < 3; ++c) {
            k[static_cast<std::size_t>(c)] = std::lround(wrap01(d.sites[i].frac[c]) * 1e4);
            if (k[static_cast<std::size_t>(c)] == 10000) k[static_cast<std::size_t>(c)] = 0;
        }
        return std::make_tuple(site_is_fixed(d.sites[i]) ? 0 : 1, signature(d.sites[i]), k);
    };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return grid_key(a) < grid_key(b); });
    std::vector<DisorderedSite> sites;
    for (std::size_t i : order) sites.push_back(d.sites[i]);

    nlohmann::json record = {{"rule", "lowest Ewald energy with formal oxidation states; ties (1e-6 eV) broken by the "
                                      "lexicographically smallest canonical occupation vector"},
                             {"cell", cell_rule},
                             {"supercell", matrix_text(P)}};
    Structure out(d.lattice);
    out.title = input.title;
    out.info = input.info;
    out.info.erase("occupancies");

    if (input.is_ordered()) {
        for (std::size_t i = 0; i < d.sites.size(); ++i)
            out.add_atom(d.sites[i].occupants[0].species, d.sites[i].frac).label = d.sites[i].label;
        record = {{"method", "none"}, {"reason", "no partially occupied site"}};
        out.info["ordering"] = record;
        return out;
    }

    bool whole = false;
    std::string worst;
    auto groups = site_groups(sites, whole, worst);
    if (!whole) {
        const int n = cells_for_whole_counts(d, source);
        throw InputError(source, "occupancies",
                         fmt::format("{} in this cell: not whole numbers of atoms. A cell {} times larger works: ask for "
                                     "a supercell (e.g. --supercell auto, or {})",
                                     worst, n, n == 1 ? "1,1,1" : fmt::format("1,1,{}", n)));
    }

    // 3. The energy model over slots.
    Model m;
    std::vector<std::size_t> fixed;
    for (std::size_t i = 0; i < sites.size(); ++i)
        if (site_is_fixed(sites[i])) fixed.push_back(i);
        else m.partial.push_back(i);
    std::vector<int> partial_index(sites.size(), -1);
    for (std::size_t a = 0; a < m.partial.size(); ++a) partial_index[m.partial[a]] = static_cast<int>(a);
    m.group_of.assign(m.partial.size(), -1);
    std::vector<std::vector<std::size_t>> members(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g)
        for (std::size_t i : groups[g].sites) {
            const auto a = static_cast<std::size_t>(partial_index[i]);
            m.group_of[a] = static_cast<int>(g);
            members[g].push_back(a);
        }
    auto charge = [&](const std::string& sp) {
        const auto it = opt.charges.find(sp);
        return it != opt.charges.end() ? it->second : formal_oxidation_state(sp);
    };
    std::vector<Eigen::Vector3d> positions;
    for (const auto& s : sites) positions.push_back(s.frac);
    std::size_t n_atoms = fixed.size();
    for (const auto& g : groups) n_atoms += static_cast<std::size_t>(std::accumulate(g.counts.begin(), g.counts.end(), 0));
    const Eigen::MatrixXd phi = ewald_matrix(d.lattice, positions, n_atoms);
    std::vector<std::size_t> slot_site;
    std::vector<double> slot_q;
    m.slot_of.resize(m.partial.size());
    for (std::size_t a = 0; a < m.partial.size(); ++a) {
        const Group& g = groups[static_cast<std::size_t>(m.group_of[a])];
        for (const auto& sp : g.species) {
            m.slot_of[a].push_back(static_cast<int>(slot_site.size()));
            slot_site.push_back(m.partial[a]);
            slot_q.push_back(charge(sp));
        }
    }
    const auto ns = static_cast<Eigen::Index>(slot_site.size());
    m.B.resize(ns, ns);
    for (Eigen::Index a = 0; a < ns; ++a)
        for (Eigen::Index b = 0; b < ns; ++b)
            m.B(a, b) = 0.5 * slot_q[static_cast<std::size_t>(a)] * slot_q[static_cast<std::size_t>(b)] *
                        phi(static_cast<Eigen::Index>(slot_site[static_cast<std::size_t>(a)]),
                            static_cast<Eigen::Index>(slot_site[static_cast<std::size_t>(b)]));
    m.fixed_field = Eigen::VectorXd::Zero(ns);
    for (std::size_t f : fixed) {
        const double qf = charge(sites[f].occupants[0].species);
        for (std::size_t f2 : fixed)
            m.fixed_energy += 0.5 * qf * charge(sites[f2].occupants[0].species) *
                              phi(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(f2));
        for (Eigen::Index a = 0; a < ns; ++a)
            m.fixed_field[a] += qf * slot_q[static_cast<std::size_t>(a)] *
                                phi(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(slot_site[static_cast<std::size_t>(a)]));
    }

    // 4. Symmetry and the candidates.
    const auto perms = site_permutations(d.lattice, sites, m.partial, opt.symprec);
    double log_arrangements = 0;
    for (const auto& g : groups) {
        log_arrangements += std::lgamma(static_cast<double>(g.sites.size()) + 1) - std::lgamma(g.vacancies + 1.0);
        for (int c : g.counts) log_arrangements -= std::lgamma(c + 1.0);
    }
    const double arrangements = std::exp(log_arrangements);

    // The starting arrangement of each group: species in index order, then vacancies.
    Config sorted(m.partial.size(), -1);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::vector<std::int8_t> vals(static_cast<std::size_t>(groups[g].vacancies), -1);
        for (std::size_t s = 0; s < groups[g].counts.size(); ++s)
            vals.insert(vals.end(), static_cast<std::size_t>(groups[g].counts[s]), static_cast<std::int8_t>(s));
        std::sort(vals.begin(), vals.end());
        for (std::size_t i = 0; i < members[g].size(); ++i) sorted[members[g][i]] = vals[i];
    }

    Config best;
    double best_e = INFINITY;
    std::size_t candidates = 0;
    auto consider = [&](const Config& c, double e) {
        if (e < best_e - kEnergyTie) {
            best_e = e;
            best = c;
        } else if (e <= best_e + kEnergyTie && c < best) {
            best = c;
            best_e = std::min(best_e, e);
        }
    };
    if (arrangements <= opt.max_enumerated + 0.5) {
        record["method"] = "exhaustive enumeration";
        std::set<Config> distinct;
        Config c = sorted;
        while (true) {
            const Config canon = canonical(c, perms);
            if (distinct.insert(canon).second) consider(canon, energy_of(m, canon));
            // Odometer over the groups: the next arrangement of the first group that has one.
            std::size_t g = 0;
            for (; g < groups.size(); ++g) {
                std::vector<std::int8_t> vals;
                for (std::size_t a : members[g]) vals.push_back(c[a]);
                const bool more = std::next_permutation(vals.begin(), vals.end());
                for (std::size_t i = 0; i < members[g].size(); ++i) c[members[g][i]] = vals[i];
                if (more) break;
            }
            if (g == groups.size()) break;
        }
        candidates = distinct.size();
    } else {
        // A relaxation costs ~n³ for n partial sites: the number of starts shrinks as (64/n)³
        // above 64 sites (at least 20), so a 5-cell supercell takes seconds, not an hour.
        const double n_partial = static_cast<double>(m.partial.size());
        const int starts = std::max(1, n_partial <= 64 ? opt.search_starts
                                                       : std::min(opt.search_starts,
                                                                  std::max(20, static_cast<int>(std::lround(
                                                                                   opt.search_starts *
                                                                                   std::pow(64 / n_partial, 3))))));
        record["method"] = fmt::format("search: {} seeded starts (mt19937_64, seed {}), each relaxed by exchanging two "
                                       "sites of a group until no exchange lowers the energy",
                                       starts, opt.seed);
        std::mt19937_64 rng(opt.seed);
        std::set<Config> minima;
        for (int start = 0; start < starts; ++start) {
            Config c = sorted;
            // Fisher–Yates within each group with rng() % n: reproducible on every platform,
            // unlike std::uniform_int_distribution.
            for (const auto& mem : members)
                for (std::size_t i = mem.size(); i > 1; --i) {
                    const std::size_t j = static_cast<std::size_t>(rng() % i);
                    std::swap(c[mem[i - 1]], c[mem[j]]);
                }
            relax(m, members, c);
            const Config canon = canonical(c, perms);
            if (minima.insert(canon).second) consider(canon, energy_of(m, canon));
        }
        candidates = minima.size();
        record["starts"] = starts;
        record["seed"] = opt.seed;
    }

    // 5. The ordered structure: atoms in the order of the sites as given.
    std::vector<int> state(sites.size(), 0);  // per canonical site: species index, -1 vacancy
    for (std::size_t a = 0; a < m.partial.size(); ++a) state[m.partial[a]] = best[a];
    std::vector<std::size_t> canonical_of(d.sites.size());
    for (std::size_t k = 0; k < order.size(); ++k) canonical_of[order[k]] = k;
    for (std::size_t i = 0; i < d.sites.size(); ++i) {
        const std::size_t k = canonical_of[i];
        const DisorderedSite& s = sites[k];
        if (site_is_fixed(s)) {
            out.add_atom(s.occupants[0].species, s.frac).label = s.label;
        } else if (state[k] >= 0) {
            const Group& g = groups[static_cast<std::size_t>(m.group_of[static_cast<std::size_t>(partial_index[k])])];
            out.add_atom(g.species[static_cast<std::size_t>(state[k])], s.frac).label = s.label;
        }
    }
    nlohmann::json group_info = nlohmann::json::array();
    for (const auto& g : groups) {
        nlohmann::json counts = nlohmann::json::object();
        for (std::size_t s = 0; s < g.species.size(); ++s) counts[g.species[s]] = g.counts[s];
        counts["vacancy"] = g.vacancies;
        group_info.push_back({{"occupants", g.key}, {"sites", g.sites.size()}, {"counts", counts}});
    }
    nlohmann::json charges = nlohmann::json::object();
    for (const auto& a : out.atoms()) charges[a.species] = charge(a.species);
    record["site_groups"] = group_info;
    // Astronomically many arrangements overflow a double; log10 is always there.
    record["arrangements"] = std::isfinite(arrangements) ? nlohmann::json(arrangements) : nlohmann::json();
    record["log10_arrangements"] = log_arrangements / std::log(10.0);
    record["site_permutations"] = perms.size();  // distinct permutations of the partial sites by the space group
    record["candidates"] = candidates;
    record["ewald_energy_eV"] = best_e;
    record["charges"] = charges;
    out.info["ordering"] = record;
    return out;
}

}  // namespace interphase::structures
