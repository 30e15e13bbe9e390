__version__ = "0.1.0"
try: from . import sparse   # lesson 08a's fast sparse mode; if it cannot load, lesson 08's readable one runs
except Exception as e: import warnings; warnings.warn(f"annotated_vit.sparse not loaded ({type(e).__name__}: {e})")
