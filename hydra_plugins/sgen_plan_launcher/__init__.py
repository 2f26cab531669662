"""A Hydra launcher that plans a sweep instead of running it: `python -m sgen -m <overrides> hydra/launcher=plan`.

It composes every job's config as Hydra's basic launcher does, then hands them to sgen.plan, which prices them
(queries to pay, tokens, dollars, wall time per stage) without a teacher query or a training step, prints the plan
and writes plan.json and plan.csv into the sweep dir.
"""
