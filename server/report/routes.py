"""Route analysis: for every room entered at least `MIN_ATTEMPTS` times, cluster the stays.

The usage guide's `GameplayAnalyzer.analyze_routes`, made part of the product: each stay in a room
is one attempt with six features (path length, average speed, damage taken and dealt, abilities
used, time in the room), standardized, clustered with k-means; k (1 to `MAX_ROUTES`) is the one
with the best silhouette, and 1 when no split is clear (best silhouette under `MIN_SILHOUETTE`).
The best route is the guide's: the lowest damage taken per unit of speed (`damage / (speed + 1)`),
the shorter time on a tie. Needs numpy and scikit-learn (`pip install 'data-export-bus[analysis]'`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .session import SessionLog, Visit

MIN_ATTEMPTS = 3
MAX_ROUTES = 4
MIN_SILHOUETTE = 0.3
LATEST = 3  # the player's latest attempts, compared with the best route
FEATURES = ("path_length", "avg_speed", "damage_taken", "damage_dealt", "abilities", "seconds")

EXPLAIN: dict[str, str] = {
    "path_length": "Distance Hornet moved in the room (sum of position changes), in world units.",
    "avg_speed": "Mean speed over the stay (|velocity| of each player_update), units/s.",
    "damage_taken": "Masks lost in the room.",
    "damage_dealt": "Damage dealt in the room.",
    "abilities": "Abilities used in the room (ability_used).",
    "seconds": "Time in the room, in seconds.",
    "silhouette": "How clearly the attempts split into these routes (-1 to 1; above 0.5 is clear).",
}


def features(visit: Visit) -> list[float]:
    """An attempt's feature vector, in `FEATURES` order."""
    return [visit.path_length, visit.avg_speed, visit.damage_taken, visit.damage_dealt,
            float(visit.abilities), visit.seconds]


def choose_k(x: np.ndarray) -> tuple[np.ndarray, int, float | None]:
    """Cluster labels, k and the silhouette for the k (2..MAX_ROUTES) with the best silhouette."""
    n = len(x)
    best: tuple[np.ndarray, int, float | None] = (np.zeros(n, dtype=int), 1, None)
    if n < MIN_ATTEMPTS or np.allclose(x, x[0]):
        return best
    # Tiny problems: one thread (OpenMP threads on a busy machine cost more than they save).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # duplicate points: fewer distinct clusters than k
        for k in range(2, min(MAX_ROUTES, n - 1) + 1):
            labels = KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(x)
            if len(set(labels.tolist())) < 2:
                continue
            score = float(silhouette_score(x, labels))
            if best[2] is None or score > best[2]:
                best = (labels, k, score)
    if best[2] is None or best[2] < MIN_SILHOUETTE:
        return np.zeros(n, dtype=int), 1, best[2]
    return best


def describe(means: dict[str, float]) -> str:
    """The guide's words for a route (damage-free / low-damage / high-risk; speed)."""
    damage, speed = means["damage_taken"], means["avg_speed"]
    words = ["damage-free" if damage < 1 else "low-damage" if damage < 3 else "high-risk",
             "high-speed" if speed > 8 else "moderate-pace" if speed > 5 else "cautious"]
    return ", ".join(words)


def _mean(rows: list[list[float]]) -> dict[str, float]:
    cols = list(zip(*rows, strict=True))
    return {name: round(float(sum(col) / len(col)), 2) for name, col in zip(FEATURES, cols, strict=True)}


def advice(best: dict[str, float], latest: dict[str, float], latest_in_best: bool) -> list[str]:
    """Concrete advice: the best route against the player's latest attempts (the guide's phrases)."""
    out = []
    damage = latest["damage_taken"] - best["damage_taken"]
    speed = best["avg_speed"] - latest["avg_speed"]
    abilities = best["abilities"] - latest["abilities"]
    seconds = latest["seconds"] - best["seconds"]
    if damage > 0.5:
        out.append(f"Optimal route takes {damage:.1f} less damage on average than your latest attempts")
    if speed > 1:
        out.append(f"Optimal route is {speed:.1f} units/s faster")
        out.append("Consider maintaining momentum through jumps")
    if abilities > 1:
        out.append("Best route uses abilities more frequently for movement")
    elif abilities < -1:
        out.append("Consider conserving abilities - optimal route uses fewer")
    if seconds > 2:
        out.append(f"Optimal route is {seconds:.1f} s quicker through the room")
    if not out:
        out.append("Your latest attempts already follow the best route" if latest_in_best
                   else "Your latest attempts are as good as the best route")
    return out


def room_routes(room: str, area: str | None, visits: list[Visit]) -> dict[str, Any]:
    """One room's route analysis."""
    rows = [features(v) for v in visits]
    x = StandardScaler().fit_transform(np.array(rows, dtype=float))
    labels, k, score = choose_k(x)
    # Routes are named A, B, C... in the order the player first took them.
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    names = [chr(ord("A") + order[label]) for label in labels.tolist()]
    clusters: list[dict[str, Any]] = []
    for name in sorted(set(names)):
        members = [i for i, n in enumerate(names) if n == name]
        means = _mean([rows[i] for i in members])
        clusters.append({"name": name, "size": len(members), "attempts": [i + 1 for i in members],
                         "means": means, "description": describe(means),
                         "score": round(means["damage_taken"] / (means["avg_speed"] + 1), 4)})
    best = min(clusters, key=lambda c: (c["score"], c["means"]["seconds"]))
    latest = list(range(max(0, len(rows) - LATEST), len(rows)))
    latest_means = _mean([rows[i] for i in latest])
    in_best = all(names[i] == best["name"] for i in latest)
    return {
        "room": room, "area": area, "attempts": len(rows), "k": k,
        "silhouette": None if score is None else round(score, 3),
        "clusters": clusters, "best": best["name"], "best_description": best["description"],
        "latest": latest_means, "advice": advice(best["means"], latest_means, in_best),
        "list": [{"n": i + 1, "t": round(v.start, 3), "route": names[i],
                  **dict(zip(FEATURES, (round(f, 2) for f in rows[i]), strict=True))}
                 for i, v in enumerate(visits)],
    }


def routes(log: SessionLog) -> list[dict[str, Any]]:
    """Every room entered at least `MIN_ATTEMPTS` times, most attempts first."""
    by_room: dict[str, list[Visit]] = {}
    for visit in log.visits:
        by_room.setdefault(visit.room, []).append(visit)
    rooms = [(room, visits) for room, visits in by_room.items() if len(visits) >= MIN_ATTEMPTS]
    rooms.sort(key=lambda rv: (-len(rv[1]), rv[0]))
    return [room_routes(room, visits[0].area, visits) for room, visits in rooms]
