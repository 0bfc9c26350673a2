"""Adapters that let existing training code report and checkpoint through the platform."""
