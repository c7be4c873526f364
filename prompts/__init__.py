"""Prompt templates and the default taxonomy, shipped as package data (agent.prompts)."""
