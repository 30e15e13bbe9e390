#!/usr/bin/env python
"""Real-browser test of every explorer of the course: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright.

For each lesson in LESSONS, twice (on a quiet machine, then while CPU-bound processes keep every core busy):
open a copy of the lesson (without its slow cells), run every cell, and for every explorer it shows check that
  - it rendered: no traceback, no widget error box ("Click to show javascript error"), no browser console error;
  - every control, label, pad button and the status line is visible: inside its output area, not clipped by a
    parent's overflow, its text not truncated (bounding boxes, scrollWidth vs clientWidth);
  - the figure is shown at its pixel size (the img's CSS size equals its natural size: not stretched, not squeezed);
  - moving each control (sliders by keyboard, drop-downs, toggle buttons, check boxes), clicking the patch pad and
    uploading a picture change both the status line (written only by the kernel) and the figure's PNG bytes,
    and uploading a file that is not an image says so in the status line.
Screenshots of every explorer go to .ci/artifacts/ (<mode>-<lesson>-<n>-<explorer>.png); on failure, a page shot
and failure.txt. Prints one line per lesson and mode, then `browser: P passed, F failed`; exits 1 on any failure.

Installs nothing: run `bash .ci/browser_setup` first (Chromium from apt, `pip install playwright`).
Usage: python .ci/browser_test.py [--lessons 01_patches 10_widgets] [--modes quiet busy] [--headed]
"""
import argparse, json, os, re, secrets, signal, socket, subprocess, sys, tempfile, time, traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / '.ci' / 'artifacts'
CHROMIUM = '/usr/bin/chromium'
CHROME_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
# lesson -> how many explorers it shows. Adding a lesson with explorers is one line here.
LESSONS = {
    '01_patches': 1,           # patch explorer
    '03a_attention_maps': 2,   # attention explorer (raw / rollout) on a tiny ViT and on ViT-Ti/16 from the class token
    '04_windows': 1,           # window explorer
    '10_widgets': 6,           # attention (ViT, ViTDet), window, patch, routing (the shipped trained DiT, then random gates)
}
MODES = ('quiet', 'busy')
BUSY_S = 900   # a busy-loop process ends by itself after this many seconds, whatever happens to the test

def log(*a): print('[browser_test]', *a, flush=True)

# ------------------------------------------------------------------ JupyterLab in an isolated home
def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def lab_env(home:Path)->dict:
    "Environment with every Jupyter/IPython/matplotlib directory inside `home`, and the settings the test needs."
    env = dict(os.environ)
    for var, sub in [('JUPYTER_CONFIG_DIR', 'config'), ('JUPYTER_DATA_DIR', 'data'), ('JUPYTER_RUNTIME_DIR', 'runtime'),
                     ('JUPYTERLAB_SETTINGS_DIR', 'settings'), ('JUPYTERLAB_WORKSPACES_DIR', 'workspaces'),
                     ('IPYTHONDIR', 'ipython'), ('MPLCONFIGDIR', 'mpl')]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    settings = {   # user settings: no news pop-up, no autosave, every cell in the DOM (no virtual scrolling)
        '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false'},
        '@jupyterlab/docmanager-extension/plugin.jupyterlab-settings': {'autosave': False},
        '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'},
    }
    for rel, value in settings.items():
        p = home / 'settings' / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    env['PYTHONUNBUFFERED'] = '1'
    return env

def copy_notebook(src:Path, dst:Path)->Path:
    "Copy a lesson without its `nbdev_export()` cell (it needs settings.ini and would write the library) and its slow cells."
    nb = json.loads(src.read_text())
    nb['cells'] = [c for c in nb['cells'] if 'nbdev_export(' not in ''.join(c['source'])
                   and not re.search(r'^#\|\s*slow\b', ''.join(c['source']), re.M)]
    dst.write_text(json.dumps(nb))
    return dst

def children(pid:int)->list:
    "PIDs whose parent is `pid` (the kernels a Jupyter server started)."
    out = []
    for d in Path('/proc').iterdir():
        if d.name.isdigit():
            try:
                if int((d / 'stat').read_text().rsplit(')', 1)[1].split()[1]) == pid: out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out

