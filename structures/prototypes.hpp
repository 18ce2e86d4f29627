// Phase prototypes: the bulk crystals Interphase screens (Li, Al, LiAl, Li2S, Li3P, LiCl...)
// described the way crystallographers publish them — space group, lattice parameters and
// one representative per Wyckoff site — in small YAML files, structures/prototypes/*.yaml,
// embedded in the library at build time. build_bulk expands the sites with the space-group
// operations into the conventional cell. The file format and the shipped phases with their
// sources are documented in docs/prototypes.md.
//
// Data files are checked when parsed (space group, setting, lattice compatible with the
// space group, Wyckoff multiplicities, formula) so that a typo fails loudly with the file
// and field instead of producing a plausible but wrong crystal.
#pragma once

#include <Eigen/Dense>
#include <string>
#include <vector>

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
    std::string citation;         ///< crystallographic source of the parameters
    int space_group = 0;          ///< 1..230
    int hall_number = 0;          ///< spglib setting 1..530; 0 = default setting of space_group
    double a = 0, b = 0, c = 0;   ///< Å
    double alpha = 90, beta = 90, gamma = 90;  ///< degrees
    std::vector<WyckoffSite> sites;
};

/// A shipped prototype by name, case-insensitive ("li2s" finds "Li2S"). Unknown names throw
/// InputError (field "phase") with a "did you mean" suggestion and the known names.
const Prototype& prototype(const std::string& name);

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
/// Throws StructureError for partially occupied sites (ordered models are not implemented
/// yet: issue 3) and InputError for the inconsistencies parse_prototype checks.
Structure build_bulk(const Prototype& p);
/// build_bulk(prototype(name)).
Structure build_bulk(const std::string& name);

}  // namespace interphase::structures
