#!/usr/bin/env python
"""The readable-first layout, checked (STYLE.md J):
1. imports follow the lesson order: no module and no lesson imports a module that a later lesson exports;
2. importing the model modules (vit, vitdet, routing) imports neither matplotlib nor ipywidgets;
3. no module is longer than a reader takes in one sitting (600 lines), and no C++ sits inside Python strings;
4. every public function, class and method of the package has a docstring.
Run from the repository root: `python .ci/check_layout.py`; it prints what is wrong and exits 1, else says 'layout: ok'."""
import ast, json, re, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
lib, nbs = root / 'annotated_vit', root / 'nbs'
MAX_LINES = 600
problems = []

def lesson_key(nb: str): return nb   # nbdev's order: 00_core < 00a_data < 01_... < 08_routing < 08a_...

# which notebook exports each module (from nbdev's cell headers `# %% ../nbs/XX.ipynb`)
owner = {}
for py in sorted(lib.glob('*.py')):
    if py.name.startswith('_'): continue
    m = re.search(r'^# %% \.\./nbs/([^ ]+)\.ipynb', py.read_text(), re.M)
    if m: owner[py.stem] = m.group(1)

def imported_modules(src: str, pkg_relative: bool):
    out = set()
    for m in re.finditer(r'^\s*(?:from\s+(\.|annotated_vit\.)([a-z0-9_]+)\s+import|import\s+annotated_vit\.([a-z0-9_]+))', src, re.M):
        name = m.group(2) or m.group(3)
        if name: out.add(name)
    return out

for mod, nb in owner.items():
    for dep in imported_modules((lib / f'{mod}.py').read_text(), True):
        if dep in owner and lesson_key(owner[dep]) > lesson_key(nb):
            problems.append(f'module {mod} ({nb}) imports {dep}, which a later lesson ({owner[dep]}) exports')
for nbp in sorted(nbs.glob('*.ipynb')):
    if nbp.stem == 'index': continue
    src = '\n'.join(''.join(c['source']) for c in json.loads(nbp.read_text())['cells'] if c['cell_type'] == 'code')
    for dep in imported_modules(src, False):
        if dep in owner and lesson_key(owner[dep]) > lesson_key(nbp.stem):
            problems.append(f'lesson {nbp.stem} imports annotated_vit.{dep}, which a later lesson ({owner[dep]}) exports')

for mod in ('vit', 'vitdet', 'routing'):
    if mod not in owner: continue
    code = f'import sys, annotated_vit.{mod}; print(",".join(m for m in ("matplotlib", "ipywidgets") if m in sys.modules))'
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=root)
    if r.returncode: problems.append(f'import annotated_vit.{mod} failed: {r.stderr.strip()[-300:]}')
    elif r.stdout.strip(): problems.append(f'import annotated_vit.{mod} imports {r.stdout.strip()}')

for py in sorted(lib.rglob('*.py')):
    if py.name == '_modidx.py': continue
    src = py.read_text(); n = len(src.splitlines())
    if n > MAX_LINES: problems.append(f'{py.relative_to(root)}: {n} lines (at most {MAX_LINES})')
    if re.search(r'#include\s*<', src): problems.append(f'{py.relative_to(root)}: C++ inside a Python string')
    tree = ast.parse(src)
    exported = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', '') == '__all__' for t in node.targets):
            exported = set(ast.literal_eval(node.value))
    def public(name): return not name.startswith('_') and (exported is None or name in exported)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and public(node.name):
            if not ast.get_docstring(node): problems.append(f'{py.stem}.{node.name}: no docstring')
            if isinstance(node, ast.ClassDef):
                for f in node.body:
                    if isinstance(f, ast.FunctionDef) and (not f.name.startswith('_')) and not ast.get_docstring(f):
                        problems.append(f'{py.stem}.{node.name}.{f.name}: no docstring')
        if isinstance(node, ast.FunctionDef) and any(getattr(d, 'id', '') == 'patch' for d in node.decorator_list):
            if not ast.get_docstring(node): problems.append(f'{py.stem}.{node.name} (@patch): no docstring')

print('\n'.join(problems) if problems else 'layout: ok')
sys.exit(1 if problems else 0)
