"""The data layer: restaurants, users, interactions, opening hours (no PyTorch, no Redis).

- `table`: the restaurants-table contract (columns, validation of one record); a leaf.
- `sources`: the user's file -> the cached download -> the download -> generated data.
- `synth`: the deterministic generated San Francisco (and Bay Area bench) restaurants.
- `hours`: opening-hours rules (docs/hours.md): parsing, open-at, closes-at, encoding.
- `users`: users files, generated users, the likes vocabulary and likes <-> cuisines.
- `interactions`: the planted-preference simulation (and its oracle), files, splits.
- `dataset`: everything above assembled for training and evaluation.
"""
