"""The reference ML pipeline: one module per DVC stage (see dvc.yaml)."""
