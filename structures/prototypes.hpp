// Phase prototypes: the bulk crystals Interphase screens (Li, Al, LiAl, Li2S, Li3P, LiCl...)
// described the way crystallographers publish them — space group, lattice parameters and
// one representative per Wyckoff site — in small YAML files, structures/prototypes/*.yaml,
// embedded in the library at build time. build_bulk expands the sites with the space-group
// operations into the conventional cell. The file format and the shipped phases with their
// sources are documented in docs/prototypes.md.
//
// Disordered phases (argyrodites: Li on 48h half occupied, S/Cl mixing) keep their partial
// occupancies in the data file; build_bulk turns them into one ordered model with the rule of
// structures/ordering.hpp (lowest Ewald energy, deterministic tie-break) and records the
// choice in info["ordering"]. The Cl-rich argyrodites Li(7−x)PS(6−x)Cl(x) are derived from
// the Li6PS5Cl file for any x in [0, 2] (argyrodite_prototype), and load_phase orders a phase
// read from a CIF with _atom_site_occupancy the same way.
//
// Data files are checked when parsed (space group, setting, lattice compatible with the
// space group, Wyckoff multiplicities, formula) so that a typo fails loudly with the file
// and field instead of producing a plausible but wrong crystal.
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "structures/ordering.hpp"
#include "structures/structure.hpp"

namespace interphase::structures {

/// One Wyckoff site as written in a prototype file: a representative position.
struct WyckoffSite {
    std::string species;          ///< chemical symbol
    std::string wyckoff;          ///< multiplicity and letter, e.g. "8c" (conventional cell)
    Eigen::Vector3d position{0, 0, 0};  ///< fractional coordinates of one representative
    double occupancy = 1.0;       ///< in (0, 1]; < 1 marks a disordered site
};

struct Prototype {
    std::string name;             ///< registry name = file name, e.g. "Li2S"
    std::string formula;          ///< reduced formula as chemists write it, e.g. "LiAl"
    std::string description;      ///< structure type, e.g. "antifluorite"
    std::string electronic;       ///< "metal" | "insulator" (PBE); "" = not stated (treated as metal)
    std::string citation;         ///< crystallographic source of the parameters
    int space_group = 0;          ///< 1..230
    int hall_number = 0;          ///< spglib setting 1..530; 0 = default setting of space_group
    double a = 0, b = 0, c = 0;   ///< Å
    double alpha = 90, beta = 90, gamma = 90;  ///< degrees
    std::vector<WyckoffSite> sites;
};

/// A shipped prototype by name, case-insensitive ("li2s" finds "Li2S"). A formula of the
/// argyrodite family ("Li5.5PS4.5Cl1.5", "Li5.4PS4.4Cl1.6") gives argyrodite_prototype(x).
/// Why a phase that SCIENCE.md names is deliberately not shipped (P2S5/P4S10: no verifiable
/// coordinates), as a message telling the user how to supply it; nullopt for any other name.
std::optional<std::string> not_shipped_reason(const std::string& name);

/// Unknown names throw InputError (field "phase") with a "did you mean" suggestion and the
/// known names.
const Prototype& prototype(const std::string& name);

/// The argyrodite Li(7−x)PS(6−x)Cl(x), 0 ≤ x ≤ 2, derived from the shipped Li6PS5Cl (x = 1):
/// same lattice and positions, Li on 48h with occupancy (7−x)/12, Cl filling 4a first
/// (4a = Cl x, S 1−x for x ≤ 1) and then 4d (4d = Cl x−1, S 2−x for x ≥ 1), the Cl-rich
/// substitution of the literature. Name and formula are the formula with x written out
/// ("Li5.5PS4.5Cl1.5"). Throws InputError (field "x") outside [0, 2] or for a non-finite x.
Prototype argyrodite_prototype(double x);

/// x of an argyrodite-family formula ("Li5.4PS4.4Cl1.6" -> 1.6, "Li6PS5Cl" -> 1), nullopt
/// for any other name.
std::optional<double> argyrodite_x(const std::string& name);

/// Names of the shipped prototypes, sorted.
std::vector<std::string> prototype_names();

/// Parses and validates one prototype file. `source` names the file in error messages.
/// Throws ParseError for malformed YAML and InputError naming `source` and the field for
/// invalid values: space group outside 1..230, Hall number of another space group,
/// non-positive lengths, impossible angles, a lattice the space group's operations do not
/// preserve, unknown species, occupancy outside (0, 1], a Wyckoff multiplicity that
/// differs from the expanded orbit, overlapping sites, or a formula the sites contradict.
Prototype parse_prototype(const std::string& yaml_text, const std::string& source);

/// The conventional cell of a prototype: each Wyckoff representative expanded with all
/// operations of the setting, wrapped to [0, 1) and deduplicated (1e-4 fractional, periodic).
/// Atoms come site by site in file order, labelled with their Wyckoff site ("8c");
/// title = name; info = {"phase", "space_group", "citation"}.
/// A prototype with partially occupied sites is ordered with order_structure (default
/// options: the conventional cell, which must hold whole numbers of atoms) and carries
/// info["ordering"]; its atoms keep their Wyckoff labels. Throws InputError for the
/// inconsistencies parse_prototype checks and for occupancies that give fractional atom counts
/// in the cell (the message names the supercell that works).
Structure build_bulk(const Prototype& p);
/// As above with explicit ordering options (supercell, auto supercell, charges...).
Structure build_bulk(const Prototype& p, const OrderingOptions& ordering);
/// build_bulk(prototype(name)).
Structure build_bulk(const std::string& name);

struct BulkOptions {
    /// For the argyrodite family only: x of Li(7−x)PS(6−x)Cl(x). Given with another phase it
    /// is an InputError (field "x").
    std::optional<double> x;
    OrderingOptions ordering;
};
/// A shipped phase or argyrodite formula with options: build_bulk(argyrodite_prototype(x))
/// when x is given (the name must then be an argyrodite), else build_bulk(prototype(name)).
Structure build_bulk(const std::string& name, const BulkOptions& options);

/// A phase from a structure file (CIF with partial occupancies, POSCAR, extxyz...): read,
/// then ordered with order_structure when any site is partially occupied (else returned as
/// read, info["ordering"]["method"] = "none"). info["phase_file"] names the file. Throws the
/// reader's ParseError/InputError and ordering's InputError.
Structure load_phase(const std::filesystem::path& file, const OrderingOptions& ordering = {});

}  // namespace interphase::structures
