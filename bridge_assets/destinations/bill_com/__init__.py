"""BILL (Bill.com) accounts receivable by its API v3: sessions, customers, invoices (archive for a void)."""
