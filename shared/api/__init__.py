"""The public API's bodies: services render them, the gateway documents them in OpenAPI."""
