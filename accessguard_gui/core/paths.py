"""Explanation paths rebuilt from a deduplicated role graph: the k best, never all of them.

Role inheritance is a DAG, and the walks through it can be exponential in number (a
diamond stacked 16 times holds 65,536 walks between its ends). The access questions
first compute the *set* of roles involved with a deduplicating recursive query (UNION:
each role once) and read each role's parents; this module then rebuilds at most ``k``
paths from that graph, best first, in time polynomial in the graph and ``k``:

- ``distances`` gives every role its exact distance to the nearest goal (a role holding
  the permission), a few C-speed sweeps over the parent lists;
- ``best_paths`` extends partial paths ordered by (rank, length so far + that distance),
  so a partial path is only ever taken on its way to a complete path of the same
  length, and complete paths come out live before expired, shortest first;
- successors are pushed lazily (the best one, and when it is taken the next sibling), so
  a role with a thousand parents costs two heap entries per step, not a thousand; paths
  are linked entries, turned into tuples only when they are returned.

"Rank" is 0 for a path through a live assignment, 1 through an expired one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

# Inheritance chains are refused beyond MAX_PATH_DEPTH edges (rbac.add_inheritance), so a
# path has at most this many roles; the bound also ends any search on a damaged file.
MAX_PATH_ROLES = 33
# Work cap per path (heap pops) against a damaged file whose cycles would make partial
# paths die at the length limit; on a valid (acyclic) graph a path takes <= 2 x roles.
_POPS_PER_PATH = 4 * MAX_PATH_ROLES
_FAR = 1 << 30


@dataclass(frozen=True, slots=True)
class FoundPath:
    """One path: role ids from the start (an assigned role) to a goal, and its rank."""

    nodes: tuple[int, ...]
    rank: int


def parse_ids(text: str | None) -> list[int]:
    """The ids of a ``group_concat`` / ``string_agg`` list ("3,7,9"); [] for NULL."""
    return list(map(int, text.split(","))) if text else []


def distances(
    parents: Mapping[int, Sequence[int]], goals: Iterable[int], order: Sequence[int]
) -> dict[int, int]:
    """Edges from each role of ``order`` to the nearest goal along ``parents``; roles
    that reach no goal are left out.

    Sweeps the roles in ``order`` reversed until nothing changes: one sweep settles a
    graph listed breadth-first from its top (as the recursive query lists it), a
    second confirms; each sweep is one ``min`` over every parent list.
    """
    dist = dict.fromkeys(order, _FAR)
    for goal in goals:
        dist[goal] = 0
    pending = [(r, ps) for r in reversed(order) if dist[r] and (ps := parents.get(r))]
    get = dist.get
    far = repeat(_FAR)  # the distance of a parent outside ``order`` (a partial graph)
    changed = True
    sweeps = 0
    while changed and sweeps <= MAX_PATH_ROLES + 1:  # the bound: a damaged (cyclic) file
        changed = False
        sweeps += 1
        for role, ps in pending:
            best = min(map(get, ps, far)) + 1
            if best < dist[role]:
                dist[role] = best
                changed = True
    return {r: d for r, d in dist.items() if d < _FAR}


def best_paths(
    starts: Mapping[int, int],
    parents: Mapping[int, Sequence[int]],
    dist: Mapping[int, int],
    goals: Iterable[int],
    names: Mapping[int, str],
    k: int,
    *,
    max_nodes: int = MAX_PATH_ROLES,
    by_name: bool = False,
) -> tuple[list[FoundPath], bool]:
    """The ``k`` best simple paths from a start to a goal, following ``parents``.

    Args:
        starts: role -> rank of the paths beginning there (0 live, 1 expired).
        parents: role -> the roles it inherits from.
        dist: exact edges to the nearest goal (``distances``); roles missing from it
            reach no goal and are never entered.
        goals: the roles holding the permission (a goal may also lie inside a longer
            path to another goal: both paths count).
        names: role names; ties between equally good successors break by name.
        k: at most this many paths.
        max_nodes: paths longer than this are not considered.
        by_name: every parent list is sorted by name already (the cached role graph's
            are): the walk over the shortest paths need not sort them again.

    Returns:
        The paths ordered by (rank, length), and whether more paths exist.
    """
    tight = _tight_paths(starts, parents, dist, names, k, max_nodes, by_name)
    if tight is not None:
        return tight, True
    goal_set = set(goals)
    ordered: dict[int, list[int]] = {}

    def successors(role: int) -> list[int]:
        found = ordered.get(role)
        if found is None:
            found = [
                p
                for _d, _n, p in sorted(
                    (dist[p], names.get(p, ""), p) for p in parents.get(role, ()) if p in dist
                )
            ]
            ordered[role] = found
        return found

    # Entry: (rank, bound, tie, role, length, link, siblings, index, done). ``link`` is
    # the entry of the path without its last role; ``tie`` (a falling counter) takes the
    # newest of equally good entries first, so a path is finished before another begins.
    heap: list[tuple[int, int, int, int, int, Any, list[int], int, bool]] = []
    counter = 0

    def push(rank: int, length: int, link: Any, siblings: list[int], index: int) -> None:
        nonlocal counter
        while index < len(siblings):
            role = siblings[index]
            bound = length + 1 + dist[role]
            if bound > max_nodes:
                return  # siblings are sorted by distance: no later one fits either
            counter -= 1
            heapq.heappush(
                heap, (rank, bound, counter, role, length + 1, link, siblings, index, False)
            )
            return

    first = sorted((rank, dist[s], names.get(s, ""), s) for s, rank in starts.items() if s in dist)
    for rank, _d, _n, start in reversed(first):  # reversed: the counter favours the last
        push(rank, 0, None, [start], 0)
    found: list[FoundPath] = []
    budget = max(k, 1) * _POPS_PER_PATH
    # On an acyclic graph every partial path ends in a complete one; the budget only
    # bounds the walks round a cycle of a damaged file (never shown, see below).
    while heap and len(found) < k and budget > 0:
        budget -= 1
        entry = heapq.heappop(heap)
        rank, _bound, _tie, role, length, link, siblings, index, done = entry
        if done:
            nodes = _nodes(entry)
            if len(set(nodes)) == len(nodes):  # a walk round a cycle only on a damaged file
                found.append(FoundPath(nodes, rank))
            continue
        push(rank, length - 1, link, siblings, index + 1)
        if role in goal_set:
            counter -= 1
            heapq.heappush(heap, (rank, length, counter, role, length, link, siblings, index, True))
        push(rank, length, entry, successors(role), 0)
    return found, bool(heap)


def _nodes(entry: Any) -> tuple[int, ...]:
    nodes = []
    link = entry
    while link is not None:
        nodes.append(link[3])
        link = link[5]
    return tuple(reversed(nodes))


def _walk_tight(
    start: int,
    rank: int,
    parents: Mapping[int, Sequence[int]],
    dist: Mapping[int, int],
    order: Any,
    found: list[FoundPath],
    k: int,
) -> bool:
    """Depth-first over the tight steps from ``start`` (the parents one edge nearer a
    goal, taken in ``order``: None when every parent list is sorted by name already),
    collecting complete paths into ``found``; True once more than ``k`` are found.

    Iterative (the roles of the path so far and an iterator over each one's steps) with
    the steps worked out inline: a recursive call, a tuple and a function call per step
    cost most of an explanation on deep hierarchies. Each step is one edge nearer a
    goal, so the path never grows past the start's distance."""
    path = [start]
    stack: list[Any] = []
    role: int | None = start
    get = dist.get
    while True:
        if role is not None:  # entering ``role``: its steps
            nearer = dist[role] - 1
            listed = parents.get(role, ())
            if len(listed) == 1:  # one parent (half the roles of a diamond)
                steps: Any = listed if get(listed[0]) == nearer else ()
            else:
                steps = [p for p in listed if get(p) == nearer]
                if order is not None:
                    steps.sort(key=order)
            stack.append(iter(steps))
            role = None
        for step in stack[-1]:
            if dist[step] == 0:  # a goal: every tight walk ends in one
                found.append(FoundPath((*path, step), rank))
                if len(found) > k:
                    return True
            else:
                path.append(step)
                role = step
                break
        else:
            stack.pop()
            path.pop()
            if not stack:
                return False


def _tight_paths(
    starts: Mapping[int, int],
    parents: Mapping[int, Sequence[int]],
    dist: Mapping[int, int],
    names: Mapping[int, str],
    k: int,
    max_nodes: int,
    by_name: bool = False,
) -> list[FoundPath] | None:
    """The ``k`` best paths when shortest ones alone make them, else None.

    A path from a start as short as that start's distance takes a role one step nearer a
    goal at every step ("tight"), so a depth-first walk over such steps meets a goal at
    every leaf and finds each such path in a few steps — the common case on deep
    hierarchies, where the shortest paths alone are more than ``k`` (a stacked diamond
    holds 65,536). Any other path from a start is at least one role longer than its
    tight ones. So the first ``k`` of ``k + 1`` tight paths taken in (rank, length)
    order are the ``k`` best if no start could give a longer path that still ranks
    before the ``k``-th; otherwise (or with ``k`` or fewer tight paths, when whether
    more exist is not known) None: the general search answers.
    """
    if k < 1:
        return None
    ranked = sorted(
        (rank, dist[s], names.get(s, ""), s)
        for s, rank in starts.items()
        if s in dist and dist[s] < max_nodes
    )
    found: list[FoundPath] = []
    order = None if by_name else (lambda p: names.get(p, ""))
    for rank, d, _name, start in ranked:
        if d == 0:
            found.append(FoundPath((start,), rank))
        elif _walk_tight(start, rank, parents, dist, order, found, k):
            break
        if len(found) > k:
            break
    if len(found) <= k:
        return None
    kth = (found[k - 1].rank, len(found[k - 1].nodes))
    for rank, d, _name, _start in ranked:
        if d + 2 <= max_nodes and (rank, d + 2) < kth:
            return None  # a longer path from this start would rank before the k-th
    return found[:k]
