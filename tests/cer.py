"""Character error rate for tests, on whitespace-collapsed text."""

from rapidfuzz.distance import Levenshtein


def cer(truth: str, output: str) -> float:
    reference = " ".join(truth.split())
    hypothesis = " ".join(output.split())
    return Levenshtein.distance(reference, hypothesis) / max(1, len(reference))
