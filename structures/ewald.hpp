// Ewald summation of the electrostatic energy of point charges in a periodic cell: the
// criterion by which structures/ordering.hpp picks one ordered model of a disordered phase
// (the rule of pymatgen's OrderDisorderedStructureTransformation). The sum is the textbook
// one — real-space erfc part, reciprocal-space part, self term and, for a cell that is not
// neutral, the uniform neutralising background — with pymatgen's EwaldSummation conventions
// (splitting parameter eta in Å⁻², default eta and cut-offs, e²/4πε₀ = 14.3996 eV·Å), so the
// two agree to round-off and the tests compare them directly.
//
// Charges are formal oxidation states (Li +1, P +5, S −2, Cl −1...): not a model of the real
// energy, a cheap and deterministic ranking of orderings that keeps like charges apart.
#pragma once

#include <Eigen/Dense>
#include <map>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

/// e²/(4πε₀) in eV·Å: the Coulomb energy of two unit charges 1 Å apart (pymatgen's CONV_FACT).
inline constexpr double kCoulombEvAngstrom = 14.399645351950548;

struct EwaldParameters {
    /// Splitting parameter η (Å⁻²; the real-space part decays as erfc(√η r)). 0 picks
    /// pymatgen's default, π (N/(√2 V²))^(1/3), which balances the two sums for N charges.
    double eta = 0;
    /// Both sums are cut where the neglected terms fall below ~10^-digits (pymatgen: 12).
    double accuracy_digits = 12;
};

/// The parts of the Ewald energy (eV); total() is what a scientist compares.
struct EwaldEnergy {
    double real = 0, reciprocal = 0, self = 0;
    double charged = 0;  ///< −π Q²/(2Vη) for a cell of net charge Q (0 when neutral)
    double eta = 0;      ///< Å⁻², as used
    double real_cutoff = 0, reciprocal_cutoff = 0;  ///< Å, Å⁻¹
    double total() const { return real + reciprocal + self + charged; }
};

/// Ewald energy of `s` with one charge per atom (in units of e). Throws InputError for a
/// charge count that differs from the atom count or a non-finite charge, StructureError for a
/// singular lattice.
EwaldEnergy ewald_energy(const Structure& s, const std::vector<double>& charges, EwaldParameters p = {});

/// The Ewald interaction of unit charges at the given fractional positions: a symmetric
/// matrix Φ (eV per e²) with E = ½ Σ_ij q_i q_j Φ_ij for any choice of charges q, self and
/// background terms included (diagonal and every entry respectively). Ordering works on this
/// matrix: once it is built, the energy of any occupation of the sites costs a few additions.
/// `n_atoms_for_eta` sets the default η (pass the atom count of the ordered structures).
Eigen::MatrixXd ewald_matrix(const Eigen::Matrix3d& lattice, const std::vector<Eigen::Vector3d>& frac,
                             std::size_t n_atoms_for_eta, EwaldParameters p = {});

/// Formal oxidation state used for ordering: alkali +1, alkaline earth +2, P +5 (thiophosphate,
/// phosphate), S/Se/O −2, halides −1, N −3, Ga/In +3, Si/Ge/Sn +4, Al 0 (the anode metal in
/// this project, not Al³⁺), transition metals of the battery chemistries (Ni +2, Co +3,
/// Mn +4, Fe +2, Ti +4, Zr +4, La +3, Y +3)... A phase where these do not hold (P −3 in Li3P)
/// needs overrides. Throws InputError (field "charges") for an element without a default.
double formal_oxidation_state(const std::string& species);

/// One charge per atom: overrides[species] when given, else formal_oxidation_state.
std::vector<double> formal_charge_list(const Structure& s, const std::map<std::string, double>& overrides = {});

}  // namespace interphase::structures
