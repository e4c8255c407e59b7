"""The journal: a write-ahead audit trail of every close, attempt, fill, book and fault."""
