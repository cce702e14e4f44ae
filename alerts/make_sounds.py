"""Generate the default alert sounds in `static/sounds/` (pure Python: `wave`, `math`, `array`).

The shipped .wav files are the output of this script, made for this project and dedicated to the
public domain (CC0, see `static/sounds/LICENSE`). Re-run after changing a recipe:

    python3 -m dxbus.alerts.make_sounds            # writes into the package's static/sounds/
    python3 -m dxbus.alerts.make_sounds OUT_DIR     # or anywhere else

The output is deterministic (the only noise comes from a seeded generator), so re-running it
reproduces the committed files byte for byte.
"""

from __future__ import annotations

import math
import random
import sys
import wave
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path

RATE = 22_050
Samples = list[float]


def _envelope(n: int, attack: float, release: float) -> Iterable[float]:
    a = max(1, int(attack * RATE))
    r = max(1, int(release * RATE))
    for i in range(n):
        if i < a:
            yield i / a
        elif i > n - r:
            yield max(0.0, (n - i) / r)
        else:
            yield 1.0


def tone(freq: float, seconds: float, volume: float = 0.5, shape: str = "sine",
         attack: float = 0.005, release: float = 0.08, glide_to: float | None = None) -> Samples:
    """One note; `glide_to` sweeps the pitch linearly; shapes: sine, triangle, square-ish."""
    n = int(seconds * RATE)
    out: Samples = []
    phase = 0.0
    for i, env in enumerate(_envelope(n, attack, release)):
        f = freq if glide_to is None else freq + (glide_to - freq) * i / n
        phase += 2 * math.pi * f / RATE
        if shape == "triangle":
            v = 2 / math.pi * math.asin(math.sin(phase))
        elif shape == "soft-square":
            # A few odd harmonics: brighter than a sine, without a square wave's harshness.
            v = math.sin(phase) + math.sin(3 * phase) / 3 + math.sin(5 * phase) / 5
            v *= 0.8
        else:
            v = math.sin(phase)
        out.append(v * env * volume)
    return out


def bell(freq: float, seconds: float, volume: float = 0.5) -> Samples:
    """A struck bell: inharmonic partials, each decaying exponentially."""
    n = int(seconds * RATE)
    partials = ((1.0, 1.0, 3.0), (2.76, 0.5, 5.0), (5.4, 0.25, 8.0), (8.93, 0.12, 12.0))
    out: Samples = []
    for i in range(n):
        t = i / RATE
        v = sum(a * math.exp(-d * t) * math.sin(2 * math.pi * freq * m * t) for m, a, d in partials)
        attack = min(1.0, i / (0.002 * RATE))
        out.append(v * volume * attack / 1.9)
    return out


def noise_sweep(seconds: float, volume: float = 0.3, seed: int = 7) -> Samples:
    """A whoosh: noise through a one-pole low-pass whose cutoff rises and falls."""
    rng = random.Random(seed)
    n = int(seconds * RATE)
    out: Samples = []
    y = 0.0
    for i in range(n):
        pos = i / n
        alpha = 0.02 + 0.5 * math.sin(math.pi * pos) ** 2
        y += alpha * (rng.uniform(-1, 1) - y)
        out.append(y * volume * math.sin(math.pi * pos))
    return out


def silence(seconds: float) -> Samples:
    """Nothing, for `seconds`."""
    return [0.0] * int(seconds * RATE)


def mix(*tracks: tuple[float, Samples]) -> Samples:
    """Overlay tracks, each starting at its offset in seconds."""
    length = max(int(at * RATE) + len(s) for at, s in tracks)
    out = [0.0] * length
    for at, samples in tracks:
        start = int(at * RATE)
        for i, v in enumerate(samples):
            out[start + i] += v
    return out


def seq(*parts: Samples) -> Samples:
    """Parts one after the other."""
    out: Samples = []
    for part in parts:
        out.extend(part)
    return out


