"""`edge-digits read` on files: plain and JSON output, stage pictures, bad files, a bad model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from convert.synth.scenes import make_scene
from edge_digits.cli import main
from edge_digits.runtime import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not DEFAULT_MODEL.is_file() and not os.environ.get("CI"), reason="models/digits_int8.tflite not built yet"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    out: dict[str, Path] = {}
    single = make_scene("single_line", 1)
    multi = make_scene("multi_line", 3)
    out["single"] = d / "single.png"
    cv2.imwrite(str(out["single"]), single.image)
    out["multi"] = d / "multi.jpg"
    cv2.imwrite(str(out["multi"]), multi.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    out["empty"] = d / "empty.png"
    out["empty"].write_bytes(b"")
    out["tiny"] = d / "tiny.png"
    cv2.imwrite(str(out["tiny"]), np.zeros((1, 1, 3), np.uint8))
    out["black"] = d / "black.png"
    cv2.imwrite(str(out["black"]), np.zeros((480, 640), np.uint8))
    out["white"] = d / "white.png"
    cv2.imwrite(str(out["white"]), np.full((480, 640, 3), 255, np.uint8))
    out["huge"] = d / "huge.jpg"
    cv2.imwrite(str(out["huge"]), cv2.resize(single.image, (4000, 3000)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    out["text"] = d / "notes.png"
    out["text"].write_text("this is not an image\n")
    jpeg = cv2.imencode(".jpg", single.image)[1].tobytes()
    out["truncated"] = d / "truncated.jpg"
    out["truncated"].write_bytes(jpeg[: len(jpeg) // 3])
    out["dir"] = d / "a_directory.png"
    out["dir"].mkdir()
    out["missing"] = d / "missing.png"
    return {**out, "_texts": {"single": single.text, "multi": multi.text}}  # type: ignore[dict-item]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["read", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_image_prints_its_text(files, capsys):
    code, out, _ = run([str(files["single"])], capsys)
    assert code == 0
    assert out == files["_texts"]["single"] + "\n"


def test_several_images_print_one_line_each_with_the_file(files, capsys):
    code, out, _ = run([str(files["single"]), str(files["multi"])], capsys)
    assert code == 0
    assert out.splitlines() == [
        f"{files['single']}: {files['_texts']['single']}",
        f"{files['multi']}: {files['_texts']['multi']}",
    ]
    assert "|" in files["_texts"]["multi"]


def test_json_lines(files, capsys):
    code, out, _ = run(["--json", str(files["multi"]), str(files["text"])], capsys)
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["file"] == str(files["multi"])
    assert first["text"] == files["_texts"]["multi"]
    assert [line["text"] for line in first["lines"]] == files["_texts"]["multi"].split("|")
    assert set(first["timings_ms"]) >= {"preprocess", "segment", "normalize", "classify", "total"}
    assert all(len(d["box"]) == 4 for line in first["lines"] for d in line["digits"])
    assert second["file"] == str(files["text"]) and "error" in second


def test_debug_dir_gets_the_stage_pictures(files, capsys, tmp_path):
    code, _, _ = run(["--debug-dir", str(tmp_path / "dbg"), str(files["single"])], capsys)
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "dbg").iterdir())
    stages = ["binary", "components", "final", "gray", "normalized"]
    assert names == [f"single_{s}.png" for s in stages]
    final = cv2.imread(str(tmp_path / "dbg" / "single_final.png"))
    assert final.shape[:2] == (480, 640)


def test_bad_files_are_named_and_the_others_still_read(files, capsys):
    order = ["empty", "single", "tiny", "black", "white", "huge", "text", "truncated", "dir", "missing"]
    order.append("multi")
    code, out, err = run([str(files[k]) for k in order], capsys)
    assert code == 1
    read = dict(line.rsplit(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in out.splitlines())
    assert read[str(files["single"])] == files["_texts"]["single"]
    assert read[str(files["multi"])] == files["_texts"]["multi"]
    assert read[str(files["huge"])] == files["_texts"]["single"]
    for k in ("tiny", "black", "white"):
        assert read[str(files[k])] == "", k
    for k in ("empty", "text", "dir", "missing"):
        assert str(files[k]) not in read
        assert f"{files[k]}: " in err, k
    # A truncated JPEG either decodes partly (and is read) or is reported; never both, never silently lost.
    assert (str(files["truncated"]) in read) != (f"{files['truncated']}: " in err)
    errors = [line for line in err.splitlines() if line.startswith("edge-digits read: ")]
    assert len(errors) == 4 + (str(files["truncated"]) not in read)


def test_missing_model_exits_3(files, capsys, tmp_path):
    code, out, err = run(["--model", str(tmp_path / "nope.tflite"), str(files["single"])], capsys)
    assert code == 3 and out == ""
    assert "nope.tflite" in err and "not found" in err


def test_model_failing_its_manifest_check_exits_3(files, capsys, tmp_path):
    model = tmp_path / "digits_int8.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    manifest = json.loads((DEFAULT_MODEL.parent / "manifest.json").read_text())
    manifest["model"]["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = run(["--model", str(model), str(files["single"])], capsys)
    assert code == 3 and out == ""
    assert "sha256" in err


def test_bad_threshold_is_a_usage_error(files, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["read", "--threshold", "1.5", str(files["single"])])
    assert exc.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_the_installed_entry_point_runs(files):
    proc = subprocess.run(
        [sys.executable, "-m", "edge_digits", "read", str(files["single"]), str(files["missing"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"{files['single']}: {files['_texts']['single']}"]
    assert f"{files['missing']}: no such file" in proc.stderr
