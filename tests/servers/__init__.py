"""Loopback servers used by the judge tests and benchmark (llama.cpp, a scripted flaky server)."""
