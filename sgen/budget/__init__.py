from sgen.budget.cache import QueryCache, QueryStore, open_query_cache, query_key
from sgen.budget.ledger import BudgetExceeded, BudgetScope, QueryLedger
from sgen.budget.metered import MeteredTeacher

__all__ = ["BudgetExceeded", "BudgetScope", "MeteredTeacher", "QueryCache", "QueryLedger", "QueryStore", "open_query_cache",
           "query_key"]
