"""Local stand-ins for services the tests cannot reach: an OpenAI-compatible server, Cloud Scheduler,
Secret Manager, and the slice of the Kite Connect client the adapters call."""
