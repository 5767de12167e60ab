"""Numbered schema migrations (NNNN_name.sql), applied in order by `appliance.core.db.migrate`
together with the migrations of the registered domains (one number sequence across all of them).

Never edit a migration that has shipped: add the next number. Each file runs in one transaction.
"""
