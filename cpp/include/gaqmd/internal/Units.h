#pragma once
// The one place where OpenMM units (nm, kJ/mol, kJ/mol/nm) meet the engine's (Å, eV, eV/Å).
// Same constants as python/gaqmd/openmm/units.py: CODATA 2018 / SI 2019 exact e and N_A, as in
// openmm.unit, so 1 eV = e * 1 V * N_A = 96.48533212331 kJ/mol.

namespace gaqmd::units {

constexpr double kAngstromPerNm = 10.0;                 // nm -> Å
constexpr double kKjPerMolPerEv = 96.48533212331;       // eV -> kJ/mol
constexpr double kKjPerMolNmPerEvAngstrom = kKjPerMolPerEv * kAngstromPerNm;  // eV/Å -> kJ/mol/nm

}  // namespace gaqmd::units
