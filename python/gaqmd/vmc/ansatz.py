"""A FermiNet-style neural wavefunction (Pfau et al., Phys. Rev. Research 2020), written once with
`gaqmd.vmc.ops` so that it runs on tensors (autograd) and on FwdLapl (Forward Laplacian).

    h_i  = [r_i − R_A, |r_i − R_A|]_A                    one-electron stream   (..., n, 4A)
    h_ij = [r_i − r_j, |r_i − r_j|]                      two-electron stream   (..., n, n, 4)
    layer: h_i ← tanh(W [h_i, ⟨h_ij⟩_same, ⟨h_ij⟩_opp] + V [⟨h_j⟩_same, ⟨h_j⟩_opp] + b) (+ h_i),
           h_ij ← tanh(U h_ij + c) (+ h_ij)               ⟨⟩: means over electrons j of the same /
                                                           opposite spin as electron i
    φ_kj(r_i) = (w_kj · h_i) Σ_A π_Akj exp(−σ_Akj |r_i − R_A|)        σ > 0, 1/bohr
    ψ = exp(J) Σ_k det[φ_kj(r_i)]_↑ det[φ_kj(r_i)]_↓,
    J = −Σ_{i<j} c_ij α² / (α + r_ij),  c = ¼ same spin, ½ opposite spin   (the e–e cusps, ∂J/∂r = c at 0)

Positions are bohr, spin-up electrons first. Pair features couple two electrons, so from the first
interaction layer on the Forward Laplacian carries dense jacobians (3n entries per value).
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gaqmd.vmc import ops
from gaqmd.vmc.ops import Value
from gaqmd.vmc.systems import System


@dataclass(frozen=True)
class AnsatzConfig:
    """Sizes of the network: features per electron and per pair, interaction layers, determinants K."""

    hidden_one: int = 32
    hidden_two: int = 8
    layers: int = 2
    determinants: int = 4
    jastrow: bool = True

    def __post_init__(self) -> None:
        for name in ("hidden_one", "hidden_two", "layers", "determinants"):
            if getattr(self, name) < 1:
                raise ValueError(f"AnsatzConfig.{name} must be >= 1, got {getattr(self, name)}")


class FermiNet(nn.Module):
    """log|ψ| of a System's electrons; call with positions (..., n, 3), bohr, tensor or FwdLapl."""

    def __init__(self, system: System, config: AnsatzConfig = AnsatzConfig(), seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.config = config
        self.groups = tuple((start, m) for start, m in ((0, system.n_up), (system.n_up, system.n_down)) if m > 0)
        nuclei = system.nuclei(dtype)
        self.register_buffer("nuclei", nuclei)
        n = system.n_electrons
        spin = torch.tensor([0] * system.n_up + [1] * system.n_down)
        same = (spin[:, None] == spin[None, :]).to(dtype) * (1 - torch.eye(n, dtype=dtype))
        self.register_buffer("eye", torch.eye(n, dtype=dtype))
        self.register_buffer("same_pairs", same)
        self.register_buffer("opposite_pairs", (spin[:, None] != spin[None, :]).to(dtype))
        self._build(len(nuclei), torch.Generator().manual_seed(seed), dtype)

    def _build(self, n_nuclei: int, generator: torch.Generator, dtype: torch.dtype) -> None:
        config, groups = self.config, len(self.groups)

        def linear(inputs: int, outputs: int, bias: bool = True) -> nn.ParameterList:
            weight = torch.randn(outputs, inputs, generator=generator, dtype=dtype) * inputs**-0.5
            return nn.ParameterList([weight] + ([torch.zeros(outputs, dtype=dtype)] if bias else []))

        one, two = 4 * n_nuclei, 4
        self.electron_layers, self.global_layers, self.pair_layers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for layer in range(config.layers):
            self.electron_layers.append(linear(one + groups * two, config.hidden_one))
            self.global_layers.append(linear(groups * one, config.hidden_one, bias=False))
            if layer < config.layers - 1:
                self.pair_layers.append(linear(two, config.hidden_two))
            one, two = config.hidden_one, config.hidden_two
        k = config.determinants
        self.orbital_layers = nn.ModuleList(linear(one, k * m) for _, m in self.groups)
        self.log_decay = nn.ParameterList(torch.zeros(n_nuclei, k * m, dtype=dtype) for _, m in self.groups)
        self.envelope_weight = nn.ParameterList(torch.ones(n_nuclei, k * m, dtype=dtype) for _, m in self.groups)
        self.log_jastrow = nn.Parameter(torch.zeros(2, dtype=dtype)) if config.jastrow else None

    def forward(self, positions: Value) -> Value:
        """log|ψ| (...) at positions (..., n, 3), bohr."""
        return self.signed(positions)[1]

    def signed(self, positions: Value) -> tuple[Tensor, Value]:
        """(sign ψ, log|ψ|), both (...)."""
        one, nucleus_distance, pair_distance = self._streams(positions)
        signs, logs = None, None
        for matrices in self._orbital_matrices(one, nucleus_distance):
            sign, log_abs = ops.slogdet(matrices)  # (..., K)
            signs, logs = (sign, log_abs) if logs is None else (signs * sign, logs + log_abs)
        sign, log_abs = ops.signed_logsumexp(logs, signs, -1)
        if self.log_jastrow is not None:
            log_abs = log_abs + self._jastrow(pair_distance)
        return sign, log_abs

    def orbitals(self, positions: Tensor) -> list[Tensor]:
        """The orbital matrices before the determinants, one per spin group: (..., K, m, m), entry
        [k, i, j] = φ_kj(r_i) for the group's electrons i (rows) and orbitals j (columns)."""
        one, nucleus_distance, _ = self._streams(positions)
        return self._orbital_matrices(one, nucleus_distance)

    def _streams(self, positions: Value) -> tuple[Value, Value, Value]:
        """The one-electron stream after the interaction layers (..., n, F1), electron–nucleus
        distances (..., n, A) and electron–electron distances (..., n, n, zero diagonal), bohr."""
        to_nuclei = ops.unsqueeze(positions, -2) - self.nuclei  # (..., n, A, 3)
        nucleus_distance = ops.norm(to_nuclei, -1)  # (..., n, A)
        pairs = ops.unsqueeze(positions, -2) - ops.unsqueeze(positions, -3)  # (..., n, n, 3): r_i − r_j
        # r_ii = 0 would put sqrt's infinite slope on the diagonal; shift it to √3 there and mask it out.
        pair_distance = ops.norm(pairs + self.eye.unsqueeze(-1), -1) * (1.0 - self.eye)  # (..., n, n)
        one = ops.concat([ops.flatten(to_nuclei, -2), nucleus_distance], -1)
        two = ops.concat([pairs, ops.unsqueeze(pair_distance, -1)], -1)
        for layer in range(self.config.layers):
            one, two = self._interact(layer, one, two)
        return one, nucleus_distance, pair_distance

    def _interact(self, layer: int, one: Value, two: Value) -> tuple[Value, Value]:
        """One interaction layer: one (..., n, F1), two (..., n, n, F2) -> the next streams."""
        pooled_one = [ops.mean(ops.narrow(one, -2, start, m), -2) for start, m in self.groups]  # (..., F1) each
        pooled_two = [ops.mean(ops.narrow(two, -2, start, m), -2) for start, m in self.groups]  # (..., n, F2) each
        blocks = []
        for group, (start, m) in enumerate(self.groups):
            order = [group] + [other for other in range(len(self.groups)) if other != group]  # same spin first
            rows = [ops.narrow(one, -2, start, m)] + [ops.narrow(pooled_two[g], -2, start, m) for g in order]
            electron = ops.linear(ops.concat(rows, -1), *self.electron_layers[layer])
            shared = ops.linear(ops.concat([pooled_one[g] for g in order], -1), *self.global_layers[layer])
            blocks.append(electron + ops.unsqueeze(shared, -2))
        new_one = ops.tanh(ops.concat(blocks, -2))
        if new_one.shape[-1] == one.shape[-1]:
            new_one = new_one + one
        if layer >= len(self.pair_layers):
            return new_one, two
        new_two = ops.tanh(ops.linear(two, *self.pair_layers[layer]))
        if new_two.shape[-1] == two.shape[-1]:
            new_two = new_two + two
        return new_one, new_two

    def _orbital_matrices(self, one: Value, nucleus_distance: Value) -> list[Value]:
        """Φ_k per spin group, (..., K, m, m), from one (..., n, F1) and distances (..., n, A)."""
        matrices = []
        for group, (start, m) in enumerate(self.groups):
            decay = torch.exp(self.log_decay[group])  # (A, K m)
            distance = ops.unsqueeze(ops.narrow(nucleus_distance, -2, start, m), -1)  # (..., m, A, 1)
            envelope = ops.sum(ops.exp(distance * -decay) * self.envelope_weight[group], -2)  # (..., m, K m)
            orbitals = ops.linear(ops.narrow(one, -2, start, m), *self.orbital_layers[group]) * envelope
            matrices.append(ops.transpose(ops.unflatten(orbitals, -1, (self.config.determinants, m)), -3, -2))
        return matrices

    def _jastrow(self, pair_distance: Value) -> Value:
        """J (...) from pair distances (..., n, n), bohr; each pair counted once."""
        total = None
        for alpha, pairs, cusp in zip(torch.exp(self.log_jastrow), (self.same_pairs, self.opposite_pairs), (0.25, 0.5)):
            term = ops.reciprocal(pair_distance + alpha) * (pairs * (-0.5 * cusp * alpha**2))
            term = ops.sum(ops.sum(term, -1), -1)
            total = term if total is None else total + term
        return total
