"""The serving layer (Redis, no PyTorch, no Streamlit).

- `server`: the embedded Redis 8 (+ Search + JSON) or `REDIS_URL`; cached clients.
- `keys`: every key and index name; the live pointer parsed into one object.
- `index`: the RedisVL schema, documents, the load lock, publish/verify/swap/clean-up.
- `filters`: validated filters -> RedisVL expressions and FT.SEARCH arguments (pure).
- `recommend`: the serving path (caches, one round trip, results).
- `export`: the live restaurants and users as JSON.
"""
