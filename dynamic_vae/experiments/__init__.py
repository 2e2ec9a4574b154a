"""Experiments that train, evaluate and tabulate several runs in one command.

`FAMILIES` maps each `dynamic-vae experiment <name>` to its `ExperimentFamily`; a new family
is a subclass in its own module plus one entry here.
"""

from dynamic_vae.experiments.condition import Condition
from dynamic_vae.experiments.counting_experiment import CountingExperiment
from dynamic_vae.experiments.experiment_family import ExperimentFamily
from dynamic_vae.experiments.periodic_experiment import PeriodicExperiment
from dynamic_vae.experiments.rotation_experiment import RotationExperiment
from dynamic_vae.experiments.runner import format_table, run_experiment
from dynamic_vae.experiments.textures_experiment import TexturesExperiment

FAMILIES: dict[str, ExperimentFamily] = {
    family.name: family
    for family in (CountingExperiment(), TexturesExperiment(), RotationExperiment(),
                   PeriodicExperiment())
}

__all__ = ["FAMILIES", "Condition", "CountingExperiment", "ExperimentFamily",
           "PeriodicExperiment", "RotationExperiment", "TexturesExperiment", "format_table",
           "run_experiment"]
