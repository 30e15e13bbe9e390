#!/usr/bin/env python
"""Time every lesson as a learner's Run All would run it: a fresh kernel per notebook, cells in order.

    python .ci/time_lessons.py                 # all lessons, `slow` cells skipped (as `nbdev_test` does)
    python .ci/time_lessons.py --slow          # the `slow` cells too: a plain Run All in Jupyter
    python .ci/time_lessons.py 02_attention 05_relpos --cell 20   # some lessons; list cells over 20 s

Skipped in every mode, as `nbdev_test` skips them: `#| eval: false` cells and the closing `nbdev_export()`
cell (it rewrites the package's modules, which a timing run should not do). The kernel runs in `nbs/`, the
lessons' working directory, with this process's environment (so set PYTHONPATH to the checkout).

Prints one line per lesson: its wall time, whether it is under the limit (3 minutes by default), its
slowest cell; and, with `--cell S`, every cell slower than S seconds. It is a benchmark, not a test: it
exits 0 whatever the times, and 1 only when a lesson raises an error.
"""
import argparse, re, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_outputs import directives  # noqa: E402  (one reader of the `#|` lines for both scripts)

root = Path(__file__).resolve().parent.parent
nbs = root / 'nbs'

def runnable(cell, slow: bool) -> bool:
    "Whether a learner's Run All (in this mode) runs `cell`."
    if cell.cell_type != 'code': return False
    if 'nbdev_export' + '(' in cell.source: return False
    d = directives(cell.source)
    if d.get('eval', '').lower() == 'false': return False
    return slow or 'slow' not in d

def time_lesson(path: Path, slow: bool):
    "Run `path` in a fresh kernel; return (seconds, [(seconds, cell index, first line)], error or None)."
    nb = nbformat.read(path, as_version=4)
    keep = [(i, c) for i, c in enumerate(nb.cells) if runnable(c, slow)]
    nb.cells = [c for _, c in keep]
    cells, starts = [], {}
    def on_start(cell, cell_index, **kw): starts[cell_index] = time.perf_counter()
    def on_done(cell, cell_index, **kw):
        first = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith('#|')), '')
        cells.append((time.perf_counter() - starts[cell_index], keep[cell_index][0], first[:60]))
    client = NotebookClient(nb, timeout=None, kernel_name='python3', resources={'metadata': {'path': str(nbs)}},
                            on_cell_start=on_start, on_cell_executed=on_done)
    t0, err = time.perf_counter(), None
    try: client.execute()
    except Exception as e: err = f'{type(e).__name__}: ' + str(e).strip().splitlines()[-1][:200]
    return time.perf_counter() - t0, cells, err

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('lessons', nargs='*', help='notebook names (without .ipynb); default: every lesson')
    p.add_argument('--slow', action='store_true', help='run the `slow` cells too')
    p.add_argument('--limit', type=float, default=180, help='seconds a lesson should stay under (default 180)')
    p.add_argument('--cell', type=float, default=None, help='also list the cells slower than this many seconds')
    a = p.parse_args()
    paths = [nbs / f'{n}.ipynb' for n in a.lessons] or sorted(q for q in nbs.glob('*.ipynb') if q.stem != 'index')
    print(f"mode: {'all cells (--slow)' if a.slow else 'slow cells skipped'}; limit {a.limit:.0f} s", flush=True)
    failed = 0
    for path in paths:
        secs, cells, err = time_lesson(path, a.slow)
        worst = max(cells, default=(0, -1, ''))
        ok = 'ERROR' if err else ('under' if secs < a.limit else 'OVER ')
        print(f'{path.stem:28s} {secs:7.1f} s  {ok}  slowest cell #{worst[1]} {worst[0]:.1f} s  {worst[2]}', flush=True)
        if a.cell is not None:
            for s, i, first in sorted(cells, reverse=True):
                if s > a.cell: print(f'    cell #{i:<3d} {s:6.1f} s  {first}', flush=True)
        if err: print(f'    {err}', flush=True); failed += 1
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
