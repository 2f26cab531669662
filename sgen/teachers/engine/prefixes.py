"""Which prompt prefixes to compute once and share: the branching points of the prompts' token trie.

Teacher prompts repeat themselves: every query of a run carries the same system prompt and instruction, a
rewrite prompt differs from its neighbours only after the label, and answer augmentation asks one question k
times. Sorted token lists and the longest common prefix of each adjacent pair give the trie's branching points
(the LCP-interval tree); a branching point is worth computing once when the tokens it saves outweigh the extra
forward that computes it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PrefixNode:
    depth: int  # prefix length in tokens
    lb: int  # first and last position (in sorted order) of the prompts that share it
    rb: int

    @property
    def count(self) -> int:
        return self.rb - self.lb + 1


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def branching_nodes(order: list[int], prompts: Sequence[Sequence[int]]) -> list[PrefixNode]:
    """Every prefix shared by two or more prompts that is a branching point (or a whole repeated prompt), from the
    LCP array of the sorted prompts (Abouelhoda et al.'s bottom-up lcp-interval traversal)."""
    lcp = [_lcp(prompts[order[k]], prompts[order[k + 1]]) for k in range(len(order) - 1)]
    nodes: list[PrefixNode] = []
    stack: list[list[int]] = [[0, 0]]  # [depth, left bound]
    for i in range(1, len(order) + 1):
        cur = lcp[i - 1] if i < len(order) else 0
        lb = i - 1
        while cur < stack[-1][0]:
            depth, lb = stack.pop()
            nodes.append(PrefixNode(depth, lb, i - 1))
        if cur > stack[-1][0]:
            stack.append([cur, lb])
    return nodes


def plan_prefixes(prompts: Sequence[Sequence[int]], min_tokens: int = 8, min_saving: int = 48) -> list[int]:
    """For each prompt, how many of its leading tokens to take from a shared prefix (0: none)."""
    return [chain[-1] if chain else 0 for chain in prefix_chains(prompts, min_tokens, min_saving)]


def prefix_chains(prompts: Sequence[Sequence[int]], min_tokens: int = 8,
                  min_saving: int = 48) -> list[list[int]]:
    """For each prompt, the depths of the shared prefixes it passes through, shortest first (empty: none).

    A branching node is kept when it is at least `min_tokens` deep and sharing its own tokens (those below the
    nearest kept ancestor) saves at least `min_saving` token positions of prefill. A prompt's chain holds its kept
    ancestors, so computing them in order costs each shared token once (a few-shot block once, then each question
    on top of it). The deepest is capped one token short of the prompt's end: the last prompt token is always
    computed in the row, for its logits.
    """
    order = sorted(range(len(prompts)), key=lambda i: list(prompts[i]))
    nodes = sorted(branching_nodes(order, prompts), key=lambda n: n.depth)
    kept: list[PrefixNode] = []
    for node in nodes:
        if node.depth < min_tokens:
            continue
        ancestors = [k for k in kept if k.lb <= node.lb and node.rb <= k.rb]
        base = max((k.depth for k in ancestors), default=0)
        if (node.count - 1) * (node.depth - base) >= min_saving:
            kept.append(node)
    chains: list[list[int]] = [[] for _ in prompts]
    for node in kept:  # ascending depth
        for k in range(node.lb, node.rb + 1):
            chains[order[k]].append(node.depth)
    out = []
    for chain, prompt in zip(chains, prompts, strict=True):
        capped = sorted({min(d, len(prompt) - 1) for d in chain} - {0})
        out.append(capped)
    return out
