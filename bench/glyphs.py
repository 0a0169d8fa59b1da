"""Speed of the synthetic training crops (convert/synth/glyphs.py): crops per second per domain, one core."""

from __future__ import annotations

import time

from convert.synth import fonts, glyphs

N = 3000


def run() -> str:
    glyphs.generate("printed", 50, seed=99)  # warm the font caches, as a long run would be
    rows = ["| domain | crops | seconds | crops/s | 20k crops |", "| --- | ---: | ---: | ---: | ---: |"]
    for domain in glyphs.DOMAINS:
        start = time.perf_counter()
        glyphs.generate(domain, N, seed=0)
        took = time.perf_counter() - start
        rows.append(f"| {domain} | {N} | {took:.2f} | {N / took:.0f} | {20000 * took / N:.0f} s |")
    return (
        f"`glyphs.generate(domain, {N}, seed=0)`, single process (OpenCV held to one thread), "
        f"{len(fonts.font_files())} installed font files in {len(fonts.font_families())} families "
        f"plus {len(fonts.HERSHEY)} Hershey faces.\n\n" + "\n".join(rows)
    )
