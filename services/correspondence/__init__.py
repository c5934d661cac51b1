"""Correspondence: cases (failure reports, water-quality and billing complaints, data-change
requests, questions), their messages and attachments, and the back office's answers."""
