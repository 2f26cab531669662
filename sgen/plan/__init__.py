"""Price a sweep before it runs: queries to pay, tokens, dollars and wall time per stage, per job and in total.

`python -m sgen -m <overrides> hydra/launcher=plan` (hydra_plugins/sgen_plan_launcher) or the API:

    from sgen.plan import plan_jobs, format_plan
    plan = plan_jobs([cfg_a, cfg_b])   # composed job configs, in sweep order
    print(format_plan(plan))

Query counts are exact where the answers are known: the real strategy code runs against the query cache (read
only) and remembers what earlier jobs of the plan pay, as the sweep's shared cache will. Answers the teacher has yet
to give are simulated from its recorded completions, so counts that depend on parsing (new_question, verifiers) and
the tokens of unpaid queries are estimates. Times come from measurements of earlier runs on this machine
(rates.jsonl in the sgen cache) or, when there are none, from a short probe, and the plan says which.
"""
from sgen.plan.planner import plan_jobs
from sgen.plan.records import JobPlan, JobSpec, Plan
from sgen.plan.table import format_plan, write_plan

__all__ = ["JobPlan", "JobSpec", "Plan", "format_plan", "plan_jobs", "write_plan"]
