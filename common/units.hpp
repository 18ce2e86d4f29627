// Physical constants and unit conversions. Inside Interphase: Å, eV, eV/Å, GPa.
// Each plugin converts at its border with these constants (CODATA 2018, as in ASE 3.22).
#pragma once

namespace interphase::units {
inline constexpr double kHartreeToEV = 27.211386245988;
inline constexpr double kBohrToAngstrom = 0.529177210903;
inline constexpr double kRydbergToEV = kHartreeToEV / 2.0;
inline constexpr double kHartreePerBohrToEVPerAngstrom = kHartreeToEV / kBohrToAngstrom;
inline constexpr double kAvogadro = 6.02214076e23;
}  // namespace interphase::units
