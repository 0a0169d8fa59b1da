"""The synthetic training crops: interface, determinism, MNIST-like framing, and the label rules."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convert.synth import fonts, glyphs

DATA = Path(__file__).parent / "data"
N = 60


@pytest.fixture(scope="module")
def sets() -> dict[str, tuple[np.ndarray, np.ndarray, list[dict]]]:
    return {d: glyphs.generate_with_meta(d, N, seed=7) for d in glyphs.DOMAINS}


def test_interface_constants() -> None:
    assert glyphs.DOMAINS == ("reject", "printed", "sevenseg", "drum")
    assert glyphs.REJECT_LABEL == 10


@pytest.mark.parametrize("domain", glyphs.DOMAINS)
def test_shapes_dtypes_and_labels(domain: str, sets: dict) -> None:
    x, y, meta = sets[domain]
    assert x.shape == (N, 28, 28) and x.dtype == np.uint8
    assert y.shape == (N,) and y.dtype == np.int64
    assert len(meta) == N
    if domain == "reject":
        assert set(y.tolist()) == {glyphs.REJECT_LABEL}
    else:
        assert y.min() >= 0 and y.max() <= 9
        assert len(set(y.tolist())) >= 7  # 60 draws of 10 digits
        assert [int(m["char"]) for m in meta] == y.tolist()


@pytest.mark.parametrize("domain", glyphs.DOMAINS)
def test_deterministic_per_seed_and_prefix_stable(domain: str, sets: dict) -> None:
    x, y, _ = sets[domain]
    x2, y2 = glyphs.generate(domain, N, seed=7)
    assert x2.tobytes() == x.tobytes() and y2.tobytes() == y.tobytes()
    x3, _ = glyphs.generate(domain, 10, seed=7)
    assert x3.tobytes() == x[:10].tobytes()  # crop i depends on (seed, domain, i) only
    x4, _ = glyphs.generate(domain, 10, seed=8)
    assert not np.array_equal(x4, x[:10])
    assert all(not np.array_equal(a, b) for a, b in zip(x4, x[:10], strict=True))


@pytest.mark.parametrize("domain", glyphs.DOMAINS)
def test_every_crop_has_ink_and_is_framed_like_mnist(domain: str, sets: dict) -> None:
    x, _, _ = sets[domain]
    for img in x:
        ys, xs = np.nonzero(img)
        assert ys.size > 0
        w = img[ys, xs].astype(np.float64)
        cy, cx = (ys * w).sum() / w.sum(), (xs * w).sum() / w.sum()
        assert abs(cy - 13.5) <= 1.5 and abs(cx - 13.5) <= 1.5
        longest = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
        assert 19 <= longest <= 21
        assert img.max() == 255


def test_sevenseg_masks_are_separate_segments(sets: dict) -> None:
    _, _y, meta = sets["sevenseg"]
    assert all(m["components"] >= 2 for m in meta)
    _x8, y8, meta8 = glyphs.generate_with_meta("sevenseg", 200, seed=3)
    eights = [m for m, label in zip(meta8, y8, strict=True) if label == 8]
    # An 8 is seven segments: the camera may merge a few at a corner, but most stay apart.
    assert eights and np.median([m["components"] for m in eights]) >= 5
    styles = {m["face"].split(":")[1] for m in meta8}
    assert styles == set(glyphs.sevenseg.STYLES)
    # Both 7 variants (with and without the left upright) and both 9s (with and without tail) occur.
    assert {m["face"].split(":")[2] for m, label in zip(meta8, y8, strict=True) if label == 7} == {
        "abc",
        "abcf",
    }
    assert {m["face"].split(":")[2] for m, label in zip(meta8, y8, strict=True) if label == 9} == {
        "abcdfg",
        "abcfg",
    }


def test_reject_renders_none_of_the_ambiguous_characters() -> None:
    _, _, meta = glyphs.generate_with_meta("reject", 400, seed=11)
    chars = {m["char"] for m in meta if m["char"]}
    assert not chars & set(glyphs.EXCLUDED)
    assert not {m["char"] for m in meta if "script" in m["face"]} & set(glyphs.EXCLUDED_SCRIPT)
    kinds = {m["kind"] for m in meta}
    assert kinds == {"letter", "symbol", "stroke", "clutter", "partial_digit"}
    assert len(chars) >= 30  # many different letters and symbols, not a handful
    for m in meta:
        if m["kind"] == "partial_digit":
            _, digit, side = m["face"].rsplit(":", 2)
            assert (int(digit), side) not in glyphs.PARTIAL_KEEPS_IDENTITY
            if m["face"].startswith("sevenseg"):
                assert side in ("left", "bottom")
                assert (int(digit), side) not in glyphs.SEVENSEG_PARTIAL_KEEPS_IDENTITY


def test_reject_crops_never_look_like_a_one_or_zero() -> None:
    x, _ = glyphs.generate("reject", 200, seed=12)
    assert not any(glyphs.looks_like_one(img) or glyphs.looks_like_zero(img) for img in x)


def test_guards_recognise_real_handwritten_ones_and_zeros() -> None:
    with gzip.open(DATA / "t10k-images.idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:2000]
    with gzip.open(DATA / "t10k-labels.idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:2000]
    ones = np.mean([glyphs.looks_like_one(img) for img in images[labels == 1]])
    zeros = np.mean([glyphs.looks_like_zero(img) for img in images[labels == 0]])
    others_one = np.mean([glyphs.looks_like_one(img) for img in images[(labels == 2) | (labels == 4)]])
    assert ones > 0.93 and zeros > 0.7 and others_one < 0.05


def test_drum_windows_follow_the_label_rule() -> None:
    _x, y, meta = glyphs.generate_with_meta("drum", 120, seed=5)
    assert all(m["visible"] >= glyphs.drum.LABEL_SHARE for m in meta)
    rolling = [m for m in meta if "/" in m["shown"]]
    assert len(rolling) >= 10  # digits caught between two values are in the set
    for m, label in zip(meta, y, strict=True):
        assert m["char"] == str(label)
        if "/" in m["shown"]:
            a, b = (int(v) for v in m["shown"].split("/"))
            assert b == (a + 1) % 10 and label in (a, b)


def test_printed_works_without_any_installed_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "font_families", lambda *a: ())
    x, _y, meta = glyphs.generate_with_meta("printed", 30, seed=2)
    assert all(m["face"].startswith("hershey:") for m in meta)
    assert all(img.any() for img in x)


def test_printed_uses_installed_fonts_and_hershey() -> None:
    _, _, meta = glyphs.generate_with_meta("printed", 80, seed=4)
    faces = {m["face"].split(":")[0] for m in meta}
    assert "hershey" in faces
    if fonts.font_files():
        assert "ttf" in faces


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="domain"):
        glyphs.generate("handwritten", 3, 0)
    with pytest.raises(ValueError, match="n must be"):
        glyphs.generate("printed", -1, 0)
    x, y = glyphs.generate("printed", 0, 0)
    assert x.shape == (0, 28, 28) and y.shape == (0,)


def test_no_tensorflow_import() -> None:
    code = "import sys, convert.synth.glyphs; sys.exit('tensorflow' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60).returncode == 0
