"""VMC optimisation and evaluation: Adam or minSR on the variational energy, then a blocked estimate of ⟨E⟩.

The gradient of ⟨E⟩ = ⟨E_L⟩ over |ψ|² is 2 ⟨(E_L − ⟨E_L⟩) ∇_θ log|ψ|⟩ (E_L held fixed); for Adam it
is taken as the gradient of a surrogate loss. Local energies in the gradient are clipped to the
median ± `clip_scale` mean absolute deviations: near nodes and nuclei E_L has heavy tails that would
otherwise dominate single steps. Energies are Hartree, positions bohr.

optimizer "minsr" is stochastic reconfiguration (natural gradient with the Fubini–Study metric) in
its minimum-step form (Chen & Heyl, Nat. Phys. 2024; with the momentum of SPRING, Goldshlager et
al., J. Comput. Phys. 2024): with O (W, P) the centred per-walker gradients ∇_θ log|ψ| / √W and
ε = 2 (E_L − ⟨E_L⟩) / √W (W walkers, P parameters),

    δ = Oᵀ (O Oᵀ + λ I)⁻¹ (ε − μ O δ_prev) + μ δ_prev,     θ ← θ − lr δ,

the least-norm solution of S δ = g with S = OᵀO, costing a W×W solve instead of a P×P one. The
step is capped at `max_step` in the metric, lr |O δ| ≤ max_step.
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

OPTIMIZERS = ("adam", "minsr")


@dataclass(frozen=True)
class TrainConfig:
    """steps: parameter updates; walkers: MCMC chains; mcmc_steps: moves between updates and between
    evaluation samples; burn_in: moves before the first update; learning_rate / (1 + t / lr_decay).
    optimizer "adam" or "minsr" (damping λ, momentum μ, max_step: see the module docstring);
    time_limit: seconds after which optimisation stops early (counted from the start of the run,
    pretraining included; None: no limit); pretrain_steps > 0 fits the orbitals to PySCF's UHF in
    pretrain_basis first (`gaqmd.vmc.pretrain`)."""

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
    optimizer: str = "adam"
    damping: float = 1e-3
    momentum: float = 0.0
    max_step: float = 0.1
    time_limit: float | None = None
    pretrain_steps: int = 0
    pretrain_basis: str = "cc-pvdz"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.pretrain_steps < 0:
            raise ValueError(f"pretrain_steps must be >= 0, got {self.pretrain_steps}")
        if not 0.0 <= self.momentum < 1.0 or self.damping <= 0.0:
            raise ValueError("momentum must lie in [0, 1) and damping be positive")
        for name in ("walkers", "mcmc_steps", "eval_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps < 0 or self.burn_in < 0:
            raise ValueError("steps and burn_in must be >= 0")


@dataclass(frozen=True)
class VMCResult:
    """Final energy ± blocked standard error and variance of E_L (Hartree, Hartree²), the mean E_L of
    every optimisation step (trace) and evaluation step, acceptance, step size (bohr), wall time (s),
    and the orbital-fit loss of every pretraining step (empty without pretraining)."""

    energy: float
    stderr: float
    variance: float
    trace: tuple[float, ...]
    evaluation: tuple[float, ...]
    acceptance: float
    step_size: float
    seconds: float
    n_parameters: int
    pretrain_losses: tuple[float, ...] = ()


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


def per_walker_gradients(ansatz: FermiNet, positions: Tensor) -> Tensor:
    """∇_θ log|ψ(r_w)| for every walker, (W, P), parameters flattened in `ansatz.parameters()` order."""
    names = [name for name, _ in ansatz.named_parameters()]
    parameters = {name: p.detach() for name, p in ansatz.named_parameters()}

    def log_abs(params: dict, x: Tensor) -> Tensor:
        return torch.func.functional_call(ansatz, params, (x.unsqueeze(0),)).squeeze(0)

    gradients = torch.func.vmap(torch.func.grad(log_abs), in_dims=(None, 0))(parameters, positions)
    return torch.cat([gradients[name].reshape(len(positions), -1) for name in names], 1)


def minsr_direction(o: Tensor, epsilon: Tensor, damping: float) -> Tensor:
    """Oᵀ (O Oᵀ + λ I)⁻¹ ε (P,) for O (W, P) and ε (W,): equal to (OᵀO + λ I)⁻¹ Oᵀ ε, the damped SR
    step, at the cost of a W×W solve."""
    kernel = o @ o.T + damping * torch.eye(len(o), dtype=o.dtype, device=o.device)
    return o.T @ torch.linalg.solve(kernel, epsilon)


class MinSR:
    """Minimum-step stochastic reconfiguration with SPRING momentum (see the module docstring)."""

    def __init__(self, ansatz: FermiNet, config: "TrainConfig"):
        self.ansatz, self.config = ansatz, config
        self.previous: Tensor | None = None

    def step(self, positions: Tensor, energies: Tensor, learning_rate: float) -> None:
        config = self.config
        walkers = len(positions)
        o = per_walker_gradients(self.ansatz, positions)
        o = (o - o.mean(0)) / walkers**0.5
        clipped = clip_local_energies(energies, config.clip_scale)
        epsilon = 2.0 * (clipped - clipped.mean()) / walkers**0.5
        if self.previous is not None and config.momentum > 0:
            epsilon = epsilon - config.momentum * (o @ self.previous)
        direction = minsr_direction(o, epsilon, config.damping)
        if self.previous is not None and config.momentum > 0:
            direction = direction + config.momentum * self.previous
        self.previous = direction
        metric_norm = learning_rate * (o @ direction).norm().item()
        scale = learning_rate * min(1.0, config.max_step / metric_norm) if metric_norm > 0 else learning_rate
        with torch.no_grad():
            offset = 0
            for parameter in self.ansatz.parameters():
                count = parameter.numel()
                parameter -= scale * direction[offset : offset + count].reshape(parameter.shape)
                offset += count


def optimize(ansatz: FermiNet, system: System, sampler: MetropolisSampler, config: TrainConfig,
             progress: bool = True, deadline: float | None = None) -> list[float]:
    """Up to `config.steps` updates of the ansatz (Adam or minSR), stopping early once
    time.perf_counter() passes `deadline`; returns the mean E_L (Hartree) at every step."""
    adam, minsr = None, None
    if config.optimizer == "adam":
        adam = torch.optim.Adam(ansatz.parameters(), lr=config.learning_rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(adam, lambda t: 1.0 / (1.0 + t / config.lr_decay))
    else:
        minsr = MinSR(ansatz, config)
    trace = []
    bar = tqdm(range(config.steps), desc="VMC", unit="step", file=sys.stderr, disable=not progress)
    for step in bar:
        if deadline is not None and time.perf_counter() > deadline:
            break
        acceptance = sampler.sample(config.mcmc_steps)
        sampler.adapt(acceptance)
        energies = _local_energies(ansatz, sampler.positions, system, config.method)
        if adam is not None:
            loss = energy_loss(ansatz(sampler.positions), energies, config.clip_scale)
            adam.zero_grad()
            loss.backward()
            adam.step()
            schedule.step()
        else:
            minsr.step(sampler.positions, energies, config.learning_rate / (1.0 + step / config.lr_decay))
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
    pretrain_losses: list[float] = []
    if config.pretrain_steps > 0:
        from gaqmd.vmc.pretrain import PretrainConfig, pretrain

        pretrain_config = PretrainConfig(steps=config.pretrain_steps, basis=config.pretrain_basis)
        pretrain_losses, walkers, _ = pretrain(ansatz, system, walkers, pretrain_config, config.seed, progress)
    sampler = MetropolisSampler(ansatz, walkers, sampler_config, seed=config.seed)
    sampler.burn_in(config.burn_in)
    deadline = None if config.time_limit is None else start + config.time_limit
    trace = optimize(ansatz, system, sampler, config, progress, deadline)
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
        pretrain_losses=tuple(pretrain_losses),
    )
