"""Pydantic models of the Scaleway RDB v1 wire format, one module per resource.

Serialise responses with ``common.to_wire(model)``; see ``common`` for the omit-vs-null rules.
"""
