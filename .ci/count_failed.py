"""Count the notebooks that `nbdev_test` reports as failed in a log (0 when it reports none)."""
import sys
from pathlib import Path

log = Path(sys.argv[1]).read_text().splitlines()
try: start = next(i for i, l in enumerate(log) if 'Tests Failed On The Following Notebooks' in l)
except StopIteration: print(0); sys.exit()
print(sum(1 for l in log[start + 1:] if l.strip().endswith('.ipynb')))
