"""A Hydra sweeper that lets Optuna (4 or 5) choose sgen's augmentation mix through ask/tell.

The official hydra-optuna-sweeper pins optuna<3 and its SQLite storage breaks with SQLAlchemy 2, so sgen ships this
thin replacement. `hydra_plugins` itself stays a namespace package (no __init__.py there) so that it merges with
other installed Hydra plugins such as hydra_submitit_launcher.
"""
