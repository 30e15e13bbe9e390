#!/usr/bin/env python
"""Real-browser test of the widgets lesson: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright.

Opens a copy of nbs/10_widgets.ipynb, runs every cell, then operates the attention explorer and the routing
explorer the way a reader would (a click on the patch pad, the raw/rollout toggle, a slider moved by keyboard,
the image drop-down) and checks, for each action, that
  - the status label, which only the Python callback writes, reports the new state (so the kernel re-drew), and
  - the figure on the page changed (element screenshots before and after differ).
Screenshots go to .ci/artifacts/. On failure: the traceback (and any traceback found in the notebook's
outputs) on stderr, a full-page screenshot, exit status 1.

Installs nothing: run `bash .ci/browser_setup` first (Chromium from apt, `pip install playwright`).
Usage: python .ci/browser_test.py [--notebook nbs/10_widgets.ipynb] [--timeout 900] [--headed]
"""
import argparse, json, os, re, secrets, signal, socket, subprocess, sys, tempfile, time, traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / '.ci' / 'artifacts'
CHROMIUM = '/usr/bin/chromium'
CHROME_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

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

def copy_notebook(src:Path, dst_dir:Path)->Path:
    "Copy the lesson without its `nbdev_export()` cell (it needs settings.ini and would write the library)."
    nb = json.loads(src.read_text())
    nb['cells'] = [c for c in nb['cells'] if 'nbdev_export(' not in ''.join(c['source'])]
    dst = dst_dir / src.name
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
    "Texts of outputs that hold a Python traceback."
    texts = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t for t in texts if 'Traceback (most recent call last)' in t or re.search(r'^\w+(Error|Exception)\b', t, re.M)]

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

class Widget:
    "One explorer on the page, found by its DOM class."
    def __init__(self, page, cls):
        self.page, self.root = page, page.locator(f'.{cls}').first
        self.root.wait_for(state='visible', timeout=30000)
        self.root.scroll_into_view_if_needed()
    def status(self)->str: return self.root.locator('.avit-status').inner_text().strip()
    def shot(self, name)->bytes:
        fig = self.root.locator('.avit-figure')
        fig.scroll_into_view_if_needed()
        return fig.screenshot(path=str(ART / f'{name}.png'))
    def act(self, name, action, expect:str, timeout=60):
        "Do `action`; wait for the callback's label to change and contain `expect`; check the picture changed."
        before_label, before_png = self.status(), self.shot(f'{name}_before')
        action()
        wait_for(lambda: self.status() != before_label and expect in self.status(), timeout,
                 f'{name}: the status label to change and contain {expect!r} (was {before_label!r})')
        self.page.wait_for_timeout(300)   # the image element swaps its blob once the new PNG arrives
        after = wait_for(lambda: (lambda s: s if s != before_png else None)(self.shot(f'{name}_after')), 15,
                         f'{name}: the figure to change on the page')
        log(f'{name}: ok -> {self.status()!r} ({len(before_png)} -> {len(after)} bytes of screenshot)')

    def check_pad(self, cls, color='rgb(0, 255, 255)'):
        "The patch pad marks exactly the cell clicked (in cyan)."
        cells = self.root.locator('.avit-pad-cell')
        marked = lambda: [c for c in cells.evaluate_all(
            f"els => els.filter(e => getComputedStyle(e).backgroundColor === '{color}').map(e => e.className)")]
        t0, m = time.time(), []
        while time.time() - t0 < 15:
            m = marked()
            if len(m) == 1 and cls in m[0].split(): break
            time.sleep(0.25)
        else:
            raise Failure(f'the patch pad should mark only {cls} in {color}; marked: {m}')
        log(f'patch pad marks {cls} only ({cells.count()} cells)')

def drive(page, args):
    run_all(page, args.timeout)
    page.screenshot(path=str(ART / '00_after_run_all.png'))

    # Each action picks a value other than the current one, so it must change the picture whatever state the
    # notebook's own (hidden) tests left the explorer in.
    att = Widget(page, 'avit-attention-explorer')
    att.act('01_attention_pad', lambda: att.root.locator('.avit-pad-2-5').click(), 'query (2, 5)')
    att.check_pad('avit-pad-2-5')
    mode = 'raw' if ', rollout:' in att.status() else 'rollout'
    att.act('02_attention_mode', lambda: att.root.get_by_role('button', name=mode, exact=True).click(), f', {mode}:')
    key, block = ('End', None) if att.status().startswith('block 0,') else ('Home', 'block 0,')
    def move_block():   # the keyboard on the slider's handle, as a reader would
        handle = att.root.locator('.avit-layer .noUi-handle')
        handle.focus()
        handle.press(key)
    att.act('03_attention_block_key', move_block, block or 'block ')

    rout = Widget(page, 'avit-routing-explorer')
    sel = rout.root.locator('.avit-image select')
    other = next(o for o in sel.locator('option').all_inner_texts() if o != sel.input_value())
    rout.act('04_routing_image', lambda: sel.select_option(label=other), f'{other}:')
    rout.act('05_routing_pad', lambda: rout.root.locator('.avit-pad-3-12').click(), 'token (3, 12)')
    rout.check_pad('avit-pad-3-12')
    for name, w in (('06_attention_explorer', att), ('07_routing_explorer', rout)):   # the whole widgets, for people
        w.root.scroll_into_view_if_needed()
        w.root.screenshot(path=str(ART / f'{name}.png'))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--notebook', default=str(ROOT / 'nbs' / '10_widgets.ipynb'))
    ap.add_argument('--timeout', type=float, default=900, help='seconds allowed for Run All')
    ap.add_argument('--headed', action='store_true')
    args = ap.parse_args()
    ART.mkdir(parents=True, exist_ok=True)
    for old in [*ART.glob('*.png'), *ART.glob('failure.txt')]: old.unlink()
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} is missing: run `bash .ci/browser_setup` first')
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit('the playwright package is missing: run `bash .ci/browser_setup` first')
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix='avit_browser_') as tmp:
        tmp = Path(tmp)
        (tmp / 'root').mkdir()
        nb = copy_notebook(Path(args.notebook), tmp / 'root')
        lab, page, ctx = Lab(tmp / 'root', tmp / 'home'), None, None
        try:
            lab.wait_up()
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(str(tmp / 'chromium'), executable_path=CHROMIUM,
                                                           headless=not args.headed, args=CHROME_ARGS,
                                                           viewport={'width': 1500, 'height': 1100})
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                page.set_default_timeout(30000)
                try:
                    page.goto(f'{lab.base}/lab/tree/{nb.name}?token={lab.token}')
                    page.locator('.jp-Notebook').first.wait_for(state='visible', timeout=120000)
                    drive(page, args)
                except BaseException:
                    try: page.screenshot(path=str(ART / 'failure.png'), full_page=True)
                    except Exception: pass
                    raise
                finally:
                    ctx.close()
        except BaseException as e:
            tb = traceback.format_exc()
            (ART / 'failure.txt').write_text(tb + '\n--- JupyterLab log ---\n' + lab.log_tail(80))
            print(tb, file=sys.stderr)
            print('--- JupyterLab log (tail) ---\n' + lab.log_tail(40), file=sys.stderr)
            lab.stop()
            sys.exit(1)
        lab.stop()
    log(f'PASS in {time.time() - t0:.0f} s; screenshots in {ART.relative_to(ROOT)}/')

if __name__ == '__main__':
    main()
