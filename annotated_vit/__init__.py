__version__ = "0.1.0"
try: from . import vitdet_fast   # lesson 06a's fast ViTDet block plugs into vitdet; without it the readable one runs
except Exception as e: import warnings; warnings.warn(f"annotated_vit.vitdet_fast did not load ({e!r}); ViTDet runs its readable code")
