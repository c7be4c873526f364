"""Prompt templates and the default taxonomy, shipped as package data (agent.prompt_files)."""
