"""Generated video clips and image folders with per-frame truth, for the daemon's tests.

A fixed camera looks at a desk. `number_clip`: a sheet with a handwritten number lies there; the number
changes a few times (the sheet is swapped, a couple of frames of motion), and for about a second there
is no sheet at all. The camera shakes a little, the light flickers, some frames are motion-blurred.
`meter_clip`: a water meter's counter or an LCD counter whose value goes up, with frames that invite a
misread (a drum part-way between two digits, a glare, a blur). `image_folder`: the frames of a number
clip as numbered PNG files.

Clips are written to a temporary name and renamed when complete. MJPG in .avi is used because OpenCV
writes and reads it on every platform without extra codecs, frame-exact.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from convert.synth import meters
from convert.synth.scenes import (
    _desk_texture,
    _ink_colour,
    _lighting,
    _Page,
    _paper_colour,
    _pen_for,
    _rel_width,
)
from convert.synth.scenes import _writer_glyphs as writer_glyphs

FOURCC = "MJPG"


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) showing `text` (None: nothing readable — no sheet, or the sheet moving)."""

    start: int
    end: int
    text: str | None


@dataclass
class ClipTruth:
    path: Path
    fps: float
    size: tuple[int, int]  # (width, height)
    truth: list[str | None]  # per frame: the number shown, None when none is readable
    kinds: list[str]  # per frame: "ok", "blur", "swap", "empty", "glare", "roll", "dark"
    segments: list[Segment] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.truth)


def _segments(truth: list[str | None]) -> list[Segment]:
    out: list[Segment] = []
    start = 0
    for i in range(1, len(truth) + 1):
        if i == len(truth) or truth[i] != truth[start]:
            out.append(Segment(start, i, truth[start]))
            start = i
    return out


# ---------------------------------------------------------------------------------- frame making


