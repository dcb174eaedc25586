"""Metropolis–Hastings sampling of |ψ|² for a batch of independent walkers.

Each step moves all electrons of a walker at once, r' = r + s ξ with ξ ~ N(0, 1) per coordinate
(s in bohr), and accepts with probability min(1, |ψ(r')|² / |ψ(r)|²); the Gaussian proposal is
symmetric, so no proposal ratio enters. An all-electron move costs one batched evaluation of log|ψ|
whatever the number of electrons n, a sweep of one-electron moves n of them; for the few-electron
systems here the smaller step that all-electron moves need is the cheaper trade.

The step size adapts towards a target acceptance (default 0.5) during burn-in and, in optimisation,
between parameter updates (`adapt`); within `sample` it stays fixed, so each call is a proper
Markov chain with |ψ|² as its stationary density.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from gaqmd.vmc.systems import System

LogPsi = Callable[[Tensor], Tensor]


def acceptance_probability(log_abs_old: Tensor, log_abs_new: Tensor) -> Tensor:
    """min(1, |ψ_new|² / |ψ_old|²) from log|ψ| values (...)."""
    return torch.exp(2.0 * (log_abs_new - log_abs_old)).clamp(max=1.0)


@dataclass(frozen=True)
class SamplerConfig:
    """step_size: initial proposal width s, bohr; target acceptance and the adaptation gain per call."""

    step_size: float = 0.2
    target_acceptance: float = 0.5
    adaptation_rate: float = 1.0
    min_step: float = 1e-3
    max_step: float = 5.0


class MetropolisSampler:
    """Walkers (W, n, 3), bohr, with their log|ψ| (W,) and the current step size."""

    def __init__(self, log_psi: LogPsi, positions: Tensor, config: SamplerConfig = SamplerConfig(), seed: int = 0):
        self.log_psi = log_psi
        self.config = config
        self.step_size = config.step_size
        self.generator = torch.Generator(device=positions.device).manual_seed(seed)
        self.positions = positions.detach().clone()
        self.log_abs = self._evaluate(self.positions)

    @torch.no_grad()
    def _evaluate(self, positions: Tensor) -> Tensor:
        return self.log_psi(positions).detach()

    def refresh(self) -> None:
        """Re-evaluate log|ψ| at the current walkers, e.g. after the parameters changed."""
        self.log_abs = self._evaluate(self.positions)

    def step(self) -> float:
        """One all-electron move of every walker; returns the fraction accepted."""
        noise = torch.randn(self.positions.shape, generator=self.generator, dtype=self.positions.dtype,
                            device=self.positions.device)
        proposal = self.positions + self.step_size * noise
        log_abs = self._evaluate(proposal)
        uniform = torch.rand(self.log_abs.shape, generator=self.generator, dtype=self.positions.dtype,
                             device=self.positions.device)
        accept = uniform < acceptance_probability(self.log_abs, log_abs)
        self.positions = torch.where(accept[:, None, None], proposal, self.positions)
        self.log_abs = torch.where(accept, log_abs, self.log_abs)
        return accept.to(self.positions.dtype).mean().item()

    def sample(self, steps: int) -> float:
        """`steps` moves at a fixed step size; returns the mean acceptance."""
        return sum(self.step() for _ in range(steps)) / steps

    def adapt(self, acceptance: float) -> None:
        """Scale the step size by exp(rate · (acceptance − target)), within [min_step, max_step]."""
        config = self.config
        factor = math.exp(config.adaptation_rate * (acceptance - config.target_acceptance))
        self.step_size = min(max(self.step_size * factor, config.min_step), config.max_step)

    def burn_in(self, steps: int, every: int = 10) -> float:
        """`steps` moves, adapting the step size every `every` moves; returns the last block's acceptance."""
        acceptance = float("nan")
        for done in range(0, steps, every):
            acceptance = self.sample(min(every, steps - done))
            self.adapt(acceptance)
        return acceptance


def initial_positions(system: System, walkers: int, scale: float = 1.0, seed: int = 0,
                      dtype: torch.dtype = torch.float64) -> Tensor:
    """Electron positions (W, n, 3), bohr: electrons shared out over the nuclei by charge, spin up
    and down alternately as in an aufbau filling, each Gaussian (width `scale`) about its nucleus."""
    nuclei = system.nuclei(dtype)
    owners = [a for a, z in enumerate(system.charges) for _ in range(round(z))]
    up_owners, down_owners = owners[0::2] + owners[1::2], owners[1::2] + owners[0::2]
    extra = [a % len(nuclei) for a in range(system.n_electrons)]  # for anions: more electrons than protons
    up = (up_owners + extra)[: system.n_up]
    down = (down_owners + extra)[: system.n_down]
    centres = nuclei[torch.tensor(up + down, dtype=torch.long)]
    generator = torch.Generator().manual_seed(seed)
    return centres + scale * torch.randn(walkers, system.n_electrons, 3, generator=generator, dtype=dtype)
