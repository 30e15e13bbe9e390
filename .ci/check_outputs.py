#!/usr/bin/env python
"""Fail when a notebook's recorded outputs may not belong to its code.

    python .ci/check_outputs.py                    # every notebook in nbs/
    python .ci/check_outputs.py nbs/01_patches.ipynb
    python .ci/check_outputs.py --require-all      # also fail when a lesson has no outputs at all

`.ci/record_outputs.py` runs a lesson and stamps every code cell that got outputs with `metadata.source_hash`,
a hash of the cell's source at that moment (`nbdev_clean` keeps the key: settings.ini lists it in
`allowed_cell_metadata_keys`). This check recomputes the hash: a code cell whose outputs have no stamp (they
came from somewhere else, e.g. a save from Jupyter), or whose source changed since they were recorded, is a
failure, named by notebook, cell number, cell id and first line; it exits 1. Re-record the lesson
(`python .ci/record_outputs.py --only NAME`), or clear that cell's outputs.

A notebook without any outputs is reported as a warning only (exit 0) unless `--require-all`: the lessons are
recorded all at once, and until then the check must not break CI. It needs nothing beyond the standard library.
"""
import argparse, hashlib, json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
KEY = 'source_hash'

def cell_source(cell) -> str:
    "A cell's source as one string (notebook files store it as a list of lines or as a string)."
    src = cell.get('source', '')
    return ''.join(src) if isinstance(src, list) else src

def source_hash(src: str) -> str:
    "The stamp of a cell's source: the first 16 hex digits of its SHA-256."
    return hashlib.sha256(src.encode('utf-8')).hexdigest()[:16]

def first_line(src: str) -> str:
    "The first line of code after the `#|` directives, shortened, to name a cell in a message."
    lines = [l for l in src.splitlines() if l.strip()]
    line = next((l for l in lines if not l.lstrip().startswith('#|')), lines[0] if lines else '')
    return line.strip()[:70]

def check_notebook(path: Path):
    "(problems, number of code cells with outputs) of one notebook; each problem is one line naming the cell."
    nb = json.loads(Path(path).read_text(encoding='utf-8'))
    problems, n_out = [], 0
    code_no = 0
    for i, cell in enumerate(nb.get('cells', [])):
        if cell.get('cell_type') != 'code': continue
        code_no += 1
        if not cell.get('outputs'): continue
        n_out += 1
        src, stamp = cell_source(cell), cell.get('metadata', {}).get(KEY)
        where = f"{path}: cell {i} (code cell {code_no}, id {cell.get('id', '?')}) `{first_line(src)}`"
        if stamp is None: problems.append(f'{where}: has outputs but no {KEY}: they were not recorded by .ci/record_outputs.py')
        elif stamp != source_hash(src):
            problems.append(f'{where}: its source changed after its outputs were recorded (stale outputs)')
    return problems, n_out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*', help='notebook files; default: every nbs/*.ipynb')
    p.add_argument('--require-all', action='store_true', help='a notebook without any outputs is a failure too')
    a = p.parse_args(argv)
    paths = [Path(n) for n in a.notebooks] or sorted((root / 'nbs').glob('*.ipynb'))
    problems, empty, recorded = [], [], 0
    for path in paths:
        probs, n_out = check_notebook(path)
        problems += probs
        if n_out: recorded += 1
        else: empty.append(path.stem)
    for line in problems: print('FAIL', line)
    if empty:
        kind = 'FAIL' if a.require_all else 'warning'
        how = '' if len(empty) == len(paths) else f" --only {' '.join(empty[:3])}{' ...' if len(empty) > 3 else ''}"
        print(f"{kind}: {len(empty)} of {len(paths)} notebooks have no recorded outputs: {' '.join(empty)}"
              f"\n  record them with `python .ci/record_outputs.py{how}`")
    if problems:
        print(f'outputs: {len(problems)} code cells with outputs that do not belong to their source. Re-record those '
              f'lessons with `python .ci/record_outputs.py --only NAME ...`, or clear the cells\' outputs.')
    failed = bool(problems) or (a.require_all and bool(empty))
    if not failed: print(f'outputs: ok ({recorded} of {len(paths)} notebooks recorded, every output stamped with its source)')
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
