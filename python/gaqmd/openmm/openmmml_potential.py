"""openmm-ml potential "gaq" (entry point ``openmmml.potentials``): the native engine in OpenMM.

    potential = MLPotential("gaq", model="aspirin_w4a8.gaq")
    system = potential.createSystem(topology)
    mixed = potential.createMixedSystem(topology, mm_system, ml_atoms, interpolate=True)

Import-light: openmm-ml imports every registered factory at start-up, so gaqmd's heavy modules are
imported only when a potential is created.
"""

from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory


class GaqPotentialImplFactory(MLPotentialImplFactory):
    def createImpl(self, name: str, model=None, threads: int | None = None, **args) -> MLPotentialImpl:
        """model: a model.gaq file, a gaqmd model/checkpoint file or a description (gaqmd.export.source)."""
        if model is None:
            raise ValueError('MLPotential("gaq") needs model=PATH (a model.gaq file or a gaqmd model file)')
        from gaqmd.export.source import model_description

        return GaqPotentialImpl(model_description(model))


class GaqPotentialImpl(MLPotentialImpl):
    def __init__(self, description):
        self.description = description

    def getMLLongRange(self) -> bool:
        """The model only sees neighbours within its cutoff (no long-range electrostatics)."""
        return False

    def addForces(self, topology, system, atoms, forceGroup, **args):
        """Add one GaqForce for `atoms` (None: all) of `topology`, periodic when the topology has a box."""
        from gaqmd.openmm.force import gaq_force

        force = gaq_force(self.description, topology=topology, subset=None if atoms is None else list(atoms))
        force.setForceGroup(forceGroup)
        system.addForce(force)
