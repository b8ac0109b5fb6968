"""The model layer (PyTorch): features, towers, training, metrics, baselines, evaluation.

- `features`: fitted feature encoders (scikit-learn), serialisable without pickle.
- `towers`: the two-tower `nn.Module`, its config and the retrieval loss.
- `metrics`: recall@k / NDCG@k and id -> row maps; a leaf.
- `train`: training loop, early stopping, refit, checkpoints (atomic save, safe load).
- `baselines`: oracle, random, popularity, content, matrix factorisation, the article.
- `evaluate`: every row on every segment; `evaluate_cli`.
"""
