"""Write README.md from nbs/index.ipynb without Quarto (which nbdev_readme needs and this machine lacks).

Markdown cells are copied as they are; code cells are shown as ```python blocks, except cells whose first
line is an nbdev directive such as `#| hide`. `--check` exits 1 when README.md differs from what it would write.
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / 'nbs' / 'index.ipynb').read_text())
parts = []
for c in nb['cells']:
    src = ''.join(c['source']).strip()
    if not src: continue
    if c['cell_type'] == 'markdown': parts.append(src)
    elif not src.startswith('#|'): parts.append(f'```python\n{src}\n```')
text = '<!-- generated from nbs/index.ipynb by .ci/make_readme.py: edit the notebook, not this file -->\n\n' + '\n\n'.join(parts) + '\n'
readme = root / 'README.md'
if '--check' in sys.argv:
    if not readme.exists() or readme.read_text() != text:
        sys.exit('README.md is out of date with nbs/index.ipynb: run `python .ci/make_readme.py`')
else: readme.write_text(text)
