#!/usr/bin/env python
"""Round-trip a notebook through a plain-text 'percent' form, for editing lessons in a text editor.

    python .ci/nbtext.py to-py  nbs/01_patches.ipynb  /tmp/01_patches.py   # notebook -> text
    python .ci/nbtext.py to-nb  /tmp/01_patches.py    nbs/01_patches.ipynb # text -> notebook (outputs dropped)

Text form: a line `# %%` starts a code cell, `# %% [markdown]` a markdown cell whose lines carry a
leading `# ` (stripped on the way back). The notebook stays the source of truth: run `nbdev_clean`
and `nbdev_export` after writing one.
"""
import hashlib, json, sys
from pathlib import Path

MD, CODE = '# %% [markdown]', '# %%'

def nb_to_text(nb_path, out):
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source']).rstrip('\n')
        if c['cell_type'] == 'markdown':
            body = '\n'.join(('# ' + l) if l else '#' for l in src.split('\n'))
            parts.append(f'{MD}\n{body}')
        else: parts.append(f'{CODE}\n{src}')
    Path(out).write_text('\n\n'.join(parts) + '\n')

def _cell(kind, lines):
    while lines and not lines[-1].strip(): lines.pop()
    while lines and not lines[0].strip(): lines.pop(0)
    if kind == 'markdown': lines = [l[2:] if l.startswith('# ') else l[1:] if l.startswith('#') else l for l in lines]
    src = [l + '\n' for l in lines]
    if src: src[-1] = src[-1].rstrip('\n')
    c = dict(cell_type=kind, id=None, metadata={}, source=src)
    if kind == 'code': c.update(execution_count=None, outputs=[])
    return c

def text_to_nb(txt, out):
    cells, kind, buf = [], None, []
    for line in Path(txt).read_text().split('\n'):
        if line.startswith(CODE):
            if kind: cells.append(_cell(kind, buf))
            kind, buf = ('markdown' if line.strip() == MD else 'code'), []
        else: buf.append(line)
    if kind: cells.append(_cell(kind, buf))
    seen = set()
    for c in cells:  # ids from the cell's text, so regenerating an unchanged cell keeps its id (and the .py markers)
        h = hashlib.sha1(''.join(c['source']).encode()).hexdigest()
        while h[:8] in seen: h = hashlib.sha1(h.encode()).hexdigest()
        seen.add(h[:8]); c['id'] = h[:8]
    nb = dict(cells=cells, metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')),
              nbformat=4, nbformat_minor=5)
    Path(out).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__':
    cmd, src, dst = sys.argv[1:4]
    {'to-py': nb_to_text, 'to-nb': text_to_nb}[cmd](src, dst)
