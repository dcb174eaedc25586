"""VMC optimisation and evaluation: Adam on the variational energy, then a blocked estimate of ⟨E⟩.

The gradient of ⟨E⟩ = ⟨E_L⟩ over |ψ|² is 2 ⟨(E_L − ⟨E_L⟩) ∇_θ log|ψ|⟩ (E_L held fixed); it is taken
as the gradient of a surrogate loss. Local energies in the gradient are clipped to the median ±
`clip_scale` mean absolute deviations: near nodes and nuclei E_L has heavy tails that would
otherwise dominate single steps. Energies are Hartree, positions bohr.
"""

import sys
import time
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gaqmd.vmc.ansatz import AnsatzConfig, FermiNet
from gaqmd.vmc.blocking import blocked_error
from gaqmd.vmc.hamiltonian import METHODS, local_energy
from gaqmd.vmc.sampler import MetropolisSampler, SamplerConfig, initial_positions
from gaqmd.vmc.systems import System


@dataclass(frozen=True)
class TrainConfig:
    """steps: parameter updates; walkers: MCMC chains; mcmc_steps: moves between updates and between
    evaluation samples; burn_in: moves before the first update; learning_rate / (1 + t / lr_decay)."""

    steps: int = 500
    walkers: int = 256
    learning_rate: float = 1e-2
    lr_decay: float = 1000.0
    mcmc_steps: int = 5
    burn_in: int = 200
    clip_scale: float = 5.0
    eval_steps: int = 200
    method: str = "forward"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("walkers", "mcmc_steps", "eval_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps < 0 or self.burn_in < 0:
            raise ValueError("steps and burn_in must be >= 0")


@dataclass(frozen=True)
class VMCResult:
    """Final energy ± blocked standard error and variance of E_L (Hartree, Hartree²), the mean E_L of
    every optimisation step (trace) and evaluation step, acceptance, step size (bohr), wall time (s)."""

    energy: float
    stderr: float
    variance: float
    trace: tuple[float, ...]
    evaluation: tuple[float, ...]
    acceptance: float
    step_size: float
    seconds: float
    n_parameters: int


def clip_local_energies(energies: Tensor, scale: float) -> Tensor:
    """energies (W,) clipped to median ± scale · mean |E − median| (Hartree)."""
    median = energies.median()
    spread = (energies - median).abs().mean()
    return energies.clamp(median - scale * spread, median + scale * spread)


def energy_loss(log_abs: Tensor, energies: Tensor, clip_scale: float) -> Tensor:
    """Surrogate whose θ-gradient is 2⟨(E_L − ⟨E_L⟩) ∇_θ log|ψ|⟩; log_abs (W,) with graph, energies (W,)."""
    clipped = clip_local_energies(energies.detach(), clip_scale)
    return 2.0 * ((clipped - clipped.mean()) * log_abs).mean()


def _local_energies(ansatz: FermiNet, positions: Tensor, system: System, method: str) -> Tensor:
    with torch.no_grad():
        energies = local_energy(ansatz, positions, ansatz.nuclei, system.nuclear_charges(positions.dtype), method)
    return energies.detach()


def optimize(ansatz: FermiNet, system: System, sampler: MetropolisSampler, config: TrainConfig,
             progress: bool = True) -> list[float]:
    """`config.steps` Adam updates of the ansatz; returns the mean E_L (Hartree) at every step."""
    optimizer = torch.optim.Adam(ansatz.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + t / config.lr_decay))
    trace = []
    bar = tqdm(range(config.steps), desc="VMC", unit="step", file=sys.stderr, disable=not progress)
    for _ in bar:
        acceptance = sampler.sample(config.mcmc_steps)
        sampler.adapt(acceptance)
        energies = _local_energies(ansatz, sampler.positions, system, config.method)
        loss = energy_loss(ansatz(sampler.positions), energies, config.clip_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        sampler.refresh()
        trace.append(energies.mean().item())
        bar.set_postfix(E=f"{trace[-1]:.5f}", acc=f"{acceptance:.2f}", step=f"{sampler.step_size:.2f}")
    return trace


def evaluate(ansatz: FermiNet, system: System, sampler: MetropolisSampler, config: TrainConfig,
             progress: bool = True) -> tuple[list[float], float, float]:
    """Mean E_L over the walkers at `eval_steps` sampling points, `mcmc_steps` moves apart, with
    fixed parameters and step size; returns (series, variance of E_L, mean acceptance)."""
    series, squares, acceptances = [], [], []
    for _ in tqdm(range(config.eval_steps), desc="evaluate", unit="step", file=sys.stderr, disable=not progress):
        acceptances.append(sampler.sample(config.mcmc_steps))
        energies = _local_energies(ansatz, sampler.positions, system, config.method)
        series.append(energies.mean().item())
        squares.append(energies.square().mean().item())
    mean = sum(series) / len(series)
    return series, sum(squares) / len(squares) - mean**2, sum(acceptances) / len(acceptances)


def run_vmc(system: System, ansatz_config: AnsatzConfig | None = None, config: TrainConfig | None = None,
            sampler_config: SamplerConfig | None = None, progress: bool = True) -> VMCResult:
    """Build the ansatz, burn in, optimise and evaluate; energy ± blocked standard error in Hartree.
    None configs take their defaults."""
    start = time.perf_counter()
    ansatz_config, config = ansatz_config or AnsatzConfig(), config or TrainConfig()
    sampler_config = sampler_config or SamplerConfig()
    ansatz = FermiNet(system, ansatz_config, seed=config.seed)
    walkers = initial_positions(system, config.walkers, seed=config.seed)
    sampler = MetropolisSampler(ansatz, walkers, sampler_config, seed=config.seed)
    sampler.burn_in(config.burn_in)
    trace = optimize(ansatz, system, sampler, config, progress)
    sampler.burn_in(config.burn_in // 4)
    series, variance, acceptance = evaluate(ansatz, system, sampler, config, progress)
    energy, stderr = blocked_error(series, min_blocks=min(32, max(2, len(series) // 4)))
    return VMCResult(
        energy=energy,
        stderr=stderr,
        variance=variance,
        trace=tuple(trace),
        evaluation=tuple(series),
        acceptance=acceptance,
        step_size=sampler.step_size,
        seconds=time.perf_counter() - start,
        n_parameters=sum(p.numel() for p in ansatz.parameters()),
    )
