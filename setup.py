"""Ship conf/ inside the wheel as sgen/conf, so `python -m sgen` finds its Hydra configs after `pip install .`.

Everything else lives in pyproject.toml; this hook exists because the config root stays at the top level (conf/),
where users expect it, and setuptools cannot map a top-level folder into a found package by itself.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithConf(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "sgen" / "conf"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(__file__).parent / "conf", target)


setup(cmdclass={"build_py": BuildPyWithConf})
