"""Can the synthetic set be trusted: how much of it overlaps the test set (contamination) and how varied it is."""
from sgen.audit.contamination import ContaminationReport, find_contamination
from sgen.audit.diversity import diversity_metrics

__all__ = ["ContaminationReport", "diversity_metrics", "find_contamination"]
