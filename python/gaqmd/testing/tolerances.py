"""Test tolerances, each with the reason for its size."""

# float64 rotation/permutation of a ~20-atom molecule: round-off of O(1e-16) per operation
# accumulated through a few hundred edges and layers stays below 1e-10 eV(/Å).
FLOAT64_EQUIVARIANCE = 1e-10

# Central differences with h = 1e-5 Å: truncation O(h^2 |E'''|) ~ 1e-10 and round-off
# O(eps |E| / h) ~ 1e-10 relative to the force norm; 1e-7 leaves room for curvature.
FINITE_DIFFERENCE_FORCES = 1e-7

# Crossing the cutoff by 2e-6 Å: the envelope (p = 6) and its derivatives vanish like
# (1 - d/r_c)^p, so the energy jump is ~(1e-6)^6 of the interaction scale; any discontinuity
# (a missing envelope, attention weights jumping) would be O(1) of it.
CUTOFF_CONTINUITY = 1e-6

# --- data loading (gaqmd.data) ---

# The same ethanol frames stored as kcal/mol (ethanol_100_kcalmol.xyz, 16-17 significant
# digits) and as eV (train_1000.xyz, 17 significant digits, converted with ase.units'
# kcal/mol). Observed agreement after conversion: 0.0 eV. 1e-12 relative (~4e-9 eV at
# -4209 eV) is ~1e4 float64 ulps of headroom; a different kcal/mol constant (e.g. another
# CODATA release, ~1e-8 relative) or a dropped unit conversion would exceed it.
SAME_DATA_ENERGY_RTOL = 1e-12

# The eV/Å forces of train_1000.xyz are printed with 8 decimals, i.e. rounded by up to
# 5e-9 eV/Å; the kcal/mol/Å copy has 16 significant digits. Observed max difference
# 4.9e-9 eV/Å, so 1e-8 eV/Å bounds the print rounding with 2x margin.
SAME_DATA_FORCES_ATOL = 1e-8

# Unit round trips (meV vs eV, bohr vs Å) of the same file: one float64 multiplication
# each, relative error <= a few ulp (~1e-16).
UNIT_CONVERSION_RTOL = 1e-14

# --- native engine (gaqmd._core.Engine) vs the float64 PyTorch model ---

# Same formulas in float64, different summation orders (e3nn's einsums, index_add vs ordered
# sums): observed energy differences <= 1.3e-15 relative (fp32/w4a32/w4a8, vacuum and periodic).
# 1e-10 is ~1e5 ulps of headroom; any formula error (a missing normalization constant, a wrong
# Clebsch-Gordan sign, a quantizer rounding the other way) shows at 1e-4..1 relative.
ENGINE_ENERGY_RTOL = 1e-10

# Forces: relative RMS over all components; observed <= 4e-15. Analytic backward in C++ vs
# autograd: a wrong derivative term (envelope, SH gradient, STE mask) gives >= 1e-4.
ENGINE_FORCE_RMS_RTOL = 1e-8

# Every intermediate tensor (features, radial weights, messages, gradients), max abs difference
# relative to the tensor's largest entry: the same round-off argument as ENGINE_ENERGY_RTOL;
# observed <= 1e-14. A wrong stage differs by >= 1e-4 of its scale.
ENGINE_TENSOR_RTOL = 1e-10

# --- native engine: tabulated radial mode (Engine(..., radial_table=N), 2048 knots) vs exact ---

# Cubic Hermite with exact knot derivatives: w(d) error O(h^4 w''''), dw/dd error O(h^3), h = r_c/2048.
# Measured with 2048 knots (bundled aspirin fp32/w4a32 model on aspirin and a 648-atom water box;
# the test models on ethanol/aspirin/water): energy <= 1e-13 relative (round-off level of the sum),
# forces <= 2.3e-7 relative RMS (4e-8 on aspirin, 2.2e-7 water: its identical O-H distances add
# their interpolation errors coherently). 1e-12 / 1e-6 leave >= 10x / 4x headroom; a wrong knot
# derivative or segment index gives errors of 1e-3..1 relative.
TABULATED_RADIAL_ENERGY_RTOL = 1e-12
TABULATED_RADIAL_FORCE_RMS_RTOL = 1e-6
