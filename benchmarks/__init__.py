"""Reproducible performance measurements (`make bench`); not part of `make test`.

- `moto_env`: the in-process moto DynamoDB built like the tests' (infra/table.yaml), the
  frozen clock, and the meters (calls, items, read units, CPU outside moto).
- `accounts`: the small and the large trainer account, written through the app's own
  services and repository methods.
- `browser`: a cookie-keeping user agent over `chalice.test.Client`.
- `pages`: pages' round trips and CPU (`python -m benchmarks.pages`, `make bench`).
- `cpu`: where one week view's CPU goes (`make bench-cpu`).
- `dispatch`: the dispatcher's throughput against local fake providers, and DynamoDB calls
  per message (`make bench-dispatch`).
"""
