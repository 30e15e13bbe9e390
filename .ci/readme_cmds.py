"""Print the README's set-up commands, one a line: the lines of the first ```sh block after 'Set up'."""
import re, sys
from pathlib import Path

text = Path(sys.argv[1]).read_text()
m = re.search(r'Set up.*?```(?:sh|bash)\n(.*?)```', text, re.S)
if not m: sys.exit('README has no "Set up" section with a ```sh block')
for line in m.group(1).splitlines():
    if line.strip() and not line.lstrip().startswith('#'): print(line.strip())
