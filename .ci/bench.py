#!/usr/bin/env python
"""Run the course's speed benchmarks and print their tables: the `slow` cells of the lessons that time their code
against a reference (same run, ratios), with their text output.

    python .ci/bench.py                          # 03_vit, 06a_vitdet_fast, 08a_sparse
    python .ci/bench.py 08a_sparse               # one lesson

Each lesson runs in a fresh kernel in `nbs/`, every cell (slow ones too, with the lessons' long-run switch on,
as in CI's slow pass); only the outputs of its `slow` cells are printed. Run it on a quiet machine: the ratios
are from one run, but heavy load from other programs still shifts them. It is a benchmark: it exits 1 only when
a lesson raises an error.
"""
import os, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

root = Path(__file__).resolve().parent.parent
LESSONS = ['03_vit', '06a_vitdet_fast', '08a_sparse']

def text_of(out) -> str:
    if out.get('output_type') == 'stream': return out.get('text', '')
    data = out.get('data', {})
    return data.get('text/plain', '') + '\n' if 'text/plain' in data and 'image/png' not in data else ''

def main():
    os.environ.setdefault('IN_TEST', '1')   # the lessons' long-run switch follows nbdev_test's flag
    failed = 0
    for name in sys.argv[1:] or LESSONS:
        nb = nbformat.read(root / 'nbs' / f'{name}.ipynb', as_version=4)
        nb.cells = [c for c in nb.cells if c.cell_type == 'code' and 'nbdev_export' + '(' not in c.source]
        print(f'===== {name}', flush=True)
        try: NotebookClient(nb, timeout=None, kernel_name='python3', resources={'metadata': {'path': str(root / 'nbs')}}).execute()
        except Exception as e: print(f'ERROR: {type(e).__name__}: {str(e).strip().splitlines()[-1][:300]}'); failed += 1
        for c in nb.cells:
            if '#| slow' in c.source:
                txt = ''.join(text_of(o) for o in c.get('outputs', [])).strip()
                if txt: print(txt, flush=True)
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