class _Shaker:
    """Per-frame camera shake, light flicker and sensor noise over a clean image (uint8 throughout:
    a clip is hundreds of frames)."""

    MARGIN = 32

    def __init__(self, rng: np.random.Generator, size: tuple[int, int]):
        self.rng = rng
        w, h = size
        self.size = size
        # A few noise fields, cropped at random offsets per frame: fresh-looking noise at a fraction of
        # the cost of drawing it anew. Kept as separate positive and negative parts for saturating adds.
        self.noise = []
        for _ in range(3):
            n = rng.normal(0, float(rng.uniform(2.0, 3.5)), (h + self.MARGIN, w + self.MARGIN, 1))
            n = np.repeat(n, 3, axis=2)
            self.noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        self.phase = float(rng.uniform(0, 2 * math.pi))

    def frame(self, clean: np.ndarray, index: int, blur_len: float = 0.0, gain: float = 1.0) -> np.ndarray:
        rng = self.rng
        w, h = self.size
        angle = float(rng.normal(0, 0.25))
        dx, dy = rng.normal(0, 1.2, 2)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += (dx, dy)
        img = cv2.warpAffine(clean, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if blur_len > 1:
            img = _motion_blur(img, blur_len, float(rng.uniform(0, 180)))
        flicker = 1.0 + 0.04 * math.sin(index * 2.1 + self.phase) + float(rng.normal(0, 0.015))
        img = cv2.convertScaleAbs(img, alpha=flicker * gain)
        plus, minus = self.noise[index % len(self.noise)]
        ox, oy = int(rng.integers(self.MARGIN)), int(rng.integers(self.MARGIN))
        img = cv2.add(img, plus[oy : oy + h, ox : ox + w])
        return cv2.subtract(img, minus[oy : oy + h, ox : ox + w])


def _motion_blur(img: np.ndarray, length: float, angle_deg: float) -> np.ndarray:
    n = max(3, round(length) | 1)
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    return cv2.filter2D(img, -1, k / max(float(k.sum()), 1e-6))


def _number(rng: np.random.Generator) -> str:
    n = int(rng.integers(3, 7))
    first = str(int(rng.integers(1, 10)))
    return first + "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))


class _DeskScene:
    """A fixed desk and a sheet lying at a fixed place on it, with a number written on the sheet."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int]):
        w, h = size
        self.size = size
        self.rng = rng
        self.desk = _desk_texture(rng, h, w)
        self.light = _lighting(rng, h, w, shadow=False)[..., None]
        self.sheet_w, self.sheet_h = int(w * rng.uniform(0.6, 0.75)), int(h * rng.uniform(0.5, 0.65))
        cx, cy = w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h
        theta = math.radians(float(rng.uniform(-4, 4)))
        c, s = math.cos(theta), math.sin(theta)
        src = np.float32([[0, 0], [self.sheet_w, 0], [self.sheet_w, self.sheet_h], [0, self.sheet_h]])
        dst = [
            (
                cx + c * (px - self.sheet_w / 2) - s * (py - self.sheet_h / 2) + rng.uniform(-6, 6),
                cy + s * (px - self.sheet_w / 2) + c * (py - self.sheet_h / 2) + rng.uniform(-6, 6),
            )
            for px, py in src
        ]
        self.m = cv2.getPerspectiveTransform(src, np.float32(dst))
        self.paper = _paper_colour(rng)
        self.ink, self.strength = _ink_colour(rng)
        mask = cv2.warpPerspective(np.ones((self.sheet_h, self.sheet_w), np.float32), self.m, (w, h))
        shadow = cv2.GaussianBlur(np.roll(mask, (4, 4), axis=(0, 1)), (0, 0), 4)
        self.mask = mask[..., None]
        self.desk_shadowed = self.desk * (1.0 - 0.4 * shadow)[..., None]

    def empty(self) -> np.ndarray:
        return np.clip(self.desk * self.light + 0.5, 0, 255).astype(np.uint8)

    def with_number(self, text: str, seed: int, k: int) -> np.ndarray:
        rng = np.random.default_rng([int(seed), 0x5EE7, k])
        w, h = self.size
        page = _Page(self.sheet_w, self.sheet_h, self.paper, rng)
        glyphs = writer_glyphs(rng, text, str(rng.choice(["tight", "normal"])), typical=True)
        digit_h = min(h * float(rng.uniform(0.12, 0.2)), 0.8 * self.sheet_w / _rel_width(glyphs))
        x = (self.sheet_w - _rel_width(glyphs) * digit_h) / 2
        y = (self.sheet_h - digit_h) / 2
        page.write_line(glyphs, x, y, digit_h, _pen_for(rng, digit_h), self.ink, self.strength)
        sheet = cv2.warpPerspective(page.rgb, self.m, (w, h), flags=cv2.INTER_LINEAR)
        img = (sheet * self.mask + self.desk_shadowed * (1.0 - self.mask)) * self.light
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _number_frames(
    seed: int, fps: float, seconds: float, size: tuple[int, int]
) -> Iterator[tuple[np.ndarray, str | None, str]]:
    rng = np.random.default_rng([int(seed), 0xC11B])
    wanted = max(1, round(fps * seconds))
    # The timeline is planned over at least 6 s, so that a short clip is the start of a long one.
    total = max(wanted, round(fps * 6))
    scene = _DeskScene(rng, size)
    shaker = _Shaker(rng, size)
    # Timeline: numbers held for a few seconds each, swaps of 2 frames, ~1 s with no sheet after the
    # second number.
    n_numbers = 3 if seconds < 18 else 4
    swap = 2
    empty = max(2, round(fps))
    hold = (total - empty - swap * (n_numbers - 1)) // n_numbers
    numbers: list[str] = []
    while len(numbers) < n_numbers:
        t = _number(rng)
        if not numbers or t != numbers[-1]:
            numbers.append(t)
    plan: list[tuple[str, str | None]] = []  # (kind, text)
    for i, text in enumerate(numbers):
        length = hold if i < n_numbers - 1 else total - len(plan)
        plan += [("ok", text)] * length
        if i == 1:
            plan += [("empty", None)] * empty
        elif i < n_numbers - 1:
            plan += [("swap", None)] * swap
    plan = plan[:total]
    # Each sheet is drawn when first seen, from its own generator, so a short clip is the exact start
    # of a longer one and does not pay for sheets it never shows.
    clean: dict[str | None, np.ndarray] = {}

    def view(text: str | None) -> np.ndarray:
        if text not in clean:
            k = numbers.index(text) if text is not None else -1
            clean[text] = scene.empty() if text is None else scene.with_number(text, seed, k)
        return clean[text]

    # A few strongly motion-blurred frames inside the held stretches (camera bumped).
    ok_frames = [i for i, (k, _) in enumerate(plan) if k == "ok"]
    for i in rng.choice(ok_frames, size=max(1, total // 40), replace=False):
        plan[int(i)] = ("blur", plan[int(i)][1])  # the text stays for drawing; the truth is None
    last_text: str | None = None
    for i, (kind, text) in enumerate(plan[:wanted]):
        if kind == "ok":
            last_text = text
            yield shaker.frame(view(text), i), text, kind
        elif kind == "blur":
            blur_len = float(rng.uniform(0.06, 0.1)) * size[0]
            yield shaker.frame(view(text), i, blur_len=blur_len), None, kind
        elif kind == "swap":
            # The sheet slides: the old number moving fast, unreadable.
            blur_len = float(rng.uniform(0.08, 0.14)) * size[0]
            yield shaker.frame(view(last_text or numbers[0]), i, blur_len=blur_len), None, kind
        else:
            yield shaker.frame(view(None), i), None, kind


# ------------------------------------------------------------------------------------- writing


def _write_video(path: Path, fps: float, size: tuple[int, int], frames: Iterator[np.ndarray]) -> int:
    path = Path(path)
    if path.suffix.lower() != ".avi":
        raise ValueError(f"{path}: clips are written as MJPG in .avi; give a path ending in .avi")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), float(fps), size)
    if not writer.isOpened():
        raise RuntimeError(f"{tmp}: cv2.VideoWriter cannot write {FOURCC} .avi files")
    count = 0
    try:
        for frame in frames:
            writer.write(frame)
            count += 1
    finally:
        writer.release()
    os.replace(tmp, path)
    return count


def number_clip(
    path: str | Path, seed: int, fps: float = 10, seconds: float = 20, size: tuple[int, int] = (640, 480)
) -> ClipTruth:
    """Write a clip of a number on a sheet (see module doc) to `path` (.avi) and return its truth."""
    truth: list[str | None] = []
    kinds: list[str] = []

    def frames() -> Iterator[np.ndarray]:
        for img, text, kind in _number_frames(seed, fps, seconds, size):
            truth.append(text)
            kinds.append(kind)
            yield img

    _write_video(Path(path), fps, size, frames())
    return ClipTruth(Path(path), float(fps), size, truth, kinds, _segments(truth))


def image_folder(directory: str | Path, seed: int, n: int, size: tuple[int, int] = (640, 480)) -> ClipTruth:
    """Write `n` frames of a number clip as frame_00000.png … into `directory` (created) and return their
    truth (fps is nominal: 10)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    truth: list[str | None] = []
    kinds: list[str] = []
    for i, (img, text, kind) in enumerate(_number_frames(seed, 10, n / 10, size)):
        if i >= n:
            break
        final = directory / f"frame_{i:05d}.png"
        tmp = directory / f".frame_{i:05d}.part.png"
        if not cv2.imwrite(str(tmp), img):
            raise RuntimeError(f"{tmp}: cv2.imwrite failed")
        os.replace(tmp, final)
        truth.append(text)
        kinds.append(kind)
    return ClipTruth(directory, 10.0, size, truth, kinds, _segments(truth))


def meter_clip(
    path: str | Path,
    seed: int,
    fps: float = 10,
    seconds: float = 15,
    category: str = "drum",
    size: tuple[int, int] = (640, 480),
) -> ClipTruth:
    """Write a clip of a meter whose value goes up (`category` "drum" or "lcd") and return its truth.

    The value rises by one unit every 1–2.5 s. Drums roll: the last drum is caught part-way between two
    digits in the frame before a change (kind "roll"; the truth keeps the value shown before the
    change). Some frames carry a glare ("glare") or a blur ("blur"): their truth
    is still the value, they are the frames a reader may get wrong."""
    if category not in ("drum", "lcd"):
        raise ValueError(f"meter_clip category {category!r}: expected 'drum' or 'lcd'")
    rng = np.random.default_rng([int(seed), 0x3E7C])
    total = max(10, round(fps * seconds))
    digits = int(rng.integers(5, 8))
    start = int(rng.integers(10 ** (digits - 2), 10 ** (digits - 1)))
    # Value over time: steps of one unit with random waits.
    times = []
    t = float(rng.uniform(0.5, 1.5))
    while t < seconds:
        times.append(t)
        t += float(rng.uniform(1.0, 2.5))
    shaker = _Shaker(rng, size)
    cache: dict[tuple[str, float, float], np.ndarray] = {}  # clean renders, shared by frames
    layout_seed = int(seed) * 7919 + 17

    def render(value: str, roll: float, glare: float) -> np.ndarray:
        key = (value, round(roll, 2), glare)
        if key not in cache:
            scene = meters.make_meter(
                category,
                layout_seed,
                value,
                roll=roll if category == "drum" else 0.0,
                shot=layout_seed,
                glare=glare,
                blur=0.0,
                frame=size,
                camera=False,
            )
            cache[key] = scene.image
        return cache[key]

    special = set(int(i) for i in rng.choice(total, size=max(2, total // 25), replace=False))
    truth: list[str | None] = []
    kinds: list[str] = []

    def frames() -> Iterator[np.ndarray]:
        for i in range(total):
            now = i / fps
            steps = sum(1 for c in times if c <= now)
            value = str(start + steps).zfill(digits)
            nxt = [c for c in times if c > now]
            roll = 0.0
            if category == "drum" and nxt and nxt[0] - now <= 1.0 / fps:
                roll = float(rng.choice([0.3, 0.5, 0.7]))
            kind = "roll" if roll > 0 else "ok"
            glare = 0.0
            blur = 0.0
            if i in special:
                if rng.random() < 0.5:
                    kind, glare = "glare", 1.0
                else:
                    kind, blur = "blur", float(rng.uniform(0.04, 0.07)) * size[0]
            truth.append(value)
            kinds.append(kind)
            yield shaker.frame(render(value, roll, glare), i, blur_len=blur)

    _write_video(Path(path), fps, size, frames())
    return ClipTruth(Path(path), float(fps), size, truth, kinds, _segments(truth))
