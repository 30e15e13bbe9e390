#!/usr/bin/env python
"""Record the lessons' outputs: run each notebook in a fresh kernel and write its outputs back into it.

    python .ci/record_outputs.py                            # every nbs/*.ipynb in order, the default pass
    python .ci/record_outputs.py --only 01_patches 03a_attention_maps
    python .ci/record_outputs.py --slow --only 10_widgets   # the `#| slow` cells too (a learner's plain Run All)
    python .ci/record_outputs.py --long --only 09a_experiments   # `slow` cells, with the lesson's RUN_LONG on
    python .ci/record_outputs.py --only 01_patches --out /tmp/rec   # write the result elsewhere, nbs/ untouched

One recording is one run of the committed code, as a learner would run it in JupyterLab:
- a fresh kernel per notebook, started from this Python (so run it in the project's environment), in the
  notebook's folder, with this checkout first on PYTHONPATH, matplotlib's default settings; cells in order;
- the default pass runs the cells `nbdev_test` runs: every code cell except `#| eval: false` ones, the closing
  `nbdev_export()` cell (it would rewrite the package) and `#| slow` cells, but in a learner's environment (no
  IN_TEST, so each lesson's RUN_LONG switch stays off); `--slow` adds the `slow` cells, RUN_LONG still off;
  `--long` also turns RUN_LONG on, through the switch's own route (`IN_TEST=1` in the kernel's environment, as
  `nbdev_test --flags slow` does);
- cells that did not run in this pass lose any old outputs: every output in the file comes from this run.

Then, per notebook:
- every code cell that has outputs is stamped with `metadata.source_hash`, a hash of its source, which
  `.ci/check_outputs.py` compares with the source in CI (stale outputs fail);
- outputs the docs never show are not kept: those of `#| hide`, `#| include: false` and `#| output: false`
  cells (the hidden tests; `--keep-hidden` keeps them);
- figures: the inline backend writes PNG at `--dpi` (default 100, matplotlib's default, what a learner sees).
  Each is then stored as the smallest of: the PNG optimised without loss, or, if that saves 20% or more, a PNG
  of 256 colours (plots, heat maps) or a JPEG of quality 85 (photos). `--lossless` keeps every figure lossless;
- widgets: a saved widget has no kernel behind it, so a reader without one (GitHub, the docs, JupyterLab
  before running) would see an error or nothing. An explorer's output also carries its first figure as a PNG
  (`Explorer._repr_mimebundle_`, lesson 00b): the widget part is dropped and that picture stays. Other widgets
  (tqdm's progress bars) become their final state as text; a bar closed during the run (`leave=False`) is
  dropped, as the live page drops it;
- `nbdev_clean` runs on the file (execution counts, metadata), so the file is what the sync check expects.

A notebook whose run fails (an error, a cell past `--timeout`, a dead kernel) is left as it was; the message
names the cell. The others are still recorded, and the exit status is 1. Files other than the notebook that a
run changed in the checkout are reported. At the end: the time per notebook and the size of nbs/'s notebooks,
with a warning above 12 MB.
"""
import argparse, base64, copy, html, io, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_outputs import KEY, cell_source, first_line, source_hash  # noqa: E402

root = Path(__file__).resolve().parent.parent
NBS = root / 'nbs'
SIZE_LIMIT = 12 * 2**20
WIDGET = 'application/vnd.jupyter.widget-view+json'
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

def directives(src: str) -> dict:
    "The `#| name value` lines at the top of a cell, as {name: value}."
    out = {}
    for line in src.splitlines():
        m = re.match(r'\s*#\|\s*([\w-]+:?)\s*(.*)', line)
        if not m:
            if line.strip(): break
            continue
        out[m.group(1).rstrip(':')] = m.group(2).strip()
    return out

