-- Lists are paged by their sort key (keyset paging, decision 53): each list's index holds the
-- whole key, the tie-breaking number included, so that a page from any cursor is one range scan
-- of the customer's rows that stops after a page. They replace the indexes on (customer_id, day),
-- which they serve as well.
CREATE INDEX invoices_customer_issued ON invoices (customer_id, issued_on, invoice_number);
DROP INDEX invoices_customer;
CREATE INDEX payments_customer_booked ON payments (customer_id, booked_on, booking_id);
DROP INDEX payments_customer;
CREATE INDEX notes_customer_issued ON notes (customer_id, issued_on, note_number);
DROP INDEX notes_customer;
