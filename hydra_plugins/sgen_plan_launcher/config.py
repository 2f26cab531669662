"""Structured config of the plan launcher, registered as `hydra/launcher=plan`.

No `from __future__ import annotations` here: Hydra's plugin scanner runs this module before it is in sys.modules,
and dataclasses then cannot resolve string annotations.
"""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class PlanLauncherConf:
    _target_: str = "hydra_plugins.sgen_plan_launcher.sgen_plan_launcher.PlanLauncher"
    # When no earlier run on this machine measured a teacher backend or a student, measure it with a short probe:
    # auto = local backends and students (seconds to a minute); true = also served backends (teacher=openai: a few
    # paid queries); false = never (their times show as unknown).
    probe: str = "auto"


ConfigStore.instance().store(group="hydra/launcher", name="plan", node=PlanLauncherConf,
                             provider="sgen_plan_launcher")
