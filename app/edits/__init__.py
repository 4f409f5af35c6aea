"""Editing Salesforce Contact fields from respond.io, reverting edits, their history."""
