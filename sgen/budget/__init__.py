from sgen.budget.ledger import BudgetExceeded, BudgetScope, QueryLedger
from sgen.budget.metered import MeteredTeacher

__all__ = ["BudgetExceeded", "BudgetScope", "MeteredTeacher", "QueryLedger"]
