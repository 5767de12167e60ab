"""Numbered schema migrations (NNNN_name.sql), applied in order by `appliance.db.migrate`.

Never edit a migration that has shipped: add the next number. Each file runs in one transaction.
"""
