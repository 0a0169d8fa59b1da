"""edge-digits: read strings of digits from a camera on a small Linux board.

Data flow (one module per step): sources → preprocess → segment → normalize → runtime (classify)
→ reader (Reading) → stabilize → outputs. Nothing in this package imports TensorFlow.
"""

__version__ = "0.1.0"