def runs(cell, slow: bool) -> bool:
    "Whether this pass runs `cell`."
    if cell.cell_type != 'code' or not cell.source.strip(): return False
    if 'nbdev_export' + '(' in cell.source: return False
    d = directives(cell.source)
    if d.get('eval', '').lower() == 'false': return False
    return slow or 'slow' not in d

def hides_output(src: str) -> bool:
    "Whether nbdev's docs hide the cell's outputs: `#| hide`, `#| include: false`, `#| output: false`."
    d = directives(src)
    return 'hide' in d or d.get('include', '').lower() == 'false' or d.get('output', '').lower() == 'false'

SETUP = '''\
import importlib.util as _u, json as _j, sys as _s
from matplotlib_inline.config import InlineBackend as _IB
_c = _IB.instance(parent=get_ipython())
_c.figure_formats, _c.print_figure_kwargs = {{'png'}}, {{'bbox_inches': 'tight', 'dpi': {dpi}}}
if 'matplotlib_inline.backend_inline' in _s.modules:   # inline backend already on: apply now
    from IPython.core.pylabtools import select_figure_formats as _sff
    _sff(get_ipython(), _c.figure_formats, **_c.print_figure_kwargs)
print(_j.dumps(dict(python=_s.executable, annotated_vit=getattr(_u.find_spec('annotated_vit'), 'origin', None))))
del _u, _j, _s, _IB, _c
'''

# ------------------------------------------------------------------ outputs: PNGs and widgets
LOSSY_GAIN = 0.8   # a lossy encoding replaces the lossless PNG when it is under 80% of its size

