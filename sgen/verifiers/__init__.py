from sgen.verifiers.base import NoVerifier, Verifier
from sgen.verifiers.gold import GoldVerifier
from sgen.verifiers.judge import JudgeVerifier
from sgen.verifiers.majority import MajorityVerifier

__all__ = ["GoldVerifier", "JudgeVerifier", "MajorityVerifier", "NoVerifier", "Verifier"]
