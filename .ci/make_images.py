#!/usr/bin/env python
"""Draw the README's pictures into images/readme/ with the lessons' own plotting functions.

    python .ci/make_images.py                  # all three
    python .ci/make_images.py routing          # only the routed image (after a new DiT checkpoint)
    python .ci/make_images.py routing --dit path/to/shapes_dit.safetensors   # from another checkpoint

- patch_grid.png: a photo cut into 16 x 16 patches, numbered in token order (`plot_patch_grid`, lesson 01);
- attention.png: the class token's attention rollout in the trained tiny ViT shipped with the package, on an
  "elephant" of the grey shapes it was trained on (`load_shapes_vit`, `plot_attention`, lessons 09a and 03a);
- routing.png: the route the trained tiny DiT shipped with the package takes on the same "elephant": its kept
  and skipped tokens at every node of the scale x depth grid, one token's path, the cost (`load_shapes_dit`,
  `plot_routing`, lessons 09b and 10). The DiT is read from the package's checkpoint (annotated_vit/checkpoints/), so a new
  checkpoint there needs only `python .ci/make_images.py routing`.

Figures are drawn at 100 dpi on matplotlib's defaults and saved as PNG; a picture over 150 KB is stored with a
palette of 256 colours. Each file's size is printed; the script exits 1 if one is still over 150 KB.
Run it with this checkout importable (`pip install -e .`, or PYTHONPATH set to the checkout).
"""
import argparse, io, os, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
OUT = root / 'images' / 'readme'
MAX_BYTES = 150_000
DPI = 100

def patch_grid():
    from annotated_vit.core import sample_image, Resize, CenterCrop, to_tensor
    from annotated_vit.patches import plot_patch_grid
    photo = to_tensor(CenterCrop(224)(Resize(224)(sample_image('chelsea'))))   # as in lesson 01
    return plot_patch_grid(photo, 16, title='224 x 224 pixels, 14 x 14 patches of 16 x 16')

def shapes_and_picks():
    from annotated_vit.data import ShapesDataset
    ds = ShapesDataset(32, img_size=64, seed=1, palette='gray')   # the palette the checkpoints were trained on (lesson 10)
    ant, elephant = (int((ds.groups == g).nonzero()[0]) for g in (0, 2))
    return ds, ant, elephant

def attention():
    from annotated_vit.experiments import load_shapes_vit
    from annotated_vit.attnmaps import attention_maps, plot_attention
    ds, _, elephant = shapes_and_picks()
    am = attention_maps(load_shapes_vit(), ds[elephant][0])
    return plot_attention(am, layer=am.depth - 1, query='cls', rollout=True)

def routing(dit_path=None):
    from annotated_vit.routing_experiments import load_shapes_dit
    from annotated_vit.widgets import routing_maps, plot_routing
    ds, _, elephant = shapes_and_picks()
    rm = routing_maps(load_shapes_dit(dit_path), ds[elephant][0])
    return plot_routing(rm, token=(8, 8), budget=1.0)   # the shipped DiT was trained at the cost of a PVTv2: mu = 1

PICTURES = {'patch_grid': patch_grid, 'attention': attention, 'routing': routing}

def save(fig, path: Path) -> int:
    "Save `fig` as PNG at DPI; if over MAX_BYTES, with 256 colours. Returns the file's size."
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=DPI, bbox_inches='tight', facecolor='white')
    im = Image.open(buf).convert('RGB')
    out = io.BytesIO()
    im.save(out, format='PNG', optimize=True)
    if out.tell() > MAX_BYTES:
        out = io.BytesIO()
        im.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(out, format='PNG', optimize=True)
    path.write_bytes(out.getvalue())
    return out.tell()

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='\n'.join(__doc__.split('\n')[1:]))
    p.add_argument('pictures', nargs='*', metavar='PICTURE', help=f"some of {', '.join(PICTURES)}; default: all")
    p.add_argument('--dit', type=Path, default=None, help='the DiT checkpoint for routing.png; default: the shipped one')
    a = p.parse_args(argv)
    bad = [n for n in a.pictures if n not in PICTURES]
    if bad: p.error(f"unknown picture {', '.join(bad)}: choose from {', '.join(PICTURES)}")
    os.environ.setdefault('ANNOTATED_VIT_FUSED', '0')   # the readable sparse code: same numbers, no C++ build
    import matplotlib
    matplotlib.use('Agg')
    matplotlib.rcdefaults()
    import matplotlib.pyplot as plt
    import torch
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    too_big = []
    for name in a.pictures or PICTURES:
        fig = routing(a.dit) if name == 'routing' else PICTURES[name]()
        n = save(fig, OUT / f'{name}.png')
        plt.close(fig)
        from PIL import Image
        w, h = Image.open(OUT / f'{name}.png').size
        print(f'{(OUT / name).relative_to(root)}.png: {w} x {h} px, {n / 1000:.0f} KB', flush=True)
        if n > MAX_BYTES: too_big.append(name)
    if too_big: print(f'over {MAX_BYTES // 1000} KB: {" ".join(too_big)}'); return 1
    return 0

if __name__ == '__main__': sys.exit(main())
