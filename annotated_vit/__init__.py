__version__ = "0.1.0"
# The optional "making it fast" lessons plug their code into the readable modules when the package is imported,
# so a user gets the fast paths with no extra call. Each has one switch: ANNOTATED_VIT_FAST=0 (ViTDet, lesson 06a)
# and ANNOTATED_VIT_FUSED=0 (DiT's sparse mode, lesson 08a) keep the readable code of lessons 06 and 08.
try: from . import vitdet_fast   # lesson 06a's fast ViTDet block plugs into vitdet; without it the readable one runs
except Exception as e: import warnings; warnings.warn(f"annotated_vit.vitdet_fast did not load ({e!r}); ViTDet runs its readable code")
try: from . import sparse   # lesson 08a's fast sparse mode; if it cannot load, lesson 08's readable one runs
except Exception as e: import warnings; warnings.warn(f"annotated_vit.sparse not loaded ({type(e).__name__}: {e})")