def note(name: str) -> float:
    """Frequency of a note like `C5`, `F#4`, `Bb3`."""
    names = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
    semis = names[name[0]]
    rest = name[1:]
    if rest.startswith("#"):
        semis, rest = semis + 1, rest[1:]
    elif rest.startswith("b"):
        semis, rest = semis - 1, rest[1:]
    return 440.0 * 2 ** ((semis + 12 * (int(rest) - 4)) / 12)


def chord(names: str, seconds: float, volume: float = 0.3, shape: str = "triangle") -> Samples:
    """Notes (`"C5 E5 G5"`) sounding together."""
    return mix(*((0.0, tone(note(n), seconds, volume, shape, release=0.3)) for n in names.split()))


RECIPES: dict[str, Callable[[], Samples]] = {
    # Boss defeated: a rising fanfare ending on a held major chord.
    "victory.wav": lambda: seq(
        tone(note("C5"), 0.11, 0.4, "soft-square"), tone(note("E5"), 0.11, 0.4, "soft-square"),
        tone(note("G5"), 0.11, 0.4, "soft-square"), chord("C5 E5 G5 C6", 0.7, 0.22, "soft-square")),
    # Perfect room: two clean bell strikes a fifth apart.
    "perfect.wav": lambda: mix((0.0, bell(note("E6"), 0.6, 0.5)), (0.12, bell(note("B6"), 0.7, 0.45))),
    # Speed room: a whoosh with an upward glide.
    "speed.wav": lambda: mix((0.0, noise_sweep(0.45, 0.5)),
                             (0.05, tone(note("A4"), 0.35, 0.25, "triangle", glide_to=note("A6")))),
    # Death: a slow falling minor line.
    "death.wav": lambda: seq(tone(note("E4"), 0.22, 0.45, "triangle"),
                             tone(note("C4"), 0.22, 0.45, "triangle"),
                             tone(note("A3"), 0.5, 0.45, "triangle", glide_to=note("G#3"), release=0.3)),
    # Low health: two heartbeat thumps.
    "low-health.wav": lambda: seq(tone(70, 0.12, 0.9, attack=0.002, release=0.1, glide_to=45), silence(0.08),
                                  tone(65, 0.16, 0.8, attack=0.002, release=0.14, glide_to=40)),
    # New area: a soft three-bell motif.
    "discovery.wav": lambda: mix((0.0, bell(note("G5"), 0.7, 0.35)), (0.18, bell(note("D6"), 0.7, 0.35)),
                                 (0.36, bell(note("G6"), 0.9, 0.35))),
    # Ability obtained: a shimmering rising arpeggio.
    "ability.wav": lambda: mix(*((i * 0.06, bell(note(n), 0.6, 0.28))
                                 for i, n in enumerate(["C6", "E6", "G6", "B6", "D7", "G7"]))),
    # No-damage streak: a bright two-note "ding-ding".
    "streak.wav": lambda: seq(tone(note("A5"), 0.1, 0.4, "triangle"), tone(note("E6"), 0.3, 0.4, "triangle",
                                                                          release=0.2)),
    # Generic alert for custom rules.
    "alert.wav": lambda: mix((0.0, bell(note("C6"), 0.5, 0.45)), (0.1, bell(note("G6"), 0.6, 0.35))),
}


def write_wav(path: Path, samples: Samples) -> None:
    """16-bit mono PCM, normalised to -1 dBFS peak so every sound has a similar loudness ceiling."""
    peak = max((abs(v) for v in samples), default=1.0) or 1.0
    scale = 0.89 * 32767 / peak
    pcm = array("h", (int(max(-32767, min(32767, v * scale))) for v in samples))
    if sys.byteorder != "little":
        pcm.byteswap()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())


def main(argv: list[str] | None = None) -> int:
    """Write every recipe into the given folder (default: the package's static/sounds/)."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        target = Path(args[0])
    else:
        from .sounds import builtin_dir

        target = builtin_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name, recipe in RECIPES.items():
        write_wav(target / name, recipe())
        print(f"{target / name}: {(target / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
