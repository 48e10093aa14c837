"""rolecall: AWS IAM roles, implemented locally and served over AWS's own wire protocols."""

__version__ = "0.1.0"
