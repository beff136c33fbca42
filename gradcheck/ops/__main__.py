"""`python -m gradcheck.ops`: print the op table of docs/architecture.md."""

from gradcheck.ops import catalog_table

print(catalog_table(), end="")
