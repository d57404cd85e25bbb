"""How likely a job's hits are by chance: the share of time its runs cover, and the tail probability.

If crashes struck at random times, a crash on host *i* would fall inside a run with probability ``p_i``,
the share of time the job's runs cover on that host (0 on a host without the job). The number of hits among
*n* crashes is then a sum of independent Bernoulli trials (binomial with ``p`` when every host has the same
coverage, Poisson-binomial in general), and the p-value is the probability of at least the observed number
of hits. A daily three-hour backup covers 1/8 of the day: 11 hits of 12 by chance has probability about
5e-10. The test assumes crash times independent of the time of day apart from the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fleetfix.triage.correlate.job_schedule import Schedule

MAX_STARTS = 5_000  # a job starting more often is measured over the first MAX_STARTS runs of the window


def p_at_least(hits: int, chances: Sequence[float]) -> float:
    """P(at least ``hits`` successes) in independent trials with these probabilities (Poisson-binomial)."""
    if hits <= 0:
        return 1.0
    dist = [1.0]
    for p in chances:
        step = [0.0] * (len(dist) + 1)
        for j, q in enumerate(dist):
            step[j] += q * (1 - p)
            step[j + 1] += q * p
        dist = step
    return min(1.0, sum(dist[hits:]))


def coverage(schedule: Schedule, length: timedelta, begin: datetime, end: datetime) -> float:
    """The share of ``[begin, end]`` that lies inside some run ``[start, start + length)``."""
    covered, reach = 0.0, begin
    for count, start in enumerate(schedule.starts(begin - length, end), 1):
        run_from, run_to = max(start, reach), min(start + length, end)
        if run_to > run_from:
            covered += (run_to - run_from).total_seconds()
            reach = run_to
        if count >= MAX_STARTS:  # a very frequent job: measure over the stretch seen so far
            end = max(reach, begin + timedelta(seconds=1))
            break
    total = (end - begin).total_seconds()
    return min(1.0, covered / total) if total > 0 else 0.0
