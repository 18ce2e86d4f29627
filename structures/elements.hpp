// The periodic table as Interphase needs it: symbols, atomic numbers, standard atomic masses
// (IUPAC 2013, as in ASE) and covalent radii (Cordero et al., Dalton Trans. 2008, 2832) used
// to place adsorbates and to check for overlapping atoms.
#pragma once

#include <string>
#include <string_view>

namespace interphase::structures {

struct Element {
    int number;
    const char* symbol;
    double mass;            ///< g/mol
    double covalent_radius; ///< Å
};

/// Looks an element up by symbol (case-sensitive as written in chemistry: "Li", "Cl").
/// Throws StructureError naming the symbol if unknown.
const Element& element(std::string_view symbol);
const Element& element(int atomic_number);
bool is_element(std::string_view symbol);

/// Spin multiplicity 2S+1 of the free neutral atom's ground state (Hund's rules), H to Ca;
/// heavier elements give 0 ("let the calculator decide").
int atom_ground_state_multiplicity(std::string_view symbol);

}  // namespace interphase::structures
