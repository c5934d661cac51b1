"""notifications: renders emails from templates (pl, uk, ru, en), queues and delivers them."""
