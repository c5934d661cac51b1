"""identity: accounts, credentials, registration, CAPTCHA, tokens, manager grants."""
