"""Small demonstration wavefunctions, written once with `gaqmd.vmc.ops` for tensors and FwdLapl.

Each maps electron positions (..., n, 3), bohr, to log|ψ| (...), dimensionless (ψ unnormalised).
"""

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gaqmd.vmc import ops
from gaqmd.vmc.ops import Value


def hydrogenic_product(positions: Value, exponent: float) -> Value:
    """log ψ = −Z Σ_i |r_i|: every electron in a 1s orbital of exponent Z (1/bohr) about the origin.

    Z = 1 with one electron is the hydrogen ground state (E = −½ Ha exactly); Z = 27/16 with two
    electrons is the variational optimum for helium, ⟨E⟩ = −(27/16)² Ha.
    """
    return ops.sum(ops.norm(positions, -1), -1) * (-exponent)


def hydrogen_1s(positions: Value) -> Value:
    """log ψ = −|r| for one electron, positions (..., 1, 3), bohr."""
    return hydrogenic_product(positions, 1.0)


class SlaterMLP(nn.Module):
    """ψ = Σ_k det Φ_k↑ · det Φ_k↓ with orbitals from a one-hidden-layer MLP of each electron's
    position relative to the nuclei, times a sum of exponential envelopes:

        h_i = tanh(W₁ [r_i − R_A, |r_i − R_A|]_A + b₁)                    (hidden units, per electron)
        Φ_k[i, j] = (W_s h_i + b_s)_kj · Σ_A π_Akj exp(−σ_Akj |r_i − R_A|)   (σ > 0 in 1/bohr)

    Row i of each matrix depends on electron i only, which keeps the Forward Laplacian sparse
    up to the determinants. A test and benchmark ansatz, not a trained model.
    """

    def __init__(
        self,
        n_up: int,
        n_down: int,
        nuclei: Tensor,
        hidden: int = 16,
        determinants: int = 2,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        nuclei = torch.as_tensor(nuclei, dtype=dtype).reshape(-1, 3)
        self.register_buffer("nuclei", nuclei)
        self.spins = tuple(m for m in (n_up, n_down) if m > 0)
        self.determinants = determinants
        features = 4 * len(nuclei)

        def normal(*shape: int, scale: float) -> nn.Parameter:
            return nn.Parameter(scale * torch.randn(*shape, generator=generator, dtype=dtype))

        self.hidden_weight = normal(hidden, features, scale=features**-0.5)
        self.hidden_bias = normal(hidden, scale=0.5)
        self.orbital_weight = nn.ParameterList(normal(determinants * m, hidden, scale=hidden**-0.5) for m in self.spins)
        self.orbital_bias = nn.ParameterList(normal(determinants * m, scale=1.0) for m in self.spins)
        self.log_decay = nn.ParameterList(normal(len(nuclei), determinants * m, scale=0.2) for m in self.spins)
        self.envelope_weight = nn.ParameterList(
            nn.Parameter(1.0 + 0.2 * torch.rand(len(nuclei), determinants * m, generator=generator, dtype=dtype))
            for m in self.spins
        )

    def forward(self, positions: Value) -> Value:
        """log|ψ| (...) at positions (..., n_up + n_down, 3), bohr; spin-up electrons first."""
        return self.signed(positions)[1]

    def signed(self, positions: Value) -> tuple[Tensor, Value]:
        """(sign ψ, log|ψ|), both (...)."""
        displacement = ops.unsqueeze(positions, -2) - self.nuclei  # (..., n, A, 3)
        distance = ops.norm(displacement, -1)  # (..., n, A)
        features = ops.concat([ops.flatten(displacement, -2), distance], -1)
        hidden = ops.tanh(ops.linear(features, self.hidden_weight, self.hidden_bias))
        signs, logs, start = None, None, 0
        for spin, m in enumerate(self.spins):
            sign, log_abs = ops.slogdet(
                self._orbitals(spin, ops.narrow(hidden, -2, start, m), ops.narrow(distance, -2, start, m))
            )
            signs, logs = (sign, log_abs) if logs is None else (signs * sign, logs + log_abs)
            start += m
        return ops.signed_logsumexp(logs, signs, -1)

    def _orbitals(self, spin: int, hidden: Value, distance: Value) -> Value:
        """Orbital matrices (..., K, m, m), rows = electrons, from hidden (..., m, H), distance (..., m, A)."""
        m = self.spins[spin]
        decay = torch.exp(self.log_decay[spin])  # (A, K m)
        envelope = ops.sum(ops.exp(ops.unsqueeze(distance, -1) * -decay) * self.envelope_weight[spin], -2)
        orbitals = ops.linear(hidden, self.orbital_weight[spin], self.orbital_bias[spin]) * envelope
        return ops.transpose(ops.unflatten(orbitals, -1, (self.determinants, m)), -3, -2)


def random_positions(shape: Sequence[int], n: int, scale: float = 1.0, seed: int = 0) -> Tensor:
    """Electron positions (*shape, n, 3), bohr, normally distributed with width `scale` (float64)."""
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, n, 3, generator=generator, dtype=torch.float64)
