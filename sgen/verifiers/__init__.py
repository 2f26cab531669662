from sgen.verifiers.base import NoVerifier, Verifier
from sgen.verifiers.majority import MajorityVerifier

__all__ = ["MajorityVerifier", "NoVerifier", "Verifier"]
