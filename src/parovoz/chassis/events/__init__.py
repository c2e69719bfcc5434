"""Events: CloudEvents envelope, registry, outbox, inbox, consumers and brokers."""
