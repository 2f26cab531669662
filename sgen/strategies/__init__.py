from sgen.strategies.annotate import Annotate
from sgen.strategies.base import Flow, GenerationContext, Strategy
from sgen.strategies.mix import Mix
from sgen.strategies.new_answer import NewAnswer
from sgen.strategies.new_question import NewQuestion
from sgen.strategies.rephrase import Rephrase

__all__ = ["Annotate", "Flow", "GenerationContext", "Mix", "NewAnswer", "NewQuestion", "Rephrase", "Strategy"]
