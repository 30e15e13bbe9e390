#!/usr/bin/env python
"""Test of the recorded-outputs tools: `.ci/record_outputs.py` records, `.ci/check_outputs.py` catches stale outputs.

    python .ci/test_check_outputs.py

1. A small notebook, written to a temporary folder (printed text, a figure, an explorer widget, a progress bar,
   a `slow` cell, an `eval: false` cell, the closing `nbdev_export()` cell), is recorded for real, in a fresh
   kernel. The test asserts what a reader gets: outputs where cells ran, each stamped with its source's hash,
   the figure as a PNG, the explorer as its first picture (no widget part left), the bar as text, no outputs
   for the cells this pass skips; with `--long`, the `slow` cell runs with IN_TEST=1 in the kernel.
2. The check passes on the fresh notebook, and fails, naming the notebook and the cell, when one cell's source is
   edited after recording or an output has no stamp; a notebook without outputs is only a warning (a failure
   with --require-all).
3. The same on a temporary copy of every lesson in nbs/ that has recorded outputs: it passes, and one edited cell
   makes it fail (skipped while no lesson is recorded).
Prints one line per step; exits 1 on the first failure. About 20 s (two kernel starts).
"""
import contextlib, io, json, shutil, sys, tempfile
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
import check_outputs, record_outputs  # noqa: E402

def step(msg): print(f'test_check_outputs: {msg}', flush=True)

def check(*args):
    "(exit status, printed text) of check_outputs.main(args)."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): rc = check_outputs.main([str(a) for a in args])
    return rc, buf.getvalue()

def expect(cond, what, detail=''):
    if not cond:
        print(f'test_check_outputs: FAIL: {what}\n{detail}', flush=True)
        sys.exit(1)

CELLS = [
    ('markdown', '# A tiny lesson'),
    ('code', "print('hello')\n1 + 1"),
    ('code', "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1], [1, 0]);"),
    ('code', "from annotated_vit.explore import Explorer, int_slider\n"
             "class Bars(Explorer):\n"
             "    name = 'bars'\n"
             "    def __init__(self): super().__init__(dict(n=int_slider(3, 9, 'n')))\n"
             "    def draw(self, n):\n"
             "        fig, ax = plt.subplots(figsize=(2, 1.5)); ax.bar(range(n), range(n)); return fig\n"
             "    def describe(self, n): return f'{n} bars'\n"
             "ex = Bars()\nex"),
    ('code', "ex.controls['n'].value = 7   # moved after display: the recorded picture stays the first one"),
    ('code', "from tqdm.auto import tqdm\nfor _ in tqdm(range(5), desc='steps'): pass\n"
             "for _ in tqdm(range(5), desc='gone', leave=False): pass"),
    ('code', "#| slow\nimport os\nprint('slow cell, IN_TEST =', os.environ.get('IN_TEST'))"),
    ('code', "#| eval: false\nraise RuntimeError('never run')"),
    ('code', "#| hide\nimport nbdev; nbdev.nbdev_export()"),
]

def tiny_notebook(folder: Path) -> Path:
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = dict(display_name='python3', language='python', name='python3')
    nb.cells = [(nbformat.v4.new_markdown_cell if k == 'markdown' else nbformat.v4.new_code_cell)(s) for k, s in CELLS]
    path = folder / 'tiny.ipynb'
    nbformat.write(nb, path)
    return path

def load(path): return json.loads(Path(path).read_text())

def text(x): return ''.join(x) if isinstance(x, list) else x

def code_cells(path): return [c for c in load(path)['cells'] if c['cell_type'] == 'code']

