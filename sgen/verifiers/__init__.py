from sgen.verifiers.base import NoVerifier, Verifier
from sgen.verifiers.gold import GoldVerifier
from sgen.verifiers.majority import MajorityVerifier

__all__ = ["GoldVerifier", "MajorityVerifier", "NoVerifier", "Verifier"]
