"""`gaqmd vmc`: variational Monte Carlo reference energies."""
from pathlib import Path


def add_vmc(subparsers) -> None:
    p = subparsers.add_parser(
        "vmc",
        help="variational Monte Carlo energy of an atom or molecule (FermiNet-style ansatz)",
        description="Optimise a FermiNet-style neural wavefunction by VMC (Metropolis sampling, Forward "
        "Laplacian local energies, Adam) and evaluate its energy with a blocked error bar. Prints the energy "
        "in Hartree and writes vmc_summary.json, energy_trace.png and vmc_geometry.xyz (positions in Å, "
        "energy in eV) into --output. Example: gaqmd vmc --system LiH --pretrain 500 --optimizer minsr --time-limit 1500",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--system", metavar="NAME", help="H2, LiH or an element symbol (an atom at the origin), e.g. He, Li")
    where.add_argument("--xyz", type=Path, metavar="FILE",
                       help="molecule from a plain XYZ file (positions in --length-unit)")
    p.add_argument("--bond", type=float, default=None, help="H2 or LiH bond length in bohr (default 1.4, 3.015)")
    p.add_argument("--length-unit", choices=("A", "bohr"), default="A", help="unit of the --xyz positions (default A)")
    p.add_argument("--charge", type=int, default=0, help="total charge in e (default 0)")
    p.add_argument("--spin", type=int, default=None,
                   help="2S = n_up - n_down (default: ground state for atoms H-Ar, else n_electrons mod 2)")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--walkers", type=int, default=256, help="MCMC walkers (default 256)")
    p.add_argument("--eval-steps", type=int, default=200, help="evaluation samples of all walkers (default 200)")
    p.add_argument("--optimizer", choices=("adam", "minsr"), default="adam",
                   help="adam, or minsr: stochastic reconfiguration in its minimum-step form (default adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-2 for adam, 5e-2 for minsr)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop the optimisation after this many seconds of the run (default: no limit)")
    p.add_argument("--pretrain", type=int, default=0, metavar="STEPS",
                   help="Hartree-Fock pretraining steps of the orbitals with PySCF (default 0: none)")
    p.add_argument("--pretrain-basis", default="cc-pvdz", help="PySCF basis of the pretraining UHF (default cc-pvdz)")
    p.add_argument("--determinants", type=int, default=4, help="determinants K (default 4)")
    p.add_argument("--hidden", type=int, default=32, help="one-electron features per layer (default 32)")
    p.add_argument("--layers", type=int, default=2, help="interaction layers (default 2)")
    p.add_argument("--no-jastrow", action="store_true", help="leave out the electron-electron Jastrow factor")
    p.add_argument("--method", choices=("forward", "hessian"), default="forward",
                   help="Laplacian: forward (Forward Laplacian, default) or hessian (autograd reference)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--output", type=Path, default=Path("vmc_run"), metavar="DIR",
                   help="directory for the JSON, PNG and XYZ files (default: ./vmc_run)")


def run_vmc(args) -> int:
    import torch

    from gaqmd.vmc.ansatz import AnsatzConfig
    from gaqmd.vmc.report import write_outputs
    from gaqmd.vmc.systems import named_system, read_xyz
    from gaqmd.vmc.train import TrainConfig, run_vmc

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.xyz is not None:
        if args.bond is not None:
            raise ValueError("--bond applies to --system H2 and LiH only")
        system = read_xyz(args.xyz, args.length_unit, args.charge, args.spin)
    else:
        system = named_system(args.system, args.bond, args.charge, args.spin)
    ansatz = AnsatzConfig(hidden_one=args.hidden, layers=args.layers, determinants=args.determinants,
                          jastrow=not args.no_jastrow)
    learning_rate = args.lr if args.lr is not None else (5e-2 if args.optimizer == "minsr" else 1e-2)
    train = TrainConfig(steps=args.steps, walkers=args.walkers, learning_rate=learning_rate, eval_steps=args.eval_steps,
                        method=args.method, seed=args.seed, optimizer=args.optimizer, time_limit=args.time_limit,
                        pretrain_steps=args.pretrain, pretrain_basis=args.pretrain_basis)
    if args.pretrain:
        from gaqmd.vmc.pretrain import require_pyscf

        try:
            require_pyscf()
        except ImportError as error:
            raise ValueError(str(error)) from None  # exit code 2 with the install hint
    print(f"{system.name}: {system.n_up} up, {system.n_down} down electrons, charge {system.charge}")
    result = run_vmc(system, ansatz, train, progress=not args.no_progress)
    print(f"E = {result.energy:.6f} ± {result.stderr:.6f} Ha (variance {result.variance:.4f} Ha², "
          f"{result.seconds:.0f} s)")
    settings = {"ansatz": vars(ansatz), "train": vars(train)}
    paths = write_outputs(args.output, system, result, settings)
    print(f"wrote {', '.join(path.name for path in paths)} to {args.output}")
    return 0


COMMANDS = {
    "vmc": (add_vmc, run_vmc),
}