def make_stale(path: Path) -> int:
    "Edit the source of the first cell with outputs (its outputs stay); return that cell's index."
    nb = load(path)
    i = next(i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code' and c.get('outputs'))
    src = check_outputs.cell_source(nb['cells'][i])
    nb['cells'][i]['source'] = src + '\n# edited after recording'
    path.write_text(json.dumps(nb, indent=1))
    return i

def main():
    tmp = Path(tempfile.mkdtemp(prefix='test_check_outputs_'))
    try:
        # 1. record a tiny notebook for real
        nb_path = tiny_notebook(tmp)
        rc, out = check(nb_path)
        expect(rc == 0 and 'warning' in out and 'tiny' in out, 'a notebook without outputs is a warning only', out)
        rc, out = check('--require-all', nb_path)
        expect(rc == 1, '--require-all fails on a notebook without outputs', out)
        step('an unrecorded notebook: warning, and a failure with --require-all')

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf): rc = record_outputs.main([str(nb_path)])
        expect(rc == 0, 'record_outputs records the tiny notebook', buf.getvalue())
        cells = code_cells(nb_path)
        say, fig, explorer, moved, bar, slow, never, export = cells
        for c in cells:
            has, stamp = bool(c.get('outputs')), c['metadata'].get('source_hash')
            expect(has == (stamp is not None), 'exactly the cells with outputs carry a source_hash', json.dumps(c)[:500])
            expect(c.get('execution_count') is None, 'nbdev_clean ran (no execution counts)')
            if has: expect(stamp == check_outputs.source_hash(check_outputs.cell_source(c)), 'stamp = hash of source')
        expect([o.get('name') for o in say['outputs']][:1] == ['stdout'] and text(say['outputs'][-1]['data']['text/plain']) == '2',
               'text outputs recorded', json.dumps(say['outputs']))
        expect(any('image/png' in o.get('data', {}) for o in fig['outputs']), 'the figure is a PNG', json.dumps(fig)[:500])
        data = explorer['outputs'][0]['data']
        expect('image/png' in data and record_outputs.WIDGET not in data, 'the explorer keeps its picture, not the widget',
               json.dumps(explorer)[:500])
        from PIL import Image
        w, h = Image.open(io.BytesIO(__import__('base64').b64decode(data['image/png']))).size
        expect((w, h) == (200, 150), f'the explorer shows its first figure at 100 dpi (200 x 150), got {w} x {h}')
        expect(not moved['outputs'], 'a cell without output has none')
        texts = [text(o['data']['text/plain']) for o in bar['outputs'] if 'data' in o]
        expect(len(texts) == 1 and texts[0].startswith('steps: 100%') and '5/5' in texts[0] and
               all(record_outputs.WIDGET not in o.get('data', {}) for o in bar['outputs']),
               'a progress bar left on the page is its final state as text; a closed one is gone', json.dumps(bar['outputs']))
        expect(not slow['outputs'] and not never['outputs'] and not export['outputs'],
               'the slow, eval: false and nbdev_export cells are not run in the default pass')
        step('recorded: text, figure PNG, explorer picture without its widget, progress bar as text, skipped cells empty')

        # 2. the check on the recorded notebook, then stale
        rc, out = check(nb_path)
        expect(rc == 0 and 'outputs: ok' in out, 'the check passes on a freshly recorded notebook', out)
        fresh = nb_path.read_text()
        i = make_stale(nb_path)
        rc, out = check(nb_path)
        expect(rc == 1 and 'tiny.ipynb' in out and f'cell {i} ' in out and 'source changed' in out,
               'the check fails on an edited cell, naming notebook and cell', out)
        step(f'the check passes on the fresh notebook and fails on a stale cell: {out.splitlines()[0][:110]}')
        nb = json.loads(fresh)
        next(c for c in nb['cells'] if c['cell_type'] == 'code' and c.get('outputs'))['metadata'].pop('source_hash')
        nb_path.write_text(json.dumps(nb))
        rc, out = check(nb_path)
        expect(rc == 1 and 'no source_hash' in out, 'the check fails on outputs without a stamp', out)
        step('the check fails on outputs that carry no stamp')

        with contextlib.redirect_stdout(io.StringIO()) as buf: rc = record_outputs.main([str(nb_path), '--long'])
        expect(rc == 0, 'record_outputs --long', buf.getvalue())
        slow = code_cells(nb_path)[5]
        expect('IN_TEST = 1' in text(slow['outputs'][0]['text']), '--long runs the slow cells with IN_TEST=1', json.dumps(slow))
        expect(check(nb_path)[0] == 0, 'the check passes after re-recording')
        step('--long runs the slow cells with the RUN_LONG switch on (IN_TEST=1); re-recorded, the check passes')

        # 3. temporary copies of the recorded lessons
        lessons = [p for p in sorted((check_outputs.root / 'nbs').glob('*.ipynb')) if check_outputs.check_notebook(p)[1]]
        if not lessons: step('no lesson in nbs/ has recorded outputs yet: step 3 skipped')
        for p in lessons:
            cp = tmp / p.name
            shutil.copy(p, cp)
            rc, out = check(cp)
            expect(rc == 0, f'the check passes on {p.name} as committed', out)
            make_stale(cp)
            rc, out = check(cp)
            expect(rc == 1 and p.name in out and 'source changed' in out, f'the check fails on a stale cell of {p.name}', out)
        if lessons: step(f'{len(lessons)} recorded lessons: the check passes on each, and fails once a cell is edited')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print('test_check_outputs: ok', flush=True)

if __name__ == '__main__': main()
