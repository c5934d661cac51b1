-- A manager's partial grant reads a customer's account by contract and by invoice (decision 58):
-- the invoices of the granted contracts, the payments and notes that name those invoices, each a
-- range scan of the index of what it belongs to, in the order its list is paged in.
CREATE INDEX invoices_contract_issued ON invoices (contract_number, issued_on, invoice_number);
CREATE INDEX payments_invoice_booked ON payments (invoice_number, booked_on, booking_id)
    WHERE invoice_number IS NOT NULL;
CREATE INDEX notes_invoice_issued ON notes (invoice_number, issued_on, note_number)
    WHERE invoice_number IS NOT NULL;