class Lab:
    "A JupyterLab server on 127.0.0.1 with a random port and token, its home in a temp dir."
    def __init__(self, root:Path, home:Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        home.mkdir(parents=True, exist_ok=True)
        self.logf = open(home / 'lab.log', 'w')
        cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={self.port}',
               f'--IdentityProvider.token={self.token}', f'--ServerApp.root_dir={root}', '--allow-root',
               '--LabApp.news_url=None', '--ServerApp.port_retries=0']
        log('starting JupyterLab:', ' '.join(cmd[:3]), f'port {self.port}')
        self.proc = subprocess.Popen(cmd, env=lab_env(home), stdout=self.logf, stderr=subprocess.STDOUT)
        self.home = home

    @property
    def base(self): return f'http://127.0.0.1:{self.port}'

    def wait_up(self, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f'JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}')
            try:
                with urllib.request.urlopen(f'{self.base}/api/status?token={self.token}', timeout=2) as r:
                    if r.status == 200: return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f'JupyterLab did not answer within {timeout} s:\n{self.log_tail()}')

    def api(self, path, method='GET'):
        req = urllib.request.Request(f'{self.base}{path}', method=method, headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(req, timeout=20) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        "End every kernel, so the next lesson starts with the machine's cores to itself."
        for k in self.api('/api/kernels'): self.api(f"/api/kernels/{k['id']}", 'DELETE')

    def log_tail(self, n=40)->str:
        self.logf.flush()
        return '\n'.join((self.home / 'lab.log').read_text(errors='replace').splitlines()[-n:])

    def stop(self):
        if self.proc.poll() is None:
            kids = children(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)   # the server shuts its kernels down
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill(); self.proc.wait(5)
            for pid in kids:                        # a kernel left behind: end it by its PID
                try: os.kill(pid, signal.SIGKILL)
                except ProcessLookupError: pass
        self.logf.close()

# ------------------------------------------------------------------ the page
class Failure(AssertionError): pass

def wait_for(cond, timeout, what, interval=0.25):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v: return v
        time.sleep(interval)
    raise Failure(f'timed out after {timeout} s waiting for {what}')

def status_bar(page)->str:
    try: return page.locator('#jp-main-statusbar').inner_text(timeout=2000)
    except Exception: return ''

def kernel_idle(page)->bool:
    return bool(re.search(r'Python 3 \(ipykernel\)\s*\|\s*Idle', status_bar(page)))

def notebook_errors(page)->list:
    "Texts of outputs that hold a Python traceback, and widgets that failed to render."
    texts = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    errs = [t for t in texts if 'Traceback (most recent call last)' in t or re.search(r'^\w+(Error|Exception)\b', t, re.M)]
    for t in ('Click to show javascript error', 'Error displaying widget', 'Error rendering output'):
        n = page.get_by_text(t).count()
        if n: errs.append(f'{n} x "{t}" on the page')
    return errs

def prompts(page)->list:
    return [t.strip() for t in page.locator('.jp-CodeCell .jp-InputArea-prompt').all_inner_texts()]

def run_all(page, timeout):
    "Run every cell from the Run menu, check that it really started, wait for the end; fail on a traceback."
    started = lambda: any(p not in ('[ ]:', '') for p in prompts(page))
    for attempt in range(3):   # a Run All clicked while the kernel still initialises runs nothing, silently
        wait_for(lambda: kernel_idle(page), 120, 'the status bar to say "Python 3 (ipykernel) | Idle"')
        page.get_by_role('menuitem', name='Run', exact=True).click()
        page.get_by_role('menuitem', name=re.compile(r'^Run All Cells')).click()
        try:
            wait_for(started, 20, 'the first cell to start')
            break
        except Failure:
            if attempt == 2: raise
            log('Run All started nothing; trying again')
            page.keyboard.press('Escape')
    t0 = time.time()
    def done():
        ps = prompts(page)
        if notebook_errors(page): return True
        return kernel_idle(page) and not any('*' in p for p in ps) and ps and ps[-1] not in ('[ ]:', '')
    wait_for(done, timeout, 'Run All to finish')
    errs = notebook_errors(page)
    if errs: raise Failure('the notebook raised while running:\n' + '\n----\n'.join(errs))
    ps = prompts(page)
    if any(p in ('[ ]:', '') for p in ps):
        raise Failure(f'some cells did not run: prompts {ps}')
    log(f'notebook ran: {len(ps)} code cells in {time.time() - t0:.0f} s')

# ------------------------------------------------------------------ one explorer, driven like a reader would
CONTROLS_JS = """root => [...root.firstElementChild.children].map(el => {
  const cls = [...el.classList].find(c => c.startsWith('avit-')) || '';
  const kind = el.matches('.widget-hslider, .jupyter-widget-hslider') ? 'slider'
    : el.querySelector('select') ? 'dropdown' : el.matches('.widget-toggle-buttons, .jupyter-widget-toggle-buttons') ? 'toggle'
    : el.querySelector('input[type=checkbox]') ? 'checkbox' : el.matches('.widget-upload, .jupyter-widget-upload') ? 'upload' : 'other';
  return [cls, kind];
})"""

# Every control, label, pad button, the status line and the figure: visible, inside the output area, not clipped by
# a parent with overflow, text not truncated.
VISIBLE_JS = """root => {
  const area = root.closest('.jp-OutputArea-output') || root.parentElement, ar = area.getBoundingClientRect();
  const sel = '.widget-hslider, .jupyter-widget-hslider, select, .widget-toggle-button, .jupyter-widget-toggle-button, '
    + 'input[type=checkbox], .widget-label, .jupyter-widget-label, .widget-readout, .jupyter-widget-readout, button, '
    + '.avit-status, .avit-figure, .avit-pad';
  const bad = [], name = el => ([...el.classList].filter(c => /^(avit|widget|jupyter-widget)-/.test(c)).slice(0, 2).join('.')
    || el.tagName.toLowerCase()) + (el.innerText ? ' "' + el.innerText.trim().slice(0, 40) + '"' : '');
  const inside = (r, o) => r.left >= o.left - 1 && r.right <= o.right + 1 && r.top >= o.top - 1 && r.bottom <= o.bottom + 1;
  let n = 0;
  for (const el of root.querySelectorAll(sel)) {
    const st = getComputedStyle(el);
    const txt = (el.innerText || '').replace(/[\\u200b\\s]/g, '');
    if ((st.display === 'none' || el.offsetParent === null) && !txt) continue;   // an unused, empty description
    n++;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) { bad.push(name(el) + ': not shown (' + r.width + 'x' + r.height + ')'); continue; }
    if (!inside(r, ar)) bad.push(name(el) + ': outside its output area');
    for (let a = el.parentElement; a && a !== area; a = a.parentElement) {
      const s = getComputedStyle(a);
      if ((s.overflowX !== 'visible' || s.overflowY !== 'visible') && !inside(r, a.getBoundingClientRect())) {
        bad.push(name(el) + ': clipped by ' + name(a)); break; }
    }
    const text = el.matches('.widget-label, .jupyter-widget-label, .widget-readout, .jupyter-widget-readout, .avit-status, button, .widget-toggle-button, .jupyter-widget-toggle-button');
    if (text && txt && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 2 && st.overflowY !== 'visible'))
      bad.push(name(el) + ': text truncated (' + el.scrollWidth + ' > ' + el.clientWidth + ' px)');
  }
  const img = root.querySelector('img.avit-figure');
  const fig = img ? [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight] : null;
  return {bad, n, fig};
}"""

# FNV-1a of the figure's PNG bytes, fetched from the img's blob URL: proves the kernel sent a new picture.
HASH_JS = """async img => { const b = new Uint8Array(await (await fetch(img.src)).arrayBuffer()); let h = 2166136261;
  for (let i = 0; i < b.length; i++) { h ^= b[i]; h = Math.imul(h, 16777619) >>> 0; } return h + ':' + b.length; }"""

CYAN = 'rgb(0, 255, 255)'

class Explorer:
    "One explorer on the page: its root element (DOM class avit-explorer), its controls, status line and figure."
    def __init__(self, page, root, tag, wait):
        self.page, self.root, self.tag, self.wait = page, root, tag, wait
        self.name = next(c for c in (root.get_attribute('class') or '').split() if c.startswith('avit-') and c != 'avit-explorer')
        self.root.scroll_into_view_if_needed()
        self.fig = self.root.locator('img.avit-figure')
        self.actions = []

    def status(self)->str: return self.root.locator('.avit-status').inner_text().strip()
    def figure_hash(self)->str:
        wait_for(lambda: self.fig.evaluate('i => i.complete && i.naturalWidth > 0'), self.wait, f'{self.tag}: the figure to load')
        return self.fig.evaluate(HASH_JS)

    def check_layout(self, when):
        "Everything visible and readable; the figure at its pixel size."
        self.root.scroll_into_view_if_needed()
        r = self.root.evaluate(VISIBLE_JS)
        if r['bad']: raise Failure(f'{self.tag} ({when}): ' + '; '.join(r['bad']))
        nw, nh, cw, ch = r['fig']
        if abs(cw - nw) > 1 or abs(ch - nh) > 1:
            raise Failure(f'{self.tag} ({when}): the figure is {nw}x{nh} px but shown at {cw}x{ch}')
        return r['n'], (nw, nh)

    def act(self, what, action, changes_figure=True, expect=None):
        "Do `action`; the kernel-written status must change (and contain `expect`), and the figure's bytes too."
        before, h0 = self.status(), self.figure_hash()
        t0 = time.time()
        action()
        wait_for(lambda: self.status() != before and (expect is None or expect in self.status()), self.wait,
                 f'{self.tag} {what}: the status line to change' + (f' and say {expect!r}' if expect else '') + f' (was {before!r})')
        if changes_figure:
            wait_for(lambda: self.figure_hash() != h0, self.wait, f'{self.tag} {what}: the figure to change')
        self.actions.append(f'{what} {time.time() - t0:.1f}s')
        return True

    def move_slider(self, cls):
        "The keyboard on the slider's handle, as a reader would: the first key that changes the figure."
        el = self.root.locator(f'.{cls}')
        handle, readout = el.locator('.noUi-handle'), el.locator('.widget-readout, .jupyter-widget-readout')
        for key in ('End', 'Home', 'ArrowRight', 'ArrowLeft'):
            before, h0, st = readout.inner_text(), self.figure_hash(), self.status()
            handle.focus(); handle.press(key)
            self.page.wait_for_timeout(100)
            if readout.inner_text() == before: continue          # at that end already
            wait_for(lambda: self.status() != st, self.wait, f'{self.tag} {cls}: the status line to change after {key}')
            try:
                wait_for(lambda: self.figure_hash() != h0, min(self.wait, 8), f'{self.tag} {cls} {key}: the figure to change')
            except Failure:
                continue                                          # this value draws the same picture (a shift >= ws)
            self.actions.append(f'{cls}:{key}')
            return
        raise Failure(f'{self.tag}: no key on slider {cls} changed the figure')

    def drive(self, upload_ok:Path, upload_bad:Path):
        controls = self.root.evaluate(CONTROLS_JS)
        box = lambda cls: self.root.locator(f'.{cls} input[type=checkbox]')
        # A check box can switch other controls off (the class token as the query: the query sliders then change
        # nothing). So: uncheck the checked ones first, drive the rest, and check the others last.
        checked = [cls for cls, kind in controls if kind == 'checkbox' and box(cls).is_checked()]
        for cls in checked: self.act(f'{cls} unchecked', box(cls).click)
        for cls, kind in controls:
            if kind == 'checkbox':
                if cls not in checked: self.act(f'{cls} checked', box(cls).click)
                continue
            if kind == 'slider': self.move_slider(cls)
            elif kind == 'dropdown':
                sel = self.root.locator(f'.{cls} select')
                other = next(o for o in sel.locator('option').all_inner_texts() if o != sel.evaluate('s => s.options[s.selectedIndex].text'))
                self.act(f'{cls}={other}', lambda: sel.select_option(label=other))
            elif kind == 'toggle':
                b = self.root.locator(f'.{cls} button:not(.mod-active)').first
                self.act(f'{cls}={b.inner_text()}', b.click)
            elif kind != 'upload':
                raise Failure(f'{self.tag}: a control the test does not know how to drive: {cls} ({kind})')
        cells = self.root.locator('.avit-pad-cell')
        if cells.count():
            self.click_pad(cells)
        up = self.root.locator('.avit-upload')
        if up.count():   # last: a file that is not an image, then a picture, through the file chooser
            def choose(path):
                with self.page.expect_file_chooser() as fc: up.click()
                fc.value.set_files(str(path))
            self.act('upload of a text file', lambda: choose(upload_bad), changes_figure=False, expect='could not use')
            self.act('upload of a photo', lambda: choose(upload_ok))
            if 'could not use' in self.status(): raise Failure(f'{self.tag}: the photo was refused: {self.status()}')

    def click_pad(self, cells):
        "Click a pad cell that is not marked; it, and only it, turns cyan."
        n = cells.count()
        marked = lambda: cells.evaluate_all(f"els => els.map((e, i) => getComputedStyle(e).backgroundColor === '{CYAN}' ? i : -1).filter(i => i >= 0)")
        target = next(i for i in (n // 3 + 2, 2 * n // 3 + 1, 0) if i not in marked())
        self.act(f'pad cell {target}/{n}', cells.nth(target).click)
        wait_for(lambda: marked() == [target], self.wait, f'{self.tag}: the pad to mark only cell {target} (marks {marked()})')

    def screenshot(self, path):
        self.root.scroll_into_view_if_needed()
        self.root.screenshot(path=str(path))


# ------------------------------------------------------------------ lessons, quiet and busy
class CpuLoad:
    "One busy-loop process per core, each ending by itself after BUSY_S seconds; stopped by the test in a finally."
    def __init__(self, n=None):
        n = n or os.cpu_count() or 2
        code = f'import time\nt = time.time() + {BUSY_S}\nwhile time.time() < t: pass'
        self.procs = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(n)]
        log(f'busy: {n} busy-loop processes started (pids {[p.pid for p in self.procs]})')
    def stop(self):
        for p in self.procs:
            if p.poll() is None: p.kill()
            p.wait(10)
        log('busy: load stopped')

def run_lesson(page, lab, lesson, mode, nb, args, console):
    "Open the lesson's copy, run it, drive every explorer; returns a one-line summary or raises Failure."
    wait = 60 if mode == 'busy' else 30
    console.clear()
    page.goto(f'{lab.base}/lab/tree/nbs/{nb.name}?reset&token={lab.token}')   # reset: only this notebook open
    page.locator('.jp-Notebook').first.wait_for(state='visible', timeout=120000)
    t0 = time.time()
    run_all(page, args.timeout)
    roots = page.locator('.avit-explorer')
    want = LESSONS[lesson]
    wait_for(lambda: roots.count() >= want, wait, f'{want} explorers on the page (found {roots.count()})')
    if roots.count() != want: raise Failure(f'{lesson}: expected {want} explorers, found {roots.count()}')
    upload_bad = nb.parent / 'notes.txt'
    upload_bad.write_text('a file that is not a picture\n')
    done = []
    for i in range(want):
        ex = Explorer(page, roots.nth(i), f'{mode} {lesson} #{i} {{}}', wait)
        ex.tag = ex.tag.format(ex.name)
        n, size = ex.check_layout('as rendered')
        ex.drive(ROOT / 'images' / 'rocket.jpg', upload_bad)   # a photo no explorer shows before
        ex.check_layout('after driving')
        ex.screenshot(ART / f'{mode}-{lesson}-{i}-{ex.name.removeprefix("avit-")}.png')
        done.append(f'{ex.name.removeprefix("avit-")} ({n} elements, figure {size[0]}x{size[1]}, {len(ex.actions)} actions)')
        log(f'{mode} {lesson} #{i} {ex.name}: ok: ' + ', '.join(ex.actions))
    errs = notebook_errors(page)
    if errs: raise Failure(f'{lesson}: ' + '\n'.join(errs))
    if console: raise Failure(f'{lesson}: browser console errors:\n' + '\n'.join(console[:10]))
    return f'{len(done)} explorers in {time.time() - t0:.0f} s: ' + '; '.join(done)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--lessons', nargs='*', default=list(LESSONS), choices=list(LESSONS))
    ap.add_argument('--modes', nargs='*', default=list(MODES), choices=list(MODES))
    ap.add_argument('--timeout', type=float, default=600, help='seconds allowed for Run All of one lesson')
    ap.add_argument('--headed', action='store_true')
    args = ap.parse_args()
    ART.mkdir(parents=True, exist_ok=True)
    for old in [*ART.glob('*.png'), *ART.glob('failure*.txt')]: old.unlink()
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} is missing: run `bash .ci/browser_setup` first')
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit('the playwright package is missing: run `bash .ci/browser_setup` first')
    t0, results = time.time(), []
    with tempfile.TemporaryDirectory(prefix='avit_browser_') as tmp:
        tmp = Path(tmp)
        (tmp / 'root' / 'nbs').mkdir(parents=True)
        (tmp / 'root' / 'images').symlink_to(ROOT / 'images')   # lessons read ../images/ from nbs/
        lab, ctx, load = Lab(tmp / 'root', tmp / 'home'), None, None
        try:
            lab.wait_up()
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(str(tmp / 'chromium'), executable_path=CHROMIUM,
                                                           headless=not args.headed, args=CHROME_ARGS,
                                                           viewport={'width': 1500, 'height': 1100})
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                page.set_default_timeout(30000)
                console = []
                page.on('console', lambda m: m.type == 'error' and console.append(m.text))
                page.on('pageerror', lambda e: console.append(f'page error: {e}'))
                for mode in args.modes:
                    load = CpuLoad() if mode == 'busy' else None
                    try:
                        for lesson in args.lessons:
                            nb = copy_notebook(ROOT / 'nbs' / f'{lesson}.ipynb', tmp / 'root' / 'nbs' / f'{mode}_{lesson}.ipynb')
                            try:
                                results.append((mode, lesson, True, run_lesson(page, lab, lesson, mode, nb, args, console)))
                            except Exception as e:
                                tb = traceback.format_exc()
                                results.append((mode, lesson, False, str(e).splitlines()[0][:300]))
                                (ART / f'failure-{mode}-{lesson}.txt').write_text(tb + '\n--- JupyterLab log ---\n' + lab.log_tail(80))
                                try: page.screenshot(path=str(ART / f'failure-{mode}-{lesson}.png'), full_page=True)
                                except Exception: pass
                                print(tb, file=sys.stderr)
                            finally:
                                try: lab.shutdown_kernels()
                                except OSError as e: log(f'could not shut the kernels down: {e}')
                            log(f'{mode} {lesson}: {"PASS" if results[-1][2] else "FAIL"}: {results[-1][3]}')
                    finally:
                        if load: load.stop()
                ctx.close()
        except BaseException:
            tb = traceback.format_exc()
            (ART / 'failure.txt').write_text(tb + '\n--- JupyterLab log ---\n' + lab.log_tail(80))
            print(tb, file=sys.stderr)
            results.append(('setup', '-', False, tb.strip().splitlines()[-1]))
        finally:
            lab.stop()
    passed = sum(ok for *_, ok, _ in results)
    log(f'done in {time.time() - t0:.0f} s; screenshots in {ART.relative_to(ROOT)}/')
    for mode, lesson, ok, msg in results: print(f'  {"PASS" if ok else "FAIL"} {mode:5} {lesson:20} {msg}')
    print(f'browser: {passed} passed, {len(results) - passed} failed')
    sys.exit(0 if results and passed == len(results) else 1)

if __name__ == '__main__':
    main()
