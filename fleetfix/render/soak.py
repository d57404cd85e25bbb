"""Soak results without a terminal: the JSON of ``soak`` and of ``soak --evaluate``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from fleetfix.soak.host_soak import HostSoak
from fleetfix.soak.verdict import FioEvaluation


def evaluation_json(evaluation: FioEvaluation) -> str:
    return json.dumps(evaluation.to_dict(), indent=1) + "\n"


def results_json(results: Sequence[HostSoak]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=1) + "\n"