def _encode(im, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()

def compress_image(data: dict, meta: dict, lossless=False):
    """Re-encode `data`'s PNG in place: the smallest of the PNG optimised without loss, and, for an opaque picture,
    a PNG of 256 colours (plots, heat maps) and a JPEG of quality 85 (photos), if that saves at least 20%."""
    from PIL import Image
    raw = base64.b64decode(data['image/png'])
    try:
        im = Image.open(io.BytesIO(raw)); im.load()
        best = ('image/png', min(raw, _encode(im, 'PNG', optimize=True), key=len))
        rgba = im.convert('RGBA')
        if not lossless and rgba.getchannel('A').getextrema()[0] == 255:   # transparent: keep it lossless
            rgb = rgba.convert('RGB')
            lossy = min([('image/png', _encode(rgb.quantize(256, dither=Image.Dither.FLOYDSTEINBERG), 'PNG', optimize=True)),
                         ('image/jpeg', _encode(rgb, 'JPEG', quality=85, subsampling=0, optimize=True))], key=lambda t: len(t[1]))
            if len(lossy[1]) < LOSSY_GAIN * len(best[1]): best = lossy
    except Exception: return   # not a picture PIL reads: leave it
    data.pop('image/png')
    data[best[0]] = base64.b64encode(best[1]).decode()
    if best[0] != 'image/png' and 'image/png' in meta: meta[best[0]] = meta.pop('image/png')

def _html_text(s: str) -> str:
    return html.unescape(re.sub(r'<[^>]+>', '', s)).replace('\xa0', ' ').replace('\u2007', ' ')

def widget_text(model_id: str, state: dict, depth=0) -> str:
    "A one-line text picture of a widget's last state: its labels' text, progress bars drawn with blocks."
    st = state.get(model_id, {})
    if depth > 8 or not st: return ''
    name = st.get('_model_name', '')
    if name in ('FloatProgressModel', 'IntProgressModel'):
        hi, v = st.get('max') or 1, st.get('value') or 0
        n = max(0, min(20, round(20 * v / hi)))
        return '|' + '█' * n + ' ' * (20 - n) + '|'
    if 'children' in st:
        kids = [c[len('IPY_MODEL_'):] if isinstance(c, str) and c.startswith('IPY_MODEL_') else c for c in st['children']]
        return ''.join(widget_text(k, state, depth + 1) for k in kids).strip()
    if isinstance(st.get('value'), str) and name in ('HTMLModel', 'LabelModel', 'HTMLMathModel', 'TextModel'):
        return _html_text(st['value'])
    return ''

def fix_outputs(outputs: list, state: dict, closed: set, lossless=False) -> list:
    "The outputs a reader without a kernel can see: see the module's docstring."
    out = []
    for o in outputs:
        data = o.get('data', {})
        if WIDGET in data:
            mid = data[WIDGET].get('model_id', '')
            if 'image/png' in data: data.pop(WIDGET)               # an explorer: keep its first picture
            elif mid in closed: continue                            # a bar that closed itself: gone on the page too
            else:
                txt = widget_text(mid, state)
                if not txt: txt = data.get('text/plain', '')
                o['data'] = {'text/plain': txt}
                o.get('metadata', {}).pop(WIDGET, None)
        if 'image/png' in data: compress_image(data, o.setdefault('metadata', {}), lossless)
        out.append(o)
    return out

# ------------------------------------------------------------------ one notebook
def kernel_spec_dir() -> Path:
    "A kernel spec that starts this very Python (not whatever `python` is first on PATH)."
    d = Path(tempfile.mkdtemp(prefix='avit_record_'))
    k = d / 'kernels' / 'avit-record'
    k.mkdir(parents=True)
    (k / 'kernel.json').write_text(json.dumps(dict(
        argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name='annotated_vit recorder', language='python')))
    (d / 'matplotlibrc').write_text('')   # matplotlib's defaults, whatever the user's matplotlibrc says
    return d

def kernel_env(spec: Path, long: bool) -> dict:
    env = dict(os.environ)
    env['JUPYTER_PATH'] = os.pathsep.join([str(spec)] + [p for p in env.get('JUPYTER_PATH', '').split(os.pathsep) if p])
    env['PYTHONPATH'] = os.pathsep.join([str(root)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['MATPLOTLIBRC'] = str(spec / 'matplotlibrc')
    env['PYDEVD_DISABLE_FILE_VALIDATION'] = '1'
    env.pop('IN_TEST', None)
    if long: env['IN_TEST'] = '1'
    return env

def record(path: Path, a, spec: Path):
    "Run one notebook; return (seconds, new notebook or None, error message or None, [(seconds, cell index)], notes)."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    class Client(NotebookClient):
        "nbclient, also remembering which widgets were closed during the run."
        def handle_comm_msg(self, outs, msg, cell_index):
            if msg['msg_type'] == 'comm_close': self.closed.add(msg['content'].get('comm_id'))
            return super().handle_comm_msg(outs, msg, cell_index)

    nb = nbformat.read(path, as_version=4)
    keep = [i for i, c in enumerate(nb.cells) if runs(c, a.slow or a.long)]
    work = copy.deepcopy(nb)
    setup = nbformat.v4.new_code_cell(SETUP.format(dpi=a.dpi))
    work.cells = [setup] + [copy.deepcopy(nb.cells[i]) for i in keep]
    for c in work.cells: c.outputs = []
    cur, starts, times = [None], {}, []
    def on_start(cell, cell_index, **kw): cur[0], starts[cell_index] = cell_index, time.perf_counter()
    def on_done(cell, cell_index, **kw):
        if cell_index: times.append((time.perf_counter() - starts[cell_index], keep[cell_index - 1]))
    client = Client(work, timeout=a.timeout, startup_timeout=180, kernel_name='avit-record', allow_errors=False,
                    resources={'metadata': {'path': str(path.parent)}}, store_widget_state=True,
                    on_cell_start=on_start, on_cell_executed=on_done)
    client.closed = set()
    env = kernel_env(spec, a.long)
    t0, err = time.perf_counter(), None
    def where():
        i = cur[0]
        if i is None: return 'starting the kernel'
        if i == 0: return "in the recorder's setup cell"
        j = keep[i - 1]
        return f"at cell {j} `{first_line(nb.cells[j].source)}`"
    log = spec / f'kernel-{path.stem}.log'   # the kernel's own stderr (start-up chatter, a crash's last words)
    try:
        with open(log, 'w') as logf: client.execute(env=env, stderr=logf)
    except CellTimeoutError: err = f'{where()}: ran past --timeout {a.timeout:.0f} s'
    except DeadKernelError as e:
        tail = '\n      '.join(log.read_text(errors='replace').strip().splitlines()[-8:])
        err = f'{where()}: the kernel died (out of memory?): {e}\n      kernel stderr:\n      {tail}'
    except CellExecutionError as e:
        tb = ANSI.sub('', str(e)).strip().splitlines()
        err = f"{where()}: {getattr(e, 'ename', 'error')}: {getattr(e, 'evalue', '')}\n      " + '\n      '.join(tb[-8:])
    except Exception as e: err = f'{where()}: {type(e).__name__}: {e}'
    secs = time.perf_counter() - t0
    if err: return secs, None, err, times, []

    notes = []
    info = ''.join(o.get('text', '') for o in work.cells[0].outputs if o.get('output_type') == 'stream')
    try:
        origin = json.loads(info.strip().splitlines()[-1]).get('annotated_vit') or ''
        if origin and not Path(origin).resolve().is_relative_to(root):
            notes.append(f'warning: the kernel imported annotated_vit from {origin}, not from this checkout')
    except (ValueError, IndexError): notes.append(f'warning: no report from the setup cell: {info[:200]!r}')

    cleared = hidden = 0
    ran = {j: work.cells[k + 1] for k, j in enumerate(keep)}
    for j, c in enumerate(nb.cells):
        if c.cell_type != 'code': continue
        if j in ran and hides_output(c.source) and not a.keep_hidden:
            hidden += bool(ran[j].outputs)
            c.outputs = []
        elif j in ran:
            c.outputs = fix_outputs(ran[j].outputs, client.widget_state, client.closed, a.lossless)
        elif c.get('outputs'):
            cleared += 1
            c.outputs = []
        c.execution_count = None
        if c.outputs: c.metadata[KEY] = source_hash(cell_source(c))
        else: c.metadata.pop(KEY, None)
    if hidden: notes.append(f'{hidden} cells that the docs hide (`#| hide`, `include: false`, `output: false`) ran with '
                            f'outputs, not kept (--keep-hidden keeps them)')
    if cleared: notes.append(f'note: cleared the old outputs of {cleared} cells this pass does not run '
                             f'(`slow` or `eval: false` cells; record with --slow or --long to keep theirs)')
    return secs, nb, None, times, notes

def nbdev_clean(path: Path):
    "Run nbdev_clean on one notebook, as the sync check does (with this checkout's settings.ini)."
    r = subprocess.run([sys.executable, '-c', 'import sys; from nbdev.clean import nbdev_clean; '
                        'nbdev_clean.__wrapped__(fname=sys.argv[1])', str(path)],
                       cwd=root, capture_output=True, text=True)
    if r.returncode or 'Failed to clean' in r.stderr: raise RuntimeError(f'nbdev_clean failed on {path}: {r.stderr.strip()[-500:]}')

def lesson_paths(names):
    "Notebook paths from names ('01_patches', '01_patches.ipynb') or paths; none: every nbs/*.ipynb in order."
    if not names: return sorted(NBS.glob('*.ipynb'))
    out = []
    for n in names:
        p = Path(n)
        if not (p.suffix == '.ipynb' and p.exists()): p = NBS / (p.stem + '.ipynb')
        if not p.exists(): sys.exit(f'record_outputs: no notebook {n!r} (looked for {p})')
        out.append(p.resolve())
    return out

def size_of(paths) -> int: return sum(p.stat().st_size for p in paths)

def git_changes() -> set:
    "The checkout's changed and untracked files (`git status --porcelain` lines); empty outside git."
    r = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=root, capture_output=True, text=True)
    return set(r.stdout.splitlines()) if r.returncode == 0 else set()

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='\n'.join(__doc__.split('\n')[1:]))
    p.add_argument('notebooks', nargs='*', help='notebook names or paths (same as --only)')
    p.add_argument('--only', nargs='+', default=[], metavar='NAME', help='record only these notebooks, e.g. 01_patches')
    p.add_argument('--slow', action='store_true', help='also run the `#| slow` cells (RUN_LONG stays off)')
    p.add_argument('--long', action='store_true', help='--slow, with the lessons\' RUN_LONG switch on (IN_TEST=1)')
    p.add_argument('--timeout', type=float, default=1200, help='seconds one cell may run (default 1200)')
    p.add_argument('--dpi', type=int, default=100, help='resolution of the inline figures (default 100)')
    p.add_argument('--lossless', action='store_true', help='every figure a lossless PNG (default: 256-colour PNG or JPEG where much smaller)')
    p.add_argument('--keep-hidden', action='store_true', help='keep the outputs of cells the docs hide (`#| hide` ...)')
    p.add_argument('--out', type=Path, default=None, help='write the recorded notebooks into this folder instead')
    a = p.parse_args(argv)
    try:
        import nbclient, nbformat  # noqa: F401
    except ImportError: sys.exit('record_outputs: needs nbclient and nbformat (pip install -e ".[dev]")')
    paths = lesson_paths(a.notebooks + a.only)
    mode = 'long (slow cells, RUN_LONG on)' if a.long else 'slow cells too' if a.slow else 'default pass (no slow cells)'
    print(f'recording {len(paths)} notebooks: {mode}; cell timeout {a.timeout:.0f} s; figures at {a.dpi} dpi', flush=True)
    if a.out: a.out.mkdir(parents=True, exist_ok=True)
    spec, failed, total = kernel_spec_dir(), [], time.perf_counter()
    os.environ['JUPYTER_PATH'] = kernel_env(spec, False)['JUPYTER_PATH']   # where nbclient finds the kernel spec
    import nbformat
    for path in paths:
        before = git_changes()
        secs, nb, err, times, notes = record(path, a, spec)
        name = path.stem
        changed = sorted(l for l in git_changes() - before if not l.endswith(path.name))
        if changed: notes.append('warning: the run changed files in the checkout: ' + ', '.join(l[3:] for l in changed))
        if err:
            print(f'{name:28s} {secs:7.1f} s  FAILED {err}\n    {path.name} was left as it was', flush=True)
            for n in notes: print('    ' + n, flush=True)
            failed.append(name); continue
        dest = (a.out / path.name) if a.out else path
        nbformat.write(nb, dest)
        try: nbdev_clean(dest)
        except RuntimeError as e:
            print(f'{name:28s} FAILED {e}', flush=True); failed.append(name); continue
        n_out = sum(1 for c in nb.cells if c.cell_type == 'code' and c.outputs)
        slowest = max(times, default=(0, -1))
        print(f'{name:28s} {secs:7.1f} s  {n_out:3d} cells with outputs  {dest.stat().st_size / 2**20:5.2f} MB  '
              f'slowest: cell {slowest[1]} {slowest[0]:.1f} s', flush=True)
        for s, j in sorted(times, reverse=True):
            if s > 60: print(f'    cell {j:<3d} {s:7.1f} s  {first_line(nb.cells[j].source)}', flush=True)
        for n in notes: print('    ' + n, flush=True)
    folder = a.out or NBS
    size = size_of(folder.glob('*.ipynb'))
    print(f'total {time.perf_counter() - total:.0f} s; {folder}: {size / 2**20:.1f} MB in its notebooks', flush=True)
    if size > SIZE_LIMIT: print(f'warning: {folder} holds more than {SIZE_LIMIT / 2**20:.0f} MB of notebooks', flush=True)
    if failed: print(f'FAILED: {len(failed)} notebooks not recorded: {" ".join(failed)} (kernel logs in {spec})', flush=True)
    else: shutil.rmtree(spec, ignore_errors=True)
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
