"""The vote: K of the last N processed frames; bad frames counted but never a reading; rules after it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_digits import quality
from edge_digits.reading import Box, Digit, Line, Reading
from edge_digits.stabilize import (
    BLURRED,
    DARK,
    EMPTY,
    LOW_CONFIDENCE,
    Observation,
    Rejection,
    Stabilizer,
    StabilizerSettings,
    StableReading,
    with_value,
)


def reading(text: str, conf: float = 0.99) -> Reading:
    lines = []
    for part in text.split("|"):
        lines.append(Line(tuple(Digit(c, conf, Box(10 * i, 0, 8, 12)) for i, c in enumerate(part))))
    return Reading(tuple(lines), (100, 20))


def obs(i: int, text: str | None, conf: float = 0.99, problem: str | None = None) -> Observation:
    r = None if text is None else reading(text, conf)
    return Observation.from_reading(r, i, float(i), 0.8, problem)


def feed(stab: Stabilizer, items: list[Observation]) -> list[tuple[int, str]]:
    out = []
    for o in items:
        res = stab.update(o)
        if isinstance(res, StableReading):
            out.append((res.frame, res.text))
    return out


def test_a_reading_becomes_stable_after_k_of_n_and_changes_once() -> None:
    stab = Stabilizer(StabilizerSettings(window=5, votes=3))
    events = feed(
        stab,
        [obs(0, "12"), obs(1, "12"), obs(2, "12"), obs(3, "12"), obs(4, "13"), obs(5, "13"), obs(6, "13")],
    )
    assert events == [(2, "12"), (6, "13")]
    assert stab.stable is not None and stab.stable.text == "13"


def test_a_single_noisy_frame_never_becomes_a_reading() -> None:
    stab = Stabilizer(StabilizerSettings(window=5, votes=3))
    seq = ["12", "12", "12", "71", "12", "12", "17", "12"]
    assert feed(stab, [obs(i, t) for i, t in enumerate(seq)]) == [(2, "12")]


def test_bad_frames_are_counted_but_never_vote() -> None:
    stab = Stabilizer(StabilizerSettings(window=5, votes=3))
    items = [
        obs(0, "42"),
        obs(1, None, problem=DARK),
        obs(2, "42", problem=BLURRED),
        obs(3, ""),  # no digits
        obs(4, "42", conf=0.5),  # below the confidence threshold
        obs(5, "42"),
        obs(6, "42"),  # frame 0 has left the window of 5: only two votes so far
        obs(7, "42"),
    ]
    assert feed(stab, items) == [(7, "42")]
    assert stab.counts.skipped == {DARK: 1, BLURRED: 1, EMPTY: 1, LOW_CONFIDENCE: 1}
    assert stab.counts.processed == 8 and stab.counts.voted == 4


def test_bad_frames_take_their_place_in_the_window() -> None:
    # Two good reads separated by enough bad frames never add up to a vote of 3 in 5.
    stab = Stabilizer(StabilizerSettings(window=5, votes=3))
    items = [obs(0, "9"), obs(1, "9"), *[obs(i, None, problem=DARK) for i in range(2, 6)], obs(6, "9")]
    assert feed(stab, items) == []


def test_settings_require_a_strict_majority() -> None:
    with pytest.raises(ValueError, match="more than half"):
        StabilizerSettings(window=6, votes=3)
    with pytest.raises(ValueError):
        StabilizerSettings(window=3, votes=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["1", "2", "3", None]), max_size=40), st.integers(1, 4))
def test_every_change_is_backed_by_k_votes_in_the_last_n(seq: list[str | None], half: int) -> None:
    window, votes = 2 * half + 1, half + 1
    stab = Stabilizer(StabilizerSettings(window=window, votes=votes))
    items = [obs(i, t) if t is not None else obs(i, None, problem=DARK) for i, t in enumerate(seq)]
    for frame, text in feed(stab, items):
        recent = seq[max(0, frame - window + 1) : frame + 1]
        assert recent.count(text) >= votes


def test_noise_of_isolated_misreads_never_changes_a_stable_reading() -> None:
    rng = random.Random(4)
    stab = Stabilizer(StabilizerSettings(window=5, votes=3))
    seq = ["2048" if rng.random() > 0.3 else rng.choice(["2049", "2o48", "204", "7048"]) for _ in range(300)]
    # Misreads never come twice within 5 frames here: make sure of it, then no wrong value may appear.
    for i in range(len(seq)):
        if seq[i] != "2048" and seq[i] in seq[max(0, i - 4) : i]:
            seq[i] = "2048"
    texts = {text for _, text in feed(stab, [obs(i, t) for i, t in enumerate(seq)])}
    assert texts == {"2048"}


class Monotonic:
    """A stand-in meter rule: a value may not go down."""

    def before_vote(self, o: Observation, stable: StableReading | None) -> Observation:
        return o

    def after_vote(self, cand: StableReading, stable: StableReading | None) -> StableReading | Rejection:
        if stable is not None and int(cand.text) < int(stable.text):
            return Rejection(cand, "negative_rate")
        return with_value(cand, float(cand.text))


def test_rules_after_the_vote_reject_once_per_candidate_and_add_a_value() -> None:
    stab = Stabilizer(StabilizerSettings(window=3, votes=2), rules=Monotonic())
    results = [stab.update(obs(i, t)) for i, t in enumerate(["100", "100", "99", "99", "99", "101", "101"])]
    changes = [r for r in results if isinstance(r, StableReading)]
    rejections = [r for r in results if isinstance(r, Rejection)]
    assert [(c.text, c.value) for c in changes] == [("100", 100.0), ("101", 101.0)]
    assert [(r.candidate.text, r.reason) for r in rejections] == [("99", "negative_rate")]
    assert stab.counts.rejected == 1


def test_confidence_is_the_mean_over_agreeing_frames() -> None:
    stab = Stabilizer(StabilizerSettings(window=3, votes=2))
    stab.update(obs(0, "5", conf=0.9))
    res = stab.update(obs(1, "5", conf=1.0))
    assert isinstance(res, StableReading)
    assert res.confidence == (pytest.approx(0.95),)
    assert res.lines == ["5"]


# ---- quality measures, on real pictures: a sharp digit sheet and its motion-blurred copy


def _sheet(seed: int = 0) -> np.ndarray:
    import cv2

    img = np.full((240, 320), 230, np.uint8)
    cv2.putText(img, "3071", (30, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.6, 30, 7, cv2.LINE_AA)
    noise = np.random.default_rng(seed).normal(0, 2.0, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _motion_blur(img: np.ndarray, length: int) -> np.ndarray:
    import cv2

    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0 / length
    return cv2.filter2D(img, -1, k)


def test_blur_is_measured_relative_to_recent_frames() -> None:
    judge = quality.BlurJudge(quality.QualityLimits())
    for seed in range(5):
        assert judge.judge(quality.measure(_sheet(seed))) is None
    assert judge.judge(quality.measure(_motion_blur(_sheet(9), 15))) == BLURRED
    # Brightness flicker is not blur: a darker exposure of the same sheet stays sharp.
    dim = (_sheet(10).astype(np.float32) * 0.6).astype(np.uint8)
    assert judge.judge(quality.measure(dim)) is None


def test_dark_frames_are_recognised() -> None:
    limits = quality.QualityLimits()
    dark = (_sheet().astype(np.float32) * 0.1).astype(np.uint8)
    assert quality.exposure_problem(quality.measure(dark), limits) == DARK
    assert quality.exposure_problem(quality.measure(_sheet()), limits) is None
    flat = np.full((120, 160), 200, np.uint8)
    assert quality.exposure_problem(quality.measure(flat), limits) == DARK
