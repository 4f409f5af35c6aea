"""Emulators of the external services the integration talks to (Salesforce;
respond.io later), for tests, demos and benchmarks."""
