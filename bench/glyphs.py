"""Speed of the synthetic training crops (convert/synth/glyphs.py): crops per second per domain, one core."""

from __future__ import annotations

import time

from convert.synth import fonts, glyphs

N = 3000


def run() -> str:
    glyphs.generate("printed", 50, seed=99)  # warm the font caches, as a long run would be
    rows = [
        "| domain | crops | wall s | crops/s (wall) | CPU s | crops/s (CPU) | 20k crops (CPU) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for domain in glyphs.DOMAINS:
        start, cpu = time.perf_counter(), time.process_time()
        glyphs.generate(domain, N, seed=0)
        took, used = time.perf_counter() - start, time.process_time() - cpu
        per_20k = 20000 * used / N
        cells = [
            domain,
            N,
            f"{took:.2f}",
            f"{N / took:.0f}",
            f"{used:.2f}",
            f"{N / used:.0f}",
            f"{per_20k:.0f} s",
        ]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return (
        f"`glyphs.generate(domain, {N}, seed=0)`, single process (OpenCV held to one thread), "
        f"{len(fonts.font_files())} installed font files in {len(fonts.font_families())} families "
        f"plus {len(fonts.HERSHEY)} Hershey faces. CPU time is what one free core would take; wall time "
        "depends on how busy the machine was.\n\n" + "\n".join(rows)
    )
